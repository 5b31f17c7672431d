"""Elevation files from users: only GeoTIFF and SRTM are read, nothing else is opened or fetched,
and a raster too large is refused before a cell is decoded."""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from planner.errors import TerrainError
from planner.io.dem import MAX_DEM_CELLS, load_dem

SECRET = "s3cr3t-k3y-0123456789abcdef"


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    """A loopback TCP socket that records whether anything connected to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    try:
        yield server, server.getsockname()[1]
    finally:
        server.close()


def _connected(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _vrt(source: str, *, relative: bool = False) -> str:
    """A GDAL VRT exposing ``source`` as a raw 16-bit raster of 8 x 4 cells."""
    return f"""<VRTDataset rasterXSize="8" rasterYSize="4">
  <SRS>EPSG:4326</SRS>
  <GeoTransform>-72.0, 0.001, 0, 45.0, 0, -0.001</GeoTransform>
  <VRTRasterBand dataType="Int16" band="1" subClass="VRTRawRasterBand">
    <SourceFilename relativeToVRT="{int(relative)}">{source}</SourceFilename>
    <ImageOffset>0</ImageOffset><PixelOffset>2</PixelOffset><LineOffset>16</LineOffset>
  </VRTRasterBand>
</VRTDataset>
"""


def test_vrt_named_tif_reading_a_local_file_is_refused(tmp_path: Path) -> None:
    """A VRT named .tif that points at a server file is refused; nothing of the file leaks."""
    secret = tmp_path / "secret_key"
    secret.write_text(SECRET * 4)
    upload = tmp_path / "uploads" / "terrain.tif"
    upload.parent.mkdir()
    upload.write_text(_vrt(str(secret)))
    with pytest.raises(TerrainError, match="does not start with the TIFF signature") as err:
        load_dem([upload])
    assert SECRET[:6] not in str(err.value)
    assert str(secret) not in str(err.value)


def test_vrt_fetching_a_url_is_refused_without_a_connection(
        tmp_path: Path, listener: tuple[socket.socket, int]) -> None:
    """A VRT named .tif whose source is /vsicurl/ is refused and nothing connects out."""
    server, port = listener
    upload = tmp_path / "dem.tif"
    upload.write_text(_vrt(f"/vsicurl/http://127.0.0.1:{port}/dem.bin"))
    with pytest.raises(TerrainError, match="GeoTIFF"):
        load_dem([upload])
    time.sleep(0.2)
    assert not _connected(server)


@pytest.mark.parametrize("name", ["/vsicurl/http://127.0.0.1:{port}/dem.tif",
                                  "/vsizip//tmp/dem.zip/dem.tif",
                                  "http://127.0.0.1:{port}/dem.tif"])
def test_virtual_paths_and_urls_are_refused(name: str,
                                            listener: tuple[socket.socket, int]) -> None:
    """A /vsi path or a URL is never handed to GDAL."""
    server, port = listener
    with pytest.raises(TerrainError, match="GDAL virtual file system"):
        load_dem([name.format(port=port)])
    time.sleep(0.2)
    assert not _connected(server)


def test_hgt_holding_a_vrt_is_refused(tmp_path: Path) -> None:
    """An .hgt is read as raw heights only when its size is that of an SRTM tile."""
    secret = tmp_path / "secret_key"
    secret.write_text(SECRET)
    upload = tmp_path / "N44W072.hgt"
    upload.write_text(_vrt(str(secret)))
    with pytest.raises(TerrainError, match="1201 x 1201") as err:
        load_dem([upload])
    assert SECRET not in str(err.value)


def test_tiff_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    """A 10000 x 10000 deflate GeoTIFF, a few KB on disk, is refused from its header: fast,
    and without the 800 MB its cells would take."""
    path = tmp_path / "bomb.tif"
    with rasterio.open(path, "w", driver="GTiff", width=10_000, height=10_000, count=1,
                       dtype="float32", crs="EPSG:4326", compress="deflate", tiled=True,
                       sparse_ok=True, transform=Affine(1e-4, 0, -72.0, 0, -1e-4, 45.0)) as dst:
        block = np.zeros((1024, 1024), dtype="float32")
        dst.write(block, 1, window=((0, 1024), (0, 1024)))
    assert path.stat().st_size < 300_000
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(TerrainError, match=r"10000 x 10000 = 100000000 cells; expected at most"):
        load_dem([path])
    assert time.perf_counter() - start < 2.0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
    assert grown_mb < 100, f"peak memory grew by {grown_mb:.0f} MB"
    assert MAX_DEM_CELLS < 10_000 * 10_000


def test_cell_limit_is_configurable(tmp_path: Path) -> None:
    """The cell limit is a parameter: a small GeoTIFF loads under it and is refused above."""
    path = tmp_path / "small.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20, height=10, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=Affine(1e-3, 0, -72.0, 0, -1e-3, 45.0)) as dst:
        dst.write(np.full((10, 20), 300.0, dtype="float32"), 1)
    assert load_dem([path], max_cells=200).tiles[0].heights_m.shape == (10, 20)
    with pytest.raises(TerrainError, match="20 x 10 = 200 cells; expected at most 199"):
        load_dem([path], max_cells=199)


def test_sidecar_files_are_not_read(tmp_path: Path) -> None:
    """An .aux.xml beside a GeoTIFF (which could name another CRS or files) is ignored."""
    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       crs="EPSG:4326", transform=Affine(1e-3, 0, -72.0, 0, -1e-3, 45.0)) as dst:
        dst.write(np.full((4, 4), 300.0, dtype="float32"), 1)
    (tmp_path / "dem.tif.aux.xml").write_text(
        '<PAMDataset><SRS>EPSG:32619</SRS><Metadata><MDI key="x">y</MDI></Metadata>'
        "</PAMDataset>")
    dem = load_dem([path])
    assert dem.tiles[0].heights_m.shape == (4, 4)


def test_external_overviews_are_not_opened(tmp_path: Path) -> None:
    """An external .ovr beside a GeoTIFF is neither opened nor listed: only the file is read."""
    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1, dtype="float32",
                       crs="EPSG:4326", transform=Affine(1e-3, 0, -72.0, 0, -1e-3, 45.0)) as dst:
        dst.write(np.full((64, 64), 300.0, dtype="float32"), 1)
    for sidecar in ("dem.tif.ovr", "dem.tif.msk", "dem.ovr"):  # would fail if opened
        (tmp_path / sidecar).write_bytes(b"II*\x00" + b"\xff" * 64)
    dem = load_dem([path])
    assert float(dem.tiles[0].heights_m.max()) == 300.0
