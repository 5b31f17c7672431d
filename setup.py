"""Build hook: what an installed dropline needs beyond its Python modules.

Building the package (a wheel, ``pip install .``) copies into it

- the console's map library, Leaflet from npm at the version ``web/package.json`` pins
  (leaflet.js, leaflet.css, images/), into ``web/static/vendor/leaflet/``: taken from
  ``web/node_modules`` when it holds that version, else fetched with ``npm pack``;
- the sample scenarios of ``missions/`` into ``dropline/missions/`` (the demo flies the district).

Without npm the build goes on with a warning, and the console says at start that the map library
is missing. An editable install (``pip install -e .``) serves Leaflet from ``web/node_modules``
and runs ``npm install`` there when it is missing. The project's metadata is in pyproject.toml.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
NODE_LEAFLET = WEB / "node_modules" / "leaflet"
#: Leaflet's files the console uses, from the npm package's ``dist/``.
LEAFLET_FILES = ("leaflet.js", "leaflet.css", "images")
#: Where they go inside the built package (``web.app`` looks there first).
LEAFLET_TARGET = Path("web", "static", "vendor", "leaflet")
MISSIONS_TARGET = Path("dropline", "missions")
NPM_FLAGS = ("--no-audit", "--no-fund", "--loglevel=error")


def _warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


def leaflet_version() -> str:
    """The Leaflet version ``web/package.json`` pins."""
    package = json.loads((WEB / "package.json").read_text(encoding="utf-8"))
    return str(package["dependencies"]["leaflet"])


def _node_modules_dist(version: str) -> Path | None:
    """``web/node_modules/leaflet/dist`` when it holds Leaflet ``version``."""
    try:
        meta = json.loads((NODE_LEAFLET / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dist = NODE_LEAFLET / "dist"
    if meta.get("version") != version or not (dist / "leaflet.js").is_file():
        return None
    return dist


def _packed_dist(version: str, workdir: Path) -> Path | None:
    """Leaflet ``version``'s ``dist/`` fetched by ``npm pack`` into ``workdir`` (None: no npm)."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        subprocess.run([npm, "pack", f"leaflet@{version}", "--pack-destination", str(workdir),
                        *NPM_FLAGS], cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as exc:
        _warn(f"npm pack leaflet@{version} failed: {exc}")
        return None
    tarball = next(workdir.glob("leaflet-*.tgz"))
    with tarfile.open(tarball) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(workdir, filter="data")
        else:  # Python before 3.11.4
            tar.extractall(workdir)
    return workdir / "package" / "dist"


def copy_leaflet(target: Path) -> bool:
    """Copy Leaflet's files into ``target``; False (with a warning) when they cannot be had."""
    version = leaflet_version()
    with tempfile.TemporaryDirectory(prefix="dropline-leaflet-") as tmp:
        dist = _node_modules_dist(version) or _packed_dist(version, Path(tmp))
        if dist is None:
            _warn(f"the console's map library (Leaflet {version} from npm) is not in the "
                  "package: install npm (e.g. apt-get install npm) and build again")
            return False
        target.mkdir(parents=True, exist_ok=True)
        for name in LEAFLET_FILES:
            source = dist / name
            if source.is_dir():
                shutil.copytree(source, target / name, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target / name)
    return True


def ensure_node_modules() -> None:
    """``npm install`` in web/ for an editable install, unless Leaflet is there already."""
    if _node_modules_dist(leaflet_version()) is not None:
        return
    npm = shutil.which("npm")
    if npm is None:
        _warn("the console's map library (Leaflet) needs npm: install npm, then run "
              "'npm install --no-package-lock' in web/ (./dev demo does it)")
        return
    try:
        subprocess.run([npm, "install", "--no-package-lock", *NPM_FLAGS], cwd=WEB, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        _warn(f"npm install in web/ failed: {exc}")


class BuildPy(build_py):
    """``build_py`` that also copies Leaflet and the sample scenarios into the package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            ensure_node_modules()
            return
        build_lib = Path(self.build_lib)
        copy_leaflet(build_lib / LEAFLET_TARGET)
        missions = ROOT / "missions"
        if missions.is_dir():
            shutil.copytree(missions, build_lib / MISSIONS_TARGET, dirs_exist_ok=True)
        else:
            _warn("missions/ (the sample scenarios) is missing: 'dropline demo' will not start")


setup(cmdclass={"build_py": BuildPy})
