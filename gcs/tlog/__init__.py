"""Telemetry logs: ``.tlog`` files written while flying and read back afterwards."""

from gcs.tlog.reader import BOOT_TIMED as BOOT_TIMED
from gcs.tlog.reader import RELEASE_MERGE_S as RELEASE_MERGE_S
from gcs.tlog.reader import TlogFlight as TlogFlight
from gcs.tlog.reader import read_flight as read_flight
from gcs.tlog.writer import PRIVATE_DIR_MODE as PRIVATE_DIR_MODE
from gcs.tlog.writer import PRIVATE_FILE_MODE as PRIVATE_FILE_MODE
from gcs.tlog.writer import TlogWriter as TlogWriter
from gcs.tlog.writer import private_dir as private_dir
from gcs.tlog.writer import private_file as private_file
