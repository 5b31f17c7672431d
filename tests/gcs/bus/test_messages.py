"""The bus's payloads, topics, broker URLs and state encoding, without a broker."""

from __future__ import annotations

import pytest

from gcs.bus.errors import MalformedMessage
from gcs.bus.messages import (
    AckMessage,
    AlertMessage,
    CommandMessage,
    DropMessage,
    Presence,
    StateMessage,
)
from gcs.bus.state import StateBook, StateEncoder, snapshot_of
from gcs.bus.topics import parse_topic
from gcs.bus.url import BrokerUrl
from planner.errors import InputError

MESSAGES = [
    StateMessage(worker="w1", seq=3, sent_at_s=1.5, full=True, base_seq=3,
                 fields={"lat_deg": 44.1, "mode": "AUTO", "armed": True, "battery_pct": 80}),
    StateMessage(worker="w1", seq=5, sent_at_s=2.5, full=False, base_seq=3,
                 fields={"lat_deg": None}),
    CommandMessage(id="abc", verb="land", console="c1", user="ops", sent_at_s=3.0),
    AckMessage(command_id="abc", ok=False, detail="refused", worker="w1", at_s=4.0),
    AlertMessage(id="w1-1", worker="w1", at_s=5.0, kind="link_lost", severity="warning",
                 message="vehicle 1 not heard for 6 s"),
    DropMessage(worker="w1", at_s=6.0, drop_id="D1", state="delivered", sortie_id="S1"),
    Presence(worker="w1", state="online", at_s=7.0, vehicles=(1, 2)),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_payloads_round_trip(msg: object) -> None:
    """Every message reads back equal from its own payload."""
    assert type(msg).from_payload("t", msg.to_payload()) == msg  # type: ignore[attr-defined]


@pytest.mark.parametrize(("kind", "payload", "named"), [
    (StateMessage, b"\xff\xfe", "UTF-8 JSON"),
    (StateMessage, b"[1, 2]", "JSON object"),
    (StateMessage, b'{"worker": "w", "seq": 1, "at": 1, "full": true, "base": 1, '
                   b'"f": {"lat_deg": "north"}}', "'lat_deg'"),
    (StateMessage, b'{"worker": "w", "seq": 1, "at": 1, "full": true, "base": 1, '
                   b'"f": {"warp": 9}}', "unknown state field 'warp'"),
    (StateMessage, b'{"worker": "w", "seq": 2, "at": 1, "full": true, "base": 1, "f": {}}',
     "'base'"),
    (StateMessage, b'{"worker": "w", "seq": 1, "at": NaN, "full": true, "base": 1, "f": {}}',
     "'at'"),
    (CommandMessage, b'{"id": "x", "verb": "rtl", "console": "c", "user": "", "at": 1}',
     "'user'"),
    (AckMessage, b'{"command_id": "x", "ok": "yes", "detail": "d", "worker": "w", "at": 1}',
     "'ok'"),
    (AlertMessage, b'{"id": "a", "worker": "w", "at": 1, "kind": "k", "severity": "doom", '
                   b'"message": "m"}', "'severity'"),
    (Presence, b'{"worker": "w", "state": "online", "vehicles": [0]}', "'vehicles'"),
    (Presence, b"x" * 20_000, "at most 16384 bytes"),
])
def test_malformed_payloads_are_refused_naming_the_field(kind: type, payload: bytes,
                                                         named: str) -> None:
    """A payload that is not its message is refused with the field and what was wanted."""
    with pytest.raises(MalformedMessage) as caught:
        kind.from_payload("dropline/v1/hub/a/vehicle/1/x", payload)  # type: ignore[attr-defined]
    assert named in str(caught.value) and "dropline/v1/hub/a/vehicle/1/x" in str(caught.value)


@pytest.mark.parametrize("topic", [
    "dropline/v1/hub/a/vehicle/0/state", "dropline/v1/hub/a/vehicle/x/state",
    "dropline/v1/hub/a/vehicle/1/teleport", "other/v1/hub/a/vehicle/1/state",
    "dropline/v1/hub/a/worker/w/state", "dropline/v1/hub/a/vehicle/1"])
def test_foreign_topics_are_refused(topic: str) -> None:
    """Topics outside the bus's table are refused."""
    with pytest.raises(MalformedMessage):
        parse_topic(topic)


@pytest.mark.parametrize(("url", "named"), [
    ("http://u:p@h:1883", "mqtt://"), ("mqtt://u:p@:1883", "host"),
    ("mqtt://u:p@h:99999", "--broker"), ("mqtt://u:p@h:0", "port"),
    ("mqtt://u:p@h:1883/topic", "path"), ("mqtt://u:p@h:x", "--broker")])
def test_bad_broker_urls_are_refused(url: str, named: str) -> None:
    """A broker URL that is not mqtt://USER:PASS@HOST:PORT is an input error naming why."""
    with pytest.raises(InputError) as caught:
        BrokerUrl.parse(url, env={})
    assert named in str(caught.value) and caught.value.field == "--broker"


def test_password_from_the_environment_and_never_shown() -> None:
    """Without a password in the URL the environment's is used; neither str nor repr shows
    it."""
    url = BrokerUrl.parse("mqtt://worker-a@broker.example", env={
        "DROPLINE_BROKER_PASSWORD": "hunter22"})
    assert (url.host, url.port, url.username, url.password) == \
        ("broker.example", 1883, "worker-a", "hunter22")
    assert "hunter22" not in str(url) + repr(url)


def test_deltas_complete_the_last_snapshot_for_a_late_console() -> None:
    """A console that missed the messages between a full snapshot and the latest one still
    holds the whole state; a repeated or older message is ignored."""
    enc = StateEncoder("w1", full_every_s=10.0, keepalive_s=2.0)
    still = {"armed": True, "satellites": 10, "gps_fix_type": 6, "ekf_ok": True,
             "system_status": 4, "alt_rel_m": 30.0}
    m1 = enc.encode({"lat_deg": 1.0, "mode": "AUTO", "battery_pct": 90, **still}, now_s=0.0)
    m2 = enc.encode({"lat_deg": 1.1, "mode": "RTL", "battery_pct": 90, **still}, now_s=1.0)
    m3 = enc.encode({"lat_deg": 1.2, "mode": "RTL", "battery_pct": 89, **still}, now_s=1.5)
    assert m1 is not None and m2 is not None and m3 is not None
    assert not m3.full and dict(m3.fields) == {"lat_deg": 1.2, "mode": "RTL", "battery_pct": 89}
    keep = enc.encode({"lat_deg": 1.2, "mode": "RTL", "battery_pct": 89, **still}, now_s=3.6)
    assert keep is not None and keep.full   # settled: a new snapshot instead of a keep-alive
    keep = enc.encode({"lat_deg": 1.2, "mode": "RTL", "battery_pct": 89, **still}, now_s=5.7)
    assert keep is not None and not keep.full and not keep.fields   # an empty keep-alive
    book = StateBook()
    book.apply("a", 1, m1)
    heard = book.apply("a", 1, m3)   # m2 was missed
    assert heard is not None and dict(heard.fields) == \
        {"lat_deg": 1.2, "mode": "RTL", "battery_pct": 89, **still}
    assert book.apply("a", 1, m2) is None
    snap = snapshot_of(heard, now_wall_s=4.5, now_mono_s=100.0)
    assert (snap.mode, snap.lat_deg, snap.battery_pct) == ("RTL", 1.2, 89)
    assert snap.heartbeat_age_s == pytest.approx(3.0)   # sent at 1.5, now 4.5
