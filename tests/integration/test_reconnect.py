"""A directory connection that the server dropped is re-opened, and the work goes on."""

from __future__ import annotations

from pathlib import Path

from adminkit.accounts.directory import open_directory
from adminkit.core.config import load_profile
from adminkit.lab.base import LabServer


def test_directory_survives_a_server_restart(samba: LabServer, lab_config_dir: Path) -> None:
    directory = open_directory(load_profile("lab", lab_config_dir))
    try:
        assert directory.find_user("Administrator") is not None
        samba.stop()  # every connection is cut
        samba.start()
        samba.wait_ready()
        entry = directory.find_user("Administrator")  # same Directory object
        assert entry is not None and entry.login == "Administrator"
    finally:
        directory.close()
