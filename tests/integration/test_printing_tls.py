"""IPP over TLS: a profile's print server with `tls: true` and the CA that signed the
server's certificate, against a cupsd of the lab's that takes IPP over TLS only.

libcups takes any certificate, so it talks to adminkit's relay, which verifies every
connection to the server (printing/tlsrelay.py): a wrong CA, or none when the system's
CAs do not vouch for the server, is exit 3 saying what to fix, and the server is sent no
request. Through the relay every command works as on a plain server, the CUPS
operator's Basic credentials included (machines in the middle: test_printing_tls_mitm).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.cups import CupsServer, CupsTlsServer, tls_instance
from tests.integration.owncups import held_jobs, running

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")

Cli = Callable[..., Any]
NUMBER = 201  # 127.0.3.201: no other lab server's address


@pytest.fixture(scope="module")
def tls_cups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CupsTlsServer]:
    yield from running(tls_instance(tmp_path_factory.mktemp("tls-lab"), NUMBER))


def write_profile(config_dir: Path, name: str, entry: dict[str, Any]) -> str:
    (config_dir / "profiles").mkdir(exist_ok=True)
    (config_dir / "profiles" / f"{name}.yaml").write_text(
        yaml.safe_dump({"description": "IPP over TLS", "print_servers": [entry]}))
    return name


def accesses(server: CupsTlsServer) -> int:
    """The requests cupsd logged (AccessLogLevel actions: every change, no reads)."""
    log = server.dir / "log" / "access_log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_list_and_pause_over_tls_with_the_labs_ca(tls_cups: CupsTlsServer, cli: Cli,
                                                  lab_config_dir: Path) -> None:
    tls_cups.reset()
    [entry] = tls_cups.profile()["print_servers"]
    name = write_profile(lab_config_dir, "print-tls", entry)
    r = cli("-p", name, "-o", "json", "printer", "list")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {p["name"] for p in json.loads(r.stdout)} == {"front-desk", "back-office"}
    r = cli("-p", name, "-o", "json", "printer", "pause", "front-desk", "--reason", "tls")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["results"][0]["status"] == "changed"
    got = tls_cups.connection().getPrinterAttributes("front-desk")
    assert (got["printer-state"], got["printer-state-message"]) == (5, "tls")
    assert "Pause-Printer" in (tls_cups.dir / "log" / "access_log").read_text()


def test_a_purge_over_tls(tls_cups: CupsTlsServer, cli: Cli, lab_config_dir: Path,
                          tmp_path: Path) -> None:
    tls_cups.reset()
    ids = held_jobs(tls_cups, tmp_path, "back-office", 3)
    conn = tls_cups.connection()
    [entry] = tls_cups.profile()["print_servers"]
    name = write_profile(lab_config_dir, "print-tls", entry)
    r = cli("-p", name, "-o", "json", "queue", "purge", "back-office")
    assert r.returncode == 0, r.stdout + r.stderr
    states = [conn.getJobAttributes(j)["job-state"] for j in ids]
    assert states == [7, 7, 7]  # canceled


def test_jobs_and_a_test_page_over_tls(tls_cups: CupsTlsServer, cli: Cli,
                                       lab_config_dir: Path) -> None:
    """A test page streams its document (Create-Job, Send-Document) through the relay."""
    tls_cups.reset()
    [entry] = tls_cups.profile()["print_servers"]
    name = write_profile(lab_config_dir, "print-tls", entry)
    conn = tls_cups.connection()
    conn.disablePrinter("front-desk")  # paused: the page waits in the queue

    def run(*args: str) -> Any:
        r = cli("-p", name, "-o", "json", *args)
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout)

    job = run("printer", "test-page", "front-desk")["results"][0]["data"]["job_id"]
    assert conn.getJobAttributes(job)["job-name"] == "adminkit test page"
    assert [j["id"] for j in run("job", "list", "--printer", "front-desk")] == [job]
    assert run("job", "hold", str(job))["results"][0]["status"] == "changed"
    assert conn.getJobAttributes(job)["job-state"] == 4  # held
    assert run("job", "cancel", str(job))["results"][0]["status"] == "changed"
    assert conn.getJobAttributes(job)["job-state"] == 7  # canceled
    assert run("printer", "resume", "front-desk")["results"][0]["status"] == "changed"
    assert conn.getPrinterAttributes("front-desk")["printer-state"] == 3


def test_the_operators_credentials_over_tls(tls_cups: CupsTlsServer, cups_server: CupsServer,
                                            cli: Cli, lab_config_dir: Path,
                                            tmp_path: Path) -> None:
    """The `secured` policy (Basic, the lab's PAM user): libcups answers cupsd's 401
    through the relay, on pycups' connection (pause) and on Cancel-Jobs' own (purge)."""
    tls_cups.reset()
    ids = held_jobs(tls_cups, tmp_path, "back-office", 2)
    conn = tls_cups.connection()
    for queue in ("front-desk", "back-office"):
        conn.setPrinterOpPolicy(queue, "secured")
    [entry] = tls_cups.profile()["print_servers"]
    name = write_profile(lab_config_dir, "print-tls", entry)
    r = cli("-p", name, "printer", "pause", "front-desk")
    assert r.returncode == 3 and "not authorized" in r.stdout + r.stderr  # it is guarded
    password = cups_server.operator_password()
    secret = tmp_path / "op.secret"
    secret.write_text(password)
    secret.chmod(0o600)
    name = write_profile(lab_config_dir, "print-tls-op", {
        **entry, "user": "aklabop", "password": f"file:{secret}"})
    for args in (("printer", "pause", "front-desk"), ("queue", "purge", "back-office")):
        r = cli("-p", name, *args)
        assert r.returncode == 0, r.stdout + r.stderr
        assert password not in r.stdout + r.stderr
    user = cups.getUser()
    cups.setUser("aklabop")
    cups.setPasswordCB(lambda prompt: password)
    try:
        conn = tls_cups.connection()
        assert conn.getPrinterAttributes("front-desk")["printer-state"] == 5
        assert [conn.getJobAttributes(j)["job-state"] for j in ids] == [7, 7]
    finally:
        cups.setUser(user)


@pytest.mark.parametrize("ca", ["other", "none"])
def test_a_wrong_ca_is_exit_3_saying_what_to_fix(tls_cups: CupsTlsServer, cli: Cli,
                                                 lab_config_dir: Path, tmp_path: Path,
                                                 ca: str) -> None:
    from adminkit.lab.smtp import make_tls

    tls_cups.reset()
    [entry] = tls_cups.profile()["print_servers"]
    if ca == "other":  # a CA that signed a certificate for the same address, not this one
        make_tls(tmp_path / "other", (tls_cups.host,), ca_name="another CA")
        entry["ca_file"] = str(tmp_path / "other" / "ca.pem")
    else:
        del entry["ca_file"]
    name = write_profile(lab_config_dir, "print-tls-bad", entry)
    before = accesses(tls_cups)
    for args in (("printer", "list"), ("printer", "pause", "front-desk")):
        r = cli("-p", name, *args)
        assert r.returncode == 3, r.stdout + r.stderr
        said = r.stdout + r.stderr
        assert f"print server {entry['name']} ({tls_cups.host}:6310)" in said
        assert "TLS certificate is not trusted" in said and "ca_file" in said
        assert "Traceback" not in said
    assert accesses(tls_cups) == before  # no Pause-Printer reached cupsd (it logs those)
    assert tls_cups.connection().getPrinterAttributes("front-desk")["printer-state"] == 3
