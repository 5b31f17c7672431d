"""Ground-control state and commands as MQTT messages: the bus between ``dropline worker``
processes (which own the MAVLink links of one hub's vehicles) and stateless consoles
(``dropline serve --broker``).

Topics
------
Every topic starts with ``dropline/v1/hub/<hub>/``; ``<sysid>`` is the vehicle's MAVLink system
id (unique across hubs), ``<worker>`` a worker's id. Payloads are compact JSON objects (UTF-8,
at most 16 KiB); times are Unix seconds of the sender's clock. A receiver logs and drops a
payload that does not match its topic (:class:`~gcs.bus.errors.MalformedMessage`).

=========================================  ===============  ===  =========  ========================
topic (after ``dropline/v1/hub/<hub>``)    direction        QoS  retained   payload fields
=========================================  ===============  ===  =========  ========================
``/vehicle/<sysid>/state``                 worker->console  1/0  full ones  ``worker``, ``seq`` (per
                                                                            worker and vehicle),
                                                                            ``at`` (s), ``full``,
                                                                            ``base`` (``seq`` of the
                                                                            last full snapshot),
                                                                            ``f`` (the state fields
                                                                            below)
``/vehicle/<sysid>/alert``                 worker->console  1    no         ``id``, ``worker``,
                                                                            ``at`` (s), ``kind``,
                                                                            ``severity`` (info,
                                                                            warning, critical),
                                                                            ``message``, ``action``,
                                                                            ``sortie_id``
``/vehicle/<sysid>/drop``                  worker->console  1    no         ``worker``, ``at`` (s),
                                                                            ``drop_id``, ``state``,
                                                                            ``sortie_id``
``/vehicle/<sysid>/command``               console->worker  1    no         ``id``, ``verb`` (pause,
                                                                            resume, rtl, land;
                                                                            accept: a vehicle
                                                                            waiting on a
                                                                            listening link),
                                                                            ``console`` (its id),
                                                                            ``user`` (who sent it),
                                                                            ``at`` (s)
``/vehicle/<sysid>/ack``                   worker->console  1    no         ``command_id``, ``ok``,
                                                                            ``detail``, ``worker``
                                                                            (who executed it),
                                                                            ``at`` (s)
``/worker/<worker>/presence``              worker->all      1    yes        ``worker``, ``state``
                                                                            (online; offline, also
                                                                            the last will), ``at``
                                                                            (s; None in the will),
                                                                            ``vehicles`` (system
                                                                            ids), ``unconfirmed``
                                                                            (system ids waiting on
                                                                            a listening link)
``/run/<run>/request``                     console->worker  1    yes (*)    ``id`` (= ``<run>``),
                                                                            ``plan_id``,
                                                                            ``plan_key``, ``plan``
                                                                            (the plan.json text),
                                                                            ``vehicles`` (plan
                                                                            vehicle -> system id),
                                                                            ``console``, ``user``,
                                                                            ``at`` (s),
                                                                            ``plan_path``,
                                                                            ``reset_battery``,
                                                                            ``upload`` (true:
                                                                            upload and verify
                                                                            only)
``/run/<run>/progress``                    worker->console  1    no         ``worker``, ``at`` (s),
                                                                            ``state`` (joined,
                                                                            gained, ready, lost,
                                                                            ended, left, refused,
                                                                            verified,
                                                                            not_verified),
                                                                            ``run_id`` (the flight
                                                                            log's), ``sysid``,
                                                                            ``detail``
=========================================  ===============  ===  =========  ========================

(*) A run request (not an upload request) is retained while its run flies, and cleared (an empty
retained message) by a console once the run is over.

Trust: a worker's vehicle first heard on one of its listening links (``udpin:``) is no vehicle
until an operator accepts it through a console (an ``accept`` command, answered by the worker it
waits on); until then it is listed in the worker's presence as ``unconfirmed`` and its packets
are ignored, as on a console's own links.

State: a full snapshot (``full`` true, QoS 1, retained: a console starting later gets it at
once) every 30 s, and as soon as more than a third of the fields changed since the last one;
between them, about twice a second per vehicle (2.5 at most) and only when something
changed (at least every 2 s as a keep-alive), a message (QoS 0, not retained) with the fields
that differ from the last full snapshot, so that the last snapshot plus any later message give
the whole state. State fields (:data:`gcs.bus.messages.STATE_FIELDS`; None: not reported):
``lat_deg``, ``lon_deg`` (WGS84, 6 decimals), ``alt_amsl_m``, ``alt_rel_m`` (above home),
``alt_agl_m`` (above the worker's DEM), ``groundspeed_m_s``, ``climb_m_s`` (0.1),
``heading_deg`` (1), ``battery_pct``, ``battery_consumed_mah``, ``battery_voltage_v``,
``mode``, ``armed``, ``system_status``, ``mission_seq``, ``mission_total``,
``last_reached_seq``, ``gps_fix_type``, ``satellites``, ``ekf_ok``, ``home_lat_deg``,
``home_lon_deg``, ``home_alt_amsl_m``, ``fence_breached``, ``last_text``, ``hb_age_s`` (age of
the last heartbeat when sent, whole s, 0 under 2 s), ``loss_rate`` (0..1), ``terrain_amsl_m``,
``terrain_agl_m``, ``terrain_pending``, ``terrain_loaded`` (the vehicle's TERRAIN_REPORT),
``speedup`` (vehicle s per wall s), ``link_url`` (the worker's link).

Runs (:mod:`gcs.bus.runs`): a console uploads a verified plan version by publishing a run request
with ``upload`` true (each worker uploads and verifies the first sortie still to fly of every
requested vehicle it owns and reports each one ``verified`` or ``not_verified``), and starts it by
publishing the run request; it carries the whole ``plan.json`` (so the workers need no file of the
console's; a request is at most 1 MiB, every other payload 16 KiB) and the system id flying each
plan vehicle. The terrain and drone types come from each worker's own ``--scenario`` folder, which
must be the plan's scenario (or one with the same terrain and drone types). Every worker of the hub
joins the plan's shared run in the flight-log database it shares with the consoles
(:mod:`gcs.fleet.shared`) and flies the vehicles it owns, by the same lease as their telemetry; a
dead worker's vehicles are taken over with their flights in the air. Workers report their part on
the run's progress topic and publish the delivery events of the vehicles they own on the vehicles'
``drop`` topics; consoles read the run's state (drops, flights, alerts, its end) from the shared
database.

A command is answered by exactly one ack naming the worker that executed it; a repeated
delivery of the same command ``id`` gets the same answer, a command older than 30 s is refused.

Security (:mod:`gcs.bus.broker_config`): Mosquitto listens on 127.0.0.1, refuses anonymous
clients, and its ACL lets user ``worker-<hub>`` publish only its hub's state, alert, drop, ack
and presence topics and read its hub's commands, and user ``console`` publish only command
topics and read the rest; run requests are published by consoles only, and run progress by
the hub's workers only.
"""

from gcs.bus.broker_config import BrokerFiles as BrokerFiles
from gcs.bus.broker_config import write_broker_config as write_broker_config
from gcs.bus.client import BusClient as BusClient
from gcs.bus.client import Will as Will
from gcs.bus.errors import BrokerUnreachable as BrokerUnreachable
from gcs.bus.errors import BusError as BusError
from gcs.bus.errors import MalformedMessage as MalformedMessage
from gcs.bus.messages import AckMessage as AckMessage
from gcs.bus.messages import AlertMessage as AlertMessage
from gcs.bus.messages import CommandMessage as CommandMessage
from gcs.bus.messages import DropMessage as DropMessage
from gcs.bus.messages import Presence as Presence
from gcs.bus.messages import RunProgress as RunProgress
from gcs.bus.messages import RunRequest as RunRequest
from gcs.bus.messages import StateMessage as StateMessage
from gcs.bus.state import StateBook as StateBook
from gcs.bus.state import StateEncoder as StateEncoder
from gcs.bus.url import BrokerUrl as BrokerUrl
from gcs.bus.worker import HubWorker as HubWorker
