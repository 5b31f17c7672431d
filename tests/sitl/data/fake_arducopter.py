"""A stand-in for ArduPilot's ``arducopter`` SITL program, for testing process management.

It parses the same flags, behaves like SITL where the launcher depends on it, and simulates
nothing: it listens on the instance's MAVLink TCP ports (SERIAL0 = base + 10 * instance, + 2,
+ 3) and sends a HEARTBEAT every simulated second from ``--sysid``; it reads ``--defaults`` files
relative to its working directory (absolute paths fail, as with SITL), writes ``eeprom.bin`` and
``logs/``, and exits when its parent process does. It records what it was given in
``fake-args.json``. Environment knobs for failure tests: ``FAKE_SITL_EXIT_AFTER_S`` (exit with
status 3 after that many seconds), ``FAKE_SITL_NO_HEARTBEAT`` (listen but stay silent),
``FAKE_SITL_IGNORE_TERM`` (ignore SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from gcs.mavlink import codec, dialect


def parse(argv: list[str]) -> argparse.Namespace:
    """The flags of ``arducopter`` that the launcher uses."""
    p = argparse.ArgumentParser(prog="arducopter")
    p.add_argument("-I", "--instance", type=int, default=0)
    p.add_argument("-M", "--model", required=True)
    p.add_argument("-O", "--home", default="-35.363261,149.165230,584,353")
    p.add_argument("-s", "--speedup", type=float, default=1.0)
    p.add_argument("--defaults", default="")
    p.add_argument("--sysid", type=int, default=None)
    p.add_argument("--serial0", default="tcp:0:wait")
    p.add_argument("--base-port", type=int, default=None)
    p.add_argument("-w", "--wipe", action="store_true")
    return p.parse_args(argv)


def read_defaults(spec: str) -> dict[str, float]:
    """Parameters of every comma-separated defaults file (relative to the working directory)."""
    values: dict[str, float] = {}
    for name in filter(None, spec.split(",")):
        if os.path.isabs(name):
            sys.exit(f"Failed to load defaults from {name}: absolute paths are not supported")
        path = Path.cwd() / name
        if not path.is_file():
            sys.exit(f"Failed to load defaults from {name}")
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip().replace(",", " ")
            if line:
                key, value = line.split()[:2]
                values[key] = float(value)
    return values


def main() -> None:
    """Serve heartbeats until the parent exits or a signal ends the process."""
    args = parse(sys.argv[1:])
    lat, lon, alt, hdg = (float(x) for x in args.home.split(","))
    params = read_defaults(args.defaults)
    sysid = args.sysid or int(params.get("SYSID_THISMAV", 1))
    base = args.base_port if args.base_port is not None else 5760 + 10 * args.instance
    parent = os.getppid()
    record = {"argv": sys.argv[1:], "cwd": os.getcwd(), "ppid": parent, "pid": os.getpid(),
              "sysid": sysid, "base_port": base, "home": [lat, lon, alt, hdg],
              "speedup": args.speedup, "params": params, "wipe": args.wipe,
              "serial0": args.serial0}
    Path("fake-args.json").write_text(json.dumps(record, indent=2))
    Path("logs").mkdir(exist_ok=True)
    Path("eeprom.bin").write_bytes(b"\0" * 16384)
    if os.environ.get("FAKE_SITL_IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("Starting sketch 'ArduCopter'", flush=True)
    print(f"Home: {lat} {lon} alt={alt} hdg={hdg}", flush=True)
    sel = selectors.DefaultSelector()
    for offset in (0, 2, 3):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", base + offset))
        srv.listen(1)
        srv.setblocking(False)
        sel.register(srv, selectors.EVENT_READ, "listen")
        print(f"bind port {base + offset} for SERIAL{(0, 1, 2)[(0, 2, 3).index(offset)]}",
              flush=True)
    mav = codec(sysid, 1)
    exit_after = float(os.environ.get("FAKE_SITL_EXIT_AFTER_S", "inf"))
    silent = bool(os.environ.get("FAKE_SITL_NO_HEARTBEAT"))
    start = time.monotonic()
    next_beat = start
    clients: list[socket.socket] = []
    while True:
        if os.getppid() != parent:
            return
        if time.monotonic() - start > exit_after:
            print("fake failure", flush=True)
            sys.exit(3)
        for key, _ in sel.select(timeout=0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if key.data == "listen":
                conn, _addr = sock.accept()
                conn.setblocking(False)
                clients.append(conn)
                sel.register(conn, selectors.EVENT_READ, "client")
                continue
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                clients.remove(sock)
                sock.close()
        now = time.monotonic()
        if now >= next_beat:
            next_beat = now + 1.0 / args.speedup
            if silent:
                continue
            beat = mav.heartbeat_encode(
                dialect.MAV_TYPE_QUADROTOR, dialect.MAV_AUTOPILOT_ARDUPILOTMEGA,
                dialect.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, 0, dialect.MAV_STATE_STANDBY)
            data = beat.pack(mav)
            for conn in list(clients):
                try:
                    conn.sendall(data)
                except OSError:
                    sel.unregister(conn)
                    clients.remove(conn)
                    conn.close()


if __name__ == "__main__":
    main()
