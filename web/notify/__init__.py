"""Telling recipients about their parcels: out for delivery, a moved ETA, delivered, failed.

A recipient is the ``phone`` and/or ``email`` of a drop in the scenario's drops CSV. While the
console runs, :class:`~web.notify.service.NotifyService` reads every parcel's state and ETA
(:mod:`web.deliveries`: the run in progress and the flight log) and turns its changes into
events, each with a stable id made from the parcel and the event (``<plan>/<drop>/out/0``):

- ``out_for_delivery``: the parcel's sortie is on its way (again, after a failure);
- ``eta_changed``: its ETA moved by more than the margin since the last ETA told;
- ``delivered``: its first delivery (final: nothing follows);
- ``failed``: the delivery failed, with the reason and what happens next.

Each event is written once per channel to the ``notifications`` outbox (unique on event id and
channel) before anything is sent, and the next events are derived from that outbox, so a
restart neither loses an event nor tells one twice. Sending retries with a growing delay; a
notification that keeps failing (or that the receiver refuses outright) is kept as a dead
letter that an operator can list and queue again. Channels (:mod:`web.notify.channels`): a
webhook signed with HMAC-SHA256, and e-mail over SMTP. Settings: :mod:`web.notify.config`.
"""
