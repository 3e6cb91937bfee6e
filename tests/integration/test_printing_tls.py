"""IPP over TLS: a profile's print server with `tls: true` and the CA that signed the
server's certificate, against a cupsd of the lab's that takes IPP over TLS only.

libcups takes any certificate, so adminkit checks it itself: a wrong CA, or none when
the system's CAs do not vouch for the server, is exit 3 saying what to fix, and the
server is sent no request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.cups import CupsTlsServer, tls_instance
from tests.integration.owncups import running

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
    doc = tmp_path / "doc.txt"
    doc.write_text("page\n")
    conn = tls_cups.connection()
    ids = [conn.printFile("back-office", str(doc), f"doc {i}", {"job-hold-until": "indefinite"})
           for i in range(3)]
    [entry] = tls_cups.profile()["print_servers"]
    name = write_profile(lab_config_dir, "print-tls", entry)
    r = cli("-p", name, "-o", "json", "queue", "purge", "back-office")
    assert r.returncode == 0, r.stdout + r.stderr
    states = [conn.getJobAttributes(j)["job-state"] for j in ids]
    assert states == [7, 7, 7]  # canceled


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
