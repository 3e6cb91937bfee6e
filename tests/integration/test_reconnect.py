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


def test_a_write_after_the_server_dropped_the_connection_goes_through(
        slapd: LabServer, lab_config_dir: Path) -> None:
    """Adds and modifies adminkit encodes itself: a dead socket sends them on ldap3's own
    reconnecting path, once; the entries are there afterwards."""
    import uuid

    from adminkit.accounts.directory import NewUser
    from adminkit.core.secrets import Secret

    profile = load_profile("lab-openldap", lab_config_dir)
    assert profile.directory is not None
    people = profile.directory.users_ou or profile.directory.base_dn
    directory = open_directory(profile)
    try:
        first = f"rc.{uuid.uuid4().hex[:8]}"
        directory.create_user(NewUser(first, "Re", "Connect", first, Secret("Recon-Pass-1"),
                                      people, must_change=False))
        slapd.stop()
        slapd.start()
        slapd.wait_ready()
        second = f"rc.{uuid.uuid4().hex[:8]}"
        directory.create_user(NewUser(second, "Re", "Connect", second,
                                      Secret("Recon-Pass-2"), people, must_change=False))
        entry = directory.find_user(first)
        assert entry is not None
        directory.set_attributes(entry, {"description": ["after the restart"]})
        assert directory.read_attributes(entry, ["description"]) == {
            "description": ["after the restart"]}
        assert directory.find_user(second) is not None
    finally:
        directory.close()
