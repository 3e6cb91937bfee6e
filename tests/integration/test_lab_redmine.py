"""The Redmine lab server: its own port and folder, a golden-copy reset, stopped by PID."""

from __future__ import annotations

import os

import pytest

from adminkit.lab import process
from adminkit.lab.base import LabServer
from adminkit.lab.redmine import INSTANCE, INSTANCES, PORT, RedmineServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(redmine: LabServer) -> RedmineServer:
    assert isinstance(redmine, RedmineServer)
    return redmine


def test_it_runs_from_the_lab_folder_on_its_own_port(server: RedmineServer) -> None:
    assert os.readlink(INSTANCES / INSTANCE) == str(server.instance)
    assert server.database.is_file() and server.database.is_relative_to(server.dir.absolute())
    for secret in (server.key_file, server.admin_key_file):
        assert secret.stat().st_mode & 0o777 == 0o600
    assert server.url.endswith(f":{PORT}") and PORT == 8087
    with server.client() as http:  # the bot: not an administrator
        me = http.get("/users/current.json").json()["user"]
    assert (me["login"], me["admin"]) == ("adminkit", False)


def test_reset_brings_back_the_seeded_issues_and_restart_is_by_pid(
        server: RedmineServer) -> None:
    issue = server.new_issue("gone after a reset")
    [before] = server.procs.load(server.name)
    server.reset()
    with server.client() as http:
        assert http.get(f"/issues/{issue}.json").status_code == 404
        assert http.get("/issues/1.json").json()["issue"]["subject"] == "Printer jammed"
    assert not process.alive(before)  # the old server was stopped, by its PID
    [after] = server.procs.load(server.name)
    assert process.alive(after) and after.pid != before.pid
