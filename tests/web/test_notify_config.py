"""The notification settings file (``--notify``): each wrong setting named, secrets read from
files beside it, and ``dropline serve`` refusing a bad file before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from dropline.cli import main
from planner.errors import InputError
from web.notify.config import load_notify_config

HOOK = '[webhook]\nurl = "https://r.example.org/h"\nsecret_file = "k"\n'
MAIL = '[email]\nhost = "127.0.0.1"\nfrom = "hub@example.org"\n'


def _file(tmp_path: Path, text: str, secret: str = "0123456789abcdef-key") -> Path:
    (tmp_path / "k").write_text(secret)
    path = tmp_path / "notify.toml"
    path.write_text(text)
    return path


def test_settings_with_defaults(tmp_path: Path) -> None:
    """Both channels, secret read from the file beside it, documented defaults."""
    config = load_notify_config(_file(tmp_path, HOOK + MAIL))
    assert config.channels == ("webhook", "email")
    assert config.webhook is not None and config.webhook.secret == b"0123456789abcdef-key"
    assert config.email is not None and config.email.port == 25
    assert (config.eta_margin_s, config.max_attempts, config.timezone) == (600.0, 8, "UTC")


@pytest.mark.parametrize(("text", "field", "reason"), [
    ("", None, "Expected a [webhook] or an [email] table"),
    ('eta_margin = 5\n' + HOOK, "eta_margin", "unknown setting"),
    ('timezone = "Mars/Olympus"\n' + HOOK, "timezone", "Expected a time zone name"),
    ("eta_margin_min = 0\n" + HOOK, "eta_margin_min", "Expected a number in [1, 1440]"),
    ("max_attempts = true\n" + HOOK, "max_attempts", "Expected a number"),
    ('public_url = "file:///etc"\n' + HOOK, "public_url", "Expected an http:// or https://"),
    (HOOK.replace("https://r.example.org/h", "ftp://x/"), "webhook.url", "Expected an http://"),
    (HOOK.replace('secret_file = "k"\n', ""), "webhook.secret_file", "Expected a file holding"),
    (HOOK.replace('"k"', '"missing"'), "webhook.secret_file", "cannot read"),
    (MAIL.replace('from = "hub@example.org"\n', ""), "email.from", "Expected the sender"),
    (MAIL + 'username = "u"\n', "email.username", "Expected both username and password_file"),
    (MAIL + "port = 70000\n", "email.port", "Expected a number in [1, 65535]"),
    (MAIL + "starttls = 1\n", "email.starttls", "Expected true or false"),
    ("[webhook\n", None, "malformed TOML"),
])
def test_bad_settings_are_named(tmp_path: Path, text: str, field: str | None,
                                reason: str) -> None:
    """Every wrong, missing or unknown setting is an error naming the file and the setting."""
    with pytest.raises(InputError) as info:
        load_notify_config(_file(tmp_path, text))
    assert info.value.field == field and reason in str(info.value)
    assert "notify.toml" in str(info.value)


def test_short_secret_is_refused(tmp_path: Path) -> None:
    """A webhook secret under 16 characters cannot sign anything worth checking."""
    with pytest.raises(InputError, match="at least 16 characters"):
        load_notify_config(_file(tmp_path, HOOK, secret="short"))


def test_serve_refuses_bad_settings_before_starting(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``dropline serve --notify`` with a bad file exits 2 naming it; no data folder is made."""
    path = _file(tmp_path, 'timezone = "Nowhere/Here"\n' + HOOK)
    data = tmp_path / "data"
    code = main(["serve", "--data-dir", str(data), "--port", "0", "--notify", str(path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "notify.toml" in err and "timezone" in err and "Traceback" not in err
    assert not data.exists()
    assert main(["serve", "--data-dir", str(data), "--notify", str(tmp_path / "none.toml")]) == 2
    assert "notification settings not found" in capsys.readouterr().err
