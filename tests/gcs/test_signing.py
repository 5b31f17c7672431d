"""MAVLink 2 signing: keys, SETUP_SIGNING against the built-in simulator, unsigned commands
refused, forwarded clients re-signed, and a signed ``dropline fly``."""

from __future__ import annotations

import dataclasses
import hashlib
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dropline.cli import main
from gcs import commands
from gcs import mavlink as mav
from gcs.errors import LinkTimeout, SigningError
from gcs.forward import Forwarder, OutputSpec
from gcs.link import Link
from gcs.signing import (
    KeyStore,
    clear_signing,
    enable_fleet_signing,
    enable_signing,
    key_from_passphrase,
    parse_key,
    read_key_file,
)
from gcs.transfer import Retry, Target
from planner.errors import InputError
from planner.io.planfile import write_plan_json
from tests.gcs import helpers
from tests.gcs.helpers import SPEEDUP, tutorial_case
from tests.helpers.ports import free_udp_port
from tests.helpers.waiting import wait_until

_D = mav.dialect
KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
QUICK = Retry(timeout_s=0.4, tries=2)
fleet_sim = helpers.fleet_sim


def unsigned_set_mode(mode: str, sysid: int = 1) -> bytes:
    """A COMMAND_LONG DO_SET_MODE packed without a signature, as a keyless station sends it."""
    codec = mav.codec(mav.GCS_SYSTEM_ID, mav.GCS_COMPONENT_ID)
    msg = codec.command_long_encode(sysid, 1, _D.MAV_CMD_DO_SET_MODE, 0,
                                    _D.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
                                    mav.COPTER_MODES[mode], 0, 0, 0, 0, 0)
    return bytes(msg.pack(codec))


@pytest.mark.parametrize(("text", "key"), [
    ("00" * 32, bytes(32)),
    (KEY_A.hex(), KEY_A),
    (KEY_A.hex().upper() + "\n", KEY_A),
    ("correct horse", hashlib.sha256(b"correct horse").digest()),
    ("  spaced out  ", hashlib.sha256(b"spaced out").digest()),
    ("g" * 64, hashlib.sha256(b"g" * 64).digest()),
])
def test_keys_parse_as_hex_or_passphrase(text: str, key: bytes) -> None:
    """64 hex digits are the key itself; anything else is a passphrase hashed as MAVProxy does."""
    assert parse_key(text) == key


def test_empty_passphrase_is_refused() -> None:
    """An empty passphrase would make a guessable key."""
    with pytest.raises(InputError):
        key_from_passphrase("")


def test_key_store_keeps_one_random_key_per_vehicle(tmp_path: Path) -> None:
    """Keys are made once per system id, kept across instances, private to the owner."""
    store = KeyStore.beside(tmp_path / "log" / "fly.db")
    assert store.path == tmp_path / "log" / "fly-signing.json"
    k1, k2 = store.key_for(1), store.key_for(2)
    assert len(k1) == len(k2) == 32 and k1 != k2
    again = KeyStore(store.path)
    assert again.key_for(1) == k1 and again.keys() == {1: k1, 2: k2}
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert isinstance(read_key_file(store.path), KeyStore)


@pytest.mark.parametrize(("content", "expected"), [
    (KEY_A.hex() + "\n", KEY_A),
    ("\nmy pass phrase\nignored\n", key_from_passphrase("my pass phrase")),
])
def test_key_file_holds_one_key(tmp_path: Path, content: str, expected: bytes) -> None:
    """A key file's first non-empty line is the key for every vehicle."""
    path = tmp_path / "key"
    path.write_text(content)
    assert read_key_file(path) == expected


@pytest.mark.parametrize("content", ["", "\n \n", "{not json"])
def test_unusable_key_file_is_an_input_error(tmp_path: Path, content: str) -> None:
    """Empty files and broken stores are refused with the file named."""
    path = tmp_path / "key"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_key_file(path)
    assert info.value.path == str(path)


@pytest.mark.sitl
def test_unsigned_command_is_refused_once_a_key_is_set(sim: Any, link_to: Any) -> None:
    """After SETUP_SIGNING the vehicle ignores an unsigned mode change and obeys a signed one."""
    fleet = sim()
    link: Link = link_to(fleet.connection_strings[0])
    enable_signing(link, [1], KEY_A)
    assert link.signing_key == KEY_A
    before = fleet.vehicle(0).snapshot().mode
    with link.subscribe(lambda m: m.get_type() == "COMMAND_ACK") as acks:
        link.send_raw(unsigned_set_mode("GUIDED"))
        assert acks.get(1.0) is None
    assert fleet.vehicle(0).snapshot().mode == before != "GUIDED"
    commands.set_mode(link, Target(sysid=1), "GUIDED")
    assert fleet.vehicle(0).snapshot().mode == "GUIDED"


@pytest.mark.sitl
def test_cleared_signing_takes_unsigned_commands_again(sim: Any, link_to: Any) -> None:
    """After clear_signing neither side signs and an unsigned command is obeyed."""
    fleet = sim()
    link: Link = link_to(fleet.connection_strings[0])
    enable_signing(link, [1], KEY_A)
    clear_signing(link, [1])
    assert link.signing_key is None
    with link.subscribe(lambda m: m.get_type() == "COMMAND_ACK") as acks:
        link.send_raw(unsigned_set_mode("LOITER"))
        ack = acks.get(2.0)
    assert ack is not None and ack.result == _D.MAV_RESULT_ACCEPTED
    assert fleet.vehicle(0).snapshot().mode == "LOITER"


@pytest.mark.sitl
def test_vehicle_holding_another_key_is_reported_and_its_key_still_works(
        sim: Any, link_to: Any) -> None:
    """A second station with another key gets SigningError; with the vehicle's key it signs."""
    fleet = sim()
    first: Link = link_to(fleet.connection_strings[0])
    enable_signing(first, [1], KEY_A)
    first.close()
    second: Link = link_to(fleet.connection_strings[0])
    with pytest.raises(SigningError) as info:
        enable_signing(second, [1], KEY_B, timeout_s=0.5, tries=2)
    assert info.value.sysid == 1
    with pytest.raises(LinkTimeout):
        commands.set_mode(second, Target(sysid=1), "LOITER", QUICK)
    enable_signing(second, [1], KEY_A)
    commands.set_mode(second, Target(sysid=1), "LOITER")
    assert fleet.vehicle(0).snapshot().mode == "LOITER"


@pytest.mark.sitl
def test_fleet_signing_stores_one_key_per_link(sim: Any, link_to: Any, tmp_path: Path) -> None:
    """Each vehicle gets its own stored key; a second run reuses it and still commands."""
    fleet = sim(2)
    links = [link_to(url) for url in fleet.connection_strings]
    store = KeyStore(tmp_path / "keys.json")
    keys = enable_fleet_signing({1: links[0], 2: links[1]}, store)
    assert keys == store.keys() and keys[1] != keys[2]
    for link in links:
        link.close()
    again = [link_to(url) for url in fleet.connection_strings]
    assert enable_fleet_signing({1: again[0], 2: again[1]}, KeyStore(store.path)) == keys
    for sysid, link in ((1, again[0]), (2, again[1])):
        commands.set_mode(link, Target(sysid=sysid), "GUIDED")


@pytest.mark.sitl
@pytest.mark.parametrize("read_only", [False, True])
def test_forwarded_client_is_re_signed_unless_read_only(sim: Any, link_to: Any,
                                                      read_only: bool) -> None:
    """An unsigned client's mode change reaches a signing vehicle through a read-write output
    (signed there on its behalf) and never through a read-only one."""
    fleet = sim(speedup=5.0)
    link: Link = link_to(fleet.connection_strings[0])
    enable_signing(link, [1], KEY_A)
    port = free_udp_port()
    client = mav.connect(f"udpin:127.0.0.1:{port}", source_system=255, source_component=0)
    with Forwarder([link], [OutputSpec(url=f"udp:127.0.0.1:{port}",
                                       read_only=read_only)]) as forwarder:
        assert client.recv_match(type="HEARTBEAT", blocking=True, timeout=5) is not None
        client.mav.command_long_send(1, 1, _D.MAV_CMD_DO_SET_MODE, 0,
                                     _D.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
                                     mav.COPTER_MODES["GUIDED"], 0, 0, 0, 0, 0)
        ack = client.recv_match(type="COMMAND_ACK", blocking=True, timeout=2)
        [stats] = forwarder.stats()
    client.close()
    if read_only:
        assert ack is None and stats.dropped == 1
        assert fleet.vehicle(0).snapshot().mode != "GUIDED"
    else:
        assert ack is not None and ack.result == _D.MAV_RESULT_ACCEPTED
        wait_until(lambda: fleet.vehicle(0).snapshot().mode == "GUIDED", 5, "GUIDED")


@pytest.mark.sitl
@pytest.mark.slow
def test_signed_fly_delivers_and_unsigned_stations_are_refused(fleet_sim: Any,
                                                              tmp_path: Path) -> None:
    """``dropline fly --sign --out`` keys the vehicle, flies the sortie to delivery while a
    client watches through the output, keeps the key beside the log; afterwards a keyless
    station is ignored and the stored key commands."""
    case = tutorial_case(3)
    sortie = min(case.plan.sorties, key=lambda s: (len(s.drop_ids), len(s.mission)))
    plan_dir = tmp_path / "plan"
    plan_dir.mkdir()
    write_plan_json(plan_dir / "plan.json", dataclasses.replace(case.plan, sorties=(sortie,)))
    fleet = fleet_sim(case, 1)
    db = tmp_path / "log" / "fly.db"
    port = free_udp_port()
    watcher = mav.connect(f"udpin:127.0.0.1:{port}")
    highest = [-1.0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            msg = watcher.recv_match(type="GLOBAL_POSITION_INT", blocking=True, timeout=0.2)
            if msg is not None:
                highest[0] = max(highest[0], msg.relative_alt / 1000)

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        code = main(["fly", str(plan_dir), "--connect", fleet.connection_strings[0],
                     "--db", str(db), "--speedup", str(SPEEDUP), "--reset-battery",
                     "--timeout", "120", "--no-progress", "--sign",
                     "--out", f"udp:127.0.0.1:{port},ro"])
    finally:
        done.set()
        thread.join()
        watcher.close()
    assert code == 0
    assert highest[0] > 10.0  # the watching client followed the flight
    assert fleet.vehicle(0).snapshot().gripper_released_count == len(sortie.drop_ids)
    key = KeyStore.beside(db).keys()[1]
    with Link(fleet.connection_strings[0]) as keyless:
        assert keyless.wait(lambda m: m.get_type() == "HEARTBEAT", 5) is not None
        with pytest.raises(LinkTimeout):
            commands.set_mode(keyless, Target(sysid=1), "LOITER", QUICK)
        enable_signing(keyless, [1], key)
        time.sleep(0.2)
        commands.set_mode(keyless, Target(sysid=1), "LOITER")


@pytest.mark.sitl
def test_rtl_command_signs_with_a_passphrase_file(sim: Any, link_to: Any,
                                                 tmp_path: Path) -> None:
    """``dropline rtl --sign-key-file`` commands a vehicle keyed with that passphrase."""
    fleet = sim()
    key_file = tmp_path / "passphrase"
    key_file.write_text("rural deliveries\n")
    first: Link = link_to(fleet.connection_strings[0])
    enable_signing(first, [1], key_from_passphrase("rural deliveries"))
    first.close()
    code = main(["rtl", "--connect", fleet.connection_strings[0], "--sysid", "1",
                 "--wait", "3", "--sign-key-file", str(key_file)])
    assert code == 0
    assert fleet.vehicle(0).snapshot().mode == "RTL"


@pytest.mark.parametrize("args", [
    ["status", "--connect", "tcp:127.0.0.1:9", "--out", "udp:127.0.0.1"],
    ["status", "--connect", "tcp:127.0.0.1:9", "--out-readonly", "http:x:1"],
    ["rtl", "--connect", "tcp:127.0.0.1:9", "--sign-key-file", "/nonexistent/key"],
])
def test_bad_output_or_key_file_exits_two(args: list[str]) -> None:
    """A malformed --out or an unreadable key file is bad input (exit 2) before connecting."""
    assert main(args) == 2
