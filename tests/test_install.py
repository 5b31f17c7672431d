"""A plain install works: every third-party module the product imports is a runtime dependency,
and the package built from a fresh copy of this checkout, installed without extras into a new
virtual environment, plans a sample scenario and serves a working console (login, the plan
page, every script and stylesheet it references, Leaflet the real library from npm)."""

from __future__ import annotations

import ast
import html.parser
import http.cookiejar
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.ports import free_tcp_port
from tests.helpers.shared_data import REPO

PACKAGES = ("planner", "gcs", "sitl", "web", "dropline")
PASSWORD = "correct-horse-install"
#: Wall seconds allowed for pip to build and install the package with its dependencies.
INSTALL_TIMEOUT_S = 1500.0
#: Wall seconds allowed for ``dropline demo`` to start its simulated fleet and serve.
DEMO_START_TIMEOUT_S = 240.0


def _distribution(requirement: str) -> str:
    """The normalised distribution name of a requirement string (``"flask-wtf==1.3.0"``)."""
    name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _third_party_imports() -> dict[str, list[str]]:
    """Top-level third-party modules imported anywhere in the product (function bodies too),
    each with the places (``file:line``) that import it."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in PACKAGES or top in sys.stdlib_module_names:
                        continue
                    where = f"{path.relative_to(REPO)}:{node.lineno}"
                    found.setdefault(top, []).append(where)
    return found


def test_every_runtime_import_is_a_declared_dependency() -> None:
    """Each third-party module the product imports comes from a pinned runtime dependency of
    pyproject.toml (not only from an extra)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_distribution(r): r for r in project["dependencies"]}
    assert all("==" in r for r in runtime.values()), f"unpinned: {sorted(runtime.values())}"
    providers = importlib.metadata.packages_distributions()
    missing = []
    for module, places in sorted(_third_party_imports().items()):
        dists = {_distribution(d) for d in providers.get(module, [module])}
        if not dists & runtime.keys():
            missing.append(f"{module} (from {' or '.join(sorted(dists))}) imported at "
                           f"{', '.join(places[:3])}")
    assert not missing, "not runtime dependencies in pyproject.toml: " + "; ".join(missing)


# --- the installed package -------------------------------------------------------------------


def _fresh_copy(target: Path) -> Path:
    """The checkout's files as a fresh clone has them (tracked and new files, nothing ignored:
    no web/node_modules, no build output) copied into ``target``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, capture_output=True, check=False)
    if listed.returncode == 0:
        for name in listed.stdout.decode().split("\0"):
            source = REPO / name
            if name and source.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
    else:  # not a git checkout
        shutil.copytree(REPO, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__",
            "vendor", "test-artifacts", "dropline-data", ".*_cache"))
    return target


def _clean_env() -> dict[str, str]:
    """This process's environment without what would let the checkout leak into the venv."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "DROPLINE_ADMIN_PASSWORD")}


@pytest.fixture(scope="module")
def venv_bin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bin/ of a new virtual environment holding dropline installed from a fresh copy of
    the checkout, without extras and not editable (removed after the module's tests)."""
    root = tmp_path_factory.mktemp("install")
    source = _fresh_copy(root / "src")
    assert not (source / "web" / "node_modules").exists()
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    bin_dir = root / "venv" / "bin"
    started = time.monotonic()
    # --no-compile: the modules the commands import are compiled when first run, not all.
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", "--no-input", "--no-compile",
                           str(source)],
                          cwd=root, env=_clean_env(), capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT_S, check=False)
    print(f"pip install took {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    where = subprocess.run([str(bin_dir / "python"), "-c", "import web; print(web.__file__)"],
                           cwd=root, env=_clean_env(), capture_output=True, text=True,
                           check=True).stdout
    assert "site-packages" in where, f"web imported from {where}, not the installed package"
    yield bin_dir
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_installed_package_plans_a_scenario(venv_bin: Path, tmp_path: Path) -> None:
    """``dropline plan missions/tutorial`` runs in the plain install and writes the plan."""
    out = tmp_path / "out"
    started = time.monotonic()
    done = subprocess.run([str(venv_bin / "dropline"), "plan", str(REPO / "missions" / "tutorial"),
                           "-o", str(out), "--no-progress"], cwd=tmp_path, env=_clean_env(),
                          capture_output=True, text=True, timeout=600, check=False)
    print(f"dropline plan took {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, f"dropline plan failed:\n{done.stdout}\n{done.stderr}"
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["sorties"], plan
    assert list((out / "sorties").glob("*.plan"))


class _Assets(html.parser.HTMLParser):
    """The scripts (``<script src>``) and stylesheets (``<link rel=stylesheet href>``) of a
    page, and the value of its login form's CSRF field."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.csrf: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append(str(a["src"]))
        elif tag == "link" and a.get("href") and "stylesheet" in (a.get("rel") or ""):
            self.urls.append(str(a["href"]))
        elif tag == "input" and a.get("name") == "csrf_token":
            self.csrf = a.get("value")


def _parse(page: str) -> _Assets:
    parser = _Assets()
    parser.feed(page)
    return parser


@pytest.fixture
def demo(venv_bin: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``dropline demo`` of the plain install on a free port (its address, and its stderr file),
    stopped with SIGTERM after the test."""
    port = free_tcp_port()
    env = _clean_env() | {"DROPLINE_ADMIN_PASSWORD": PASSWORD}
    stdout, stderr = tmp_path / "demo.out", tmp_path / "demo.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen([str(venv_bin / "dropline"), "demo", "--port", str(port),
                                    "--data-dir", str(tmp_path / "data")],
                                   cwd=tmp_path, env=env, stdout=out, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                pytest.fail(f"dropline demo exited ({process.returncode}):\n"
                            f"{stdout.read_text()}\n{stderr.read_text()}")
            try:
                with urllib.request.urlopen(url + "/login", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() - started > DEMO_START_TIMEOUT_S:
                pytest.fail(f"dropline demo did not serve within {DEMO_START_TIMEOUT_S:.0f} s:"
                            f"\n{stdout.read_text()}\n{stderr.read_text()}")
            time.sleep(0.5)
        print(f"dropline demo served after {time.monotonic() - started:.0f} s")
        yield url, stderr
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_installed_demo_serves_a_working_console(demo: tuple[str, Path]) -> None:
    """The plain install's console: log in, open the plan page; every script and stylesheet it
    references answers 200 with a body, Leaflet is the real library at the pinned version (with
    the images its stylesheet uses), and the server reported nothing missing."""
    url, stderr = demo
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(path: str) -> tuple[int, str, bytes]:
        with opener.open(urllib.parse.urljoin(url + "/", path), timeout=30) as r:
            return r.status, r.url, r.read()

    status, _, body = get("/login")
    assert status == 200
    csrf = _parse(body.decode()).csrf
    assert csrf, "no CSRF field on the login page"
    form = urllib.parse.urlencode({"csrf_token": csrf, "username": "admin",
                                   "password": PASSWORD, "next": "/plans"}).encode()
    with opener.open(url + "/login", data=form, timeout=30) as r:
        assert r.status == 200 and r.url.endswith("/plans"), (r.status, r.url)
    status, final, body = get("/plans")
    page = body.decode()
    assert status == 200 and final.endswith("/plans") and 'id="logout"' in page, page[:2000]

    urls = _parse(page).urls
    assert any(u.endswith("/leaflet.js") for u in urls), urls
    assert any(u.endswith("/leaflet.css") for u in urls), urls
    fetched: dict[str, bytes] = {}
    for asset in urls:
        try:
            status, _, body = get(asset)
        except urllib.error.HTTPError as exc:
            pytest.fail(f"{asset} answered {exc.code}")
        assert status == 200 and body.strip(), f"{asset}: {status}, {len(body)} bytes"
        fetched[asset] = body

    version = json.loads((REPO / "web" / "package.json").read_text())["dependencies"]["leaflet"]
    leaflet_js = next(body for u, body in fetched.items() if u.endswith("/leaflet.js"))
    assert f"Leaflet {version}".encode() in leaflet_js[:1000], leaflet_js[:300]
    assert len(leaflet_js) > 100_000, "leaflet.js is not the whole library"
    css_url = next(u for u in fetched if u.endswith("/leaflet.css"))
    css = fetched[css_url].decode()
    assert ".leaflet-pane" in css
    images = set(re.findall(r"url\((images/[^)]+)\)", css))
    assert images, "leaflet.css names no images"
    for image in sorted(images):
        status, _, body = get(urllib.parse.urljoin(css_url, image))
        assert status == 200 and body.startswith(b"\x89PNG"), image

    log = stderr.read_text()
    assert "Traceback" not in log and "map library" not in log, log
