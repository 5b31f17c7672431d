"""``dropline broker config``: Mosquitto's configuration for the bus between workers and
consoles (:mod:`gcs.bus.broker_config`): a loopback listener, no anonymous clients, one login
per hub's workers and one for the consoles, and an ACL giving each only its topics."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dropline.commands._inputs import port_number
from dropline.commands.exit_codes import ExitCode


def register(sub: Any) -> None:
    """Add ``broker`` to the ``dropline`` subparsers ``sub``."""
    broker = sub.add_parser("broker", help="the MQTT broker's configuration for workers and "
                                           "consoles")
    actions = broker.add_subparsers(dest="broker_command", required=True, metavar="ACTION")
    config = actions.add_parser(
        "config", help="write mosquitto.conf, the password file, the ACL and the logins",
        description="Write Mosquitto's config (listener on 127.0.0.1 only, no anonymous "
                    "clients), its password file and ACL, and the logins (credentials.toml and "
                    "USER.password, owner-only) into --out. Users: worker-<hub> per hub, "
                    "console for the consoles. Passwords of an earlier run in --out are kept.")
    config.add_argument("--hubs", required=True, metavar="A,B",
                        help="comma-separated hub ids")
    config.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    config.add_argument("--port", type=int, default=1883, metavar="P",
                        help="port mosquitto listens on (default 1883)")
    config.set_defaults(func=config_command)


def config_command(args: argparse.Namespace) -> int:
    """``dropline broker config``."""
    from gcs.bus.broker_config import CONSOLE_USER, worker_user, write_broker_config

    port_number(args.port, "--port", lowest=1)
    hubs = [h.strip() for h in str(args.hubs).split(",") if h.strip()]
    files = write_broker_config(Path(args.out), hubs, port=args.port)
    print(f"wrote {files.config}, {files.password_file}, {files.acl_file}")
    print(f"logins (passwords in {files.credentials_file} and USER.password beside it, "
          "readable by you only):")
    for user in (CONSOLE_USER, *(worker_user(h) for h in hubs)):
        print(f"  {files.url(user)}")
    print(f"start the broker: mosquitto -c {files.config}")
    return ExitCode.OK
