"""Every print command against the lab's real CUPS, through the real `adminkit` command.

Outcomes are read back over IPP with a pycups connection of the test's own (and with
`lpstat`), never through the backend under test. Jobs are submitted held, so they stay
listable. CUPS is reset to its two empty queues before each test.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.cups import CupsServer
from tests.integration.noted import by_pytest
from tests.integration.rtread import notes

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")

Cli = Callable[..., Any]
HOST = "127.0.0.1:6310"
MODEL = "drv:///cupsfilters.drv/textonly.ppd"
STATE = {3: "pending", 4: "held", 5: "processing", 7: "canceled", 9: "completed"}


@pytest.fixture
def server(cups_clean: CupsServer) -> CupsServer:
    return cups_clean


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "letter.txt"
    path.write_text("Dear customer\n" * 40)
    path.chmod(0o644)
    tmp_path.chmod(0o755)
    return path


def held(server: CupsServer, doc: Path, queue: str = "front-desk", n: int = 1,
         user: str = "root") -> list[int]:
    conn = server.connection()
    cups.setUser(user)
    try:
        return [conn.printFile(queue, str(doc), f"doc {i}", {"job-hold-until": "indefinite"})
                for i in range(n)]
    finally:
        cups.setUser("root")


def job_state(server: CupsServer, job_id: int) -> str:
    attrs = server.connection().getJobAttributes(job_id)
    return STATE.get(attrs["job-state"], str(attrs["job-state"]))


def job_queue(server: CupsServer, job_id: int) -> str:
    uri = server.connection().getJobAttributes(job_id)["job-printer-uri"]
    return str(uri).rpartition("/")[2]


def attrs(server: CupsServer, queue: str) -> dict[str, Any]:
    found: dict[str, Any] = server.connection().getPrinterAttributes(queue)
    return found


def active(server: CupsServer, queue: str) -> list[int]:
    jobs = server.connection().getJobs(which_jobs="not-completed",
                                       requested_attributes=["job-id", "job-printer-uri"])
    return sorted(j for j, a in jobs.items() if a["job-printer-uri"].endswith("/" + queue))


def lpstat(*args: str) -> str:
    return subprocess.run(["lpstat", "-h", HOST, *args], capture_output=True, text=True,
                          check=True).stdout


def run(cli: Cli, *args: str, code: int = 0) -> dict[str, Any]:
    r = cli("--profile", "lab", "-o", "json", *args)
    assert r.returncode == code, r.stdout + r.stderr
    out: dict[str, Any] = json.loads(r.stdout) if r.stdout.strip() else {}
    return out


def statuses(out: dict[str, Any]) -> list[str]:
    return [r["status"] for r in out["results"]]


def profile(config_dir: Path, name: str, servers: list[dict[str, Any]],
            **extra: Any) -> str:
    (config_dir / "profiles").mkdir(exist_ok=True)
    (config_dir / "profiles" / f"{name}.yaml").write_text(
        yaml.safe_dump({"description": "printing test", "print_servers": servers, **extra}))
    return name


# -- printers ---------------------------------------------------------------------------
def test_list_and_show_read_the_server(server: CupsServer, cli: Cli, doc: Path) -> None:
    held(server, doc, n=3)
    server.connection().disablePrinter("back-office", reason="toner change")
    server.connection().setDefault("back-office")
    rows = {r["name"]: r for r in json.loads(cli("-p", "lab", "-o", "json", "printer",
                                                 "list", "-s", "lab-cups").stdout)}
    assert set(rows) == {"front-desk", "back-office"}
    assert rows["front-desk"]["jobs"] == 3 and rows["front-desk"]["state"] == "idle"
    assert rows["back-office"]["state"] == "paused"
    assert rows["back-office"]["reason"] == "toner change"
    assert (rows["back-office"]["default"], rows["front-desk"]["default"]) == (True, False)
    shown = json.loads(cli("-p", "lab", "-o", "json", "printer", "show", "front-desk").stdout)
    assert shown["model"] == "Generic Text-Only Printer"
    assert shown["device_uri"] == "file:///dev/null" and shown["options"]["sides"]


def test_pause_resume_reject_accept_check_then_apply(server: CupsServer, cli: Cli) -> None:
    out = run(cli, "--check", "printer", "pause", "front-desk", "--reason", "paper jam")
    assert statuses(out) == ["changed"] and out["run"]["mode"] == "check"
    assert attrs(server, "front-desk")["printer-state"] == 3  # check changed nothing
    assert statuses(run(cli, "printer", "pause", "front-desk", "--reason", "paper jam")) == [
        "changed"]
    assert attrs(server, "front-desk")["printer-state"] == 5
    assert attrs(server, "front-desk")["printer-state-message"] == "paper jam"
    assert "front-desk disabled" in lpstat("-p", "front-desk")
    assert statuses(run(cli, "printer", "pause", "front-desk")) == ["ok"]
    assert statuses(run(cli, "printer", "resume", "front-desk")) == ["changed"]
    assert attrs(server, "front-desk")["printer-state"] == 3
    assert statuses(run(cli, "printer", "reject", "back-office", "--reason", "moved")) == [
        "changed"]
    assert attrs(server, "back-office")["printer-is-accepting-jobs"] is False
    assert "back-office not accepting" in lpstat("-a", "back-office")
    assert statuses(run(cli, "printer", "reject", "back-office")) == ["ok"]
    assert statuses(run(cli, "--check", "printer", "accept", "back-office")) == ["changed"]
    assert attrs(server, "back-office")["printer-is-accepting-jobs"] is False
    assert statuses(run(cli, "printer", "accept", "back-office")) == ["changed"]
    assert attrs(server, "back-office")["printer-is-accepting-jobs"] is True


def test_add_set_default_remove(server: CupsServer, cli: Cli) -> None:
    args = ("printer", "add", "floor3", "--uri", "file:///dev/null", "--driver", MODEL,
            "--location", "Floor 3", "--shared")
    assert statuses(run(cli, "--check", *args)) == ["changed"]
    assert "floor3" not in server.connection().getPrinters()
    assert statuses(run(cli, *args)) == ["changed"]
    got = attrs(server, "floor3")
    assert got["printer-location"] == "Floor 3" and got["printer-is-shared"] is True
    assert got["printer-is-accepting-jobs"] is True and got["printer-state"] == 3
    assert statuses(run(cli, *args)) == ["ok"]
    out = run(cli, "printer", "add", "floor3", "--uri", "file:///dev/null", "--driver", MODEL,
              "--location", "Floor 3, east")
    assert [c["field"] for c in out["results"][0]["changes"]] == ["location", "shared"]
    assert attrs(server, "floor3")["printer-location"] == "Floor 3, east"

    assert statuses(run(cli, "printer", "set", "floor3", "number-up=2",
                        "job-priority=60")) == ["changed"]
    got = attrs(server, "floor3")
    assert (got["number-up-default"], got["job-priority-default"]) == (2, 60)
    assert statuses(run(cli, "printer", "set", "floor3", "number-up=2")) == ["ok"]
    # the text-only driver decides `sides`: said, not reported as done
    out = run(cli, "printer", "set", "floor3", "duplex=on", code=1)
    assert "kept its own default for sides" in out["results"][0]["error"]

    assert statuses(run(cli, "printer", "default", "floor3")) == ["changed"]
    assert server.connection().getDefault() == "floor3"
    assert "system default destination: floor3" in lpstat("-d")
    assert statuses(run(cli, "printer", "default", "floor3")) == ["ok"]

    assert statuses(run(cli, "--check", "printer", "remove", "floor3")) == ["changed"]
    assert "floor3" in server.connection().getPrinters()
    assert statuses(run(cli, "printer", "remove", "floor3")) == ["changed"]
    assert "floor3" not in server.connection().getPrinters()
    assert statuses(run(cli, "printer", "remove", "floor3")) == ["ok"]


def test_device_uri_credentials_come_from_a_secret_and_stay_masked(
        server: CupsServer, cli: Cli, tmp_path: Path) -> None:
    password = "Pr1nt-Canary.4711"
    uri = f"ipp://svc:{password}@127.0.0.1:9/printers/floor9"
    # in argv it is refused (it would show in `ps`): exit 2, nothing made
    r = cli("-p", "lab", "printer", "add", "floor9", "--uri", uri, "--driver", MODEL)
    assert r.returncode == 2 and "--uri-secret" in r.stderr
    assert "floor9" not in server.connection().getPrinters()
    secret = tmp_path / "uri"
    secret.write_text(uri + "\n")
    secret.chmod(0o600)
    r = cli("-p", "lab", "-o", "json", "printer", "add", "floor9", "--uri-secret",
            f"file:{secret}", "--driver", MODEL)
    assert r.returncode == 0, r.stderr
    [change] = [c for c in json.loads(r.stdout)["results"][0]["changes"]
                if c["field"] == "device_uri"]
    assert change["after"] == "ipp://svc:********@127.0.0.1:9/printers/floor9"
    # the server has the credentials (its own file), adminkit's outputs never do
    assert uri in (server.dir / "etc" / "printers.conf").read_text() or \
        "floor9" in server.connection().getPrinters()
    shown = cli("-p", "lab", "-o", "json", "printer", "show", "floor9").stdout
    again = cli("-p", "lab", "-o", "json", "printer", "add", "floor9", "--uri-secret",
                f"file:{secret}", "--driver", MODEL)
    assert json.loads(again.stdout)["results"][0]["status"] == "ok"
    journal = cli("journal", "list", "-o", "json").stdout
    for text in (r.stdout, r.stderr, shown, again.stdout, journal):
        assert password not in text
    for f in cli.journal.parent.glob(cli.journal.name + "*"):
        assert password.encode() not in f.read_bytes()


def test_test_page_reports_its_job(server: CupsServer, cli: Cli) -> None:
    out = run(cli, "printer", "test-page", "back-office")
    job_id = out["results"][0]["data"]["job_id"]
    found = server.connection().getJobAttributes(job_id)
    assert found["job-name"] == "adminkit test page"
    assert job_queue(server, job_id) == "back-office"
    server.connection().rejectJobs("back-office")
    r = cli("-p", "lab", "printer", "test-page", "back-office")
    assert r.returncode == 1 and "accepting" in r.stdout + r.stderr


# -- jobs -------------------------------------------------------------------------------
def test_job_list_filters(server: CupsServer, cli: Cli, doc: Path) -> None:
    mine = held(server, doc, n=2)
    alice = held(server, doc, queue="back-office", user="alice")
    rows = json.loads(cli("-p", "lab", "-o", "json", "job", "list", "-s", "lab-cups").stdout)
    assert sorted(r["id"] for r in rows) == sorted(mine + alice)
    assert {r["state"] for r in rows} == {"held"}
    rows = json.loads(cli("-p", "lab", "-o", "json", "job", "list", "-s", "lab-cups",
                          "--user", "alice").stdout)
    assert [(r["id"], r["owner"], r["printer"]) for r in rows] == [
        (alice[0], "alice", "back-office")]
    rows = json.loads(cli("-p", "lab", "-o", "json", "job", "list", "-s", "lab-cups", "--printer",
                          "front-desk", "--older-than", "1d").stdout)
    assert rows == []
    csv = cli("-p", "lab", "-o", "csv", "job", "list", "-s", "lab-cups").stdout.splitlines()
    assert csv[0] == "server,id,printer,owner,name,size_kb,state,age" and len(csv) == 4
    lp = lpstat("-o")
    assert all(f"-{j} " in lp for j in mine + alice)


def test_hold_release_cancel_restart_move(server: CupsServer, cli: Cli, doc: Path) -> None:
    server.connection().disablePrinter("front-desk")  # released jobs wait, listable
    a, b, c = held(server, doc, n=3)
    assert statuses(run(cli, "job", "hold", str(a))) == ["ok"]
    assert statuses(run(cli, "--check", "job", "release", str(a))) == ["changed"]
    assert job_state(server, a) == "held"
    assert statuses(run(cli, "job", "release", str(a), str(b))) == ["changed", "changed"]
    assert (job_state(server, a), job_state(server, b)) == ("pending", "pending")
    assert statuses(run(cli, "job", "hold", str(a))) == ["changed"]
    assert job_state(server, a) == "held"
    assert statuses(run(cli, "job", "move", str(c), "--to", "back-office")) == ["changed"]
    assert job_queue(server, c) == "back-office"
    assert statuses(run(cli, "job", "move", str(c), "--to", "back-office")) == ["ok"]
    r = cli("-p", "lab", "job", "move", str(c), "--to", "nowhere")
    assert r.returncode == 2
    assert statuses(run(cli, "job", "cancel", str(b))) == ["changed"]
    assert job_state(server, b) == "canceled"
    gone = json.loads(cli("-p", "lab", "-o", "json", "job", "list", "-s", "lab-cups",
                          "--state", "canceled").stdout)
    assert [(j["id"], j["state"]) for j in gone] == [(b, "canceled")]
    # finished meanwhile (or already): ok, nothing to do
    assert statuses(run(cli, "job", "cancel", str(b))) == ["ok"]
    assert statuses(run(cli, "job", "hold", str(b))) == ["ok"]
    assert statuses(run(cli, "job", "restart", str(b))) == ["changed"]
    assert job_state(server, b) == "pending"
    assert statuses(run(cli, "job", "restart", str(b))) == ["ok"]
    r = cli("-p", "lab", "job", "cancel", "99999")
    assert r.returncode == 2 and "no job 99999" in r.stdout + r.stderr


def test_purge_whole_queue_needs_force_beyond_the_limit(server: CupsServer, cli: Cli,
                                                        doc: Path) -> None:
    jobs = held(server, doc, n=30)  # the lab profile's bulk limit is 25
    other = held(server, doc, queue="back-office", n=2)
    out = run(cli, "queue", "purge", "front-desk", code=4)
    assert "over the profile's limit of 25" in out["results"][0]["error"]
    assert active(server, "front-desk") == jobs
    out = run(cli, "--check", "queue", "purge", "front-desk", "--force")
    assert statuses(out) == ["changed"] and out["results"][0]["data"]["jobs"] == 30
    assert out["results"][0]["data"]["ids"] == f"{jobs[0]}-{jobs[-1]}"  # every id, in runs
    assert active(server, "front-desk") == jobs
    assert statuses(run(cli, "queue", "purge", "front-desk", "--force")) == ["changed"]
    assert active(server, "front-desk") == []
    assert active(server, "back-office") == other
    assert all(job_state(server, j) == "canceled" for j in jobs[:3])
    assert statuses(run(cli, "queue", "purge", "front-desk")) == ["ok"]


def test_purge_one_users_jobs(server: CupsServer, cli: Cli, doc: Path) -> None:
    mine = held(server, doc, n=2)
    alice = held(server, doc, n=3, user="alice")
    out = run(cli, "queue", "purge", "front-desk", "--user", "alice")
    assert out["results"][0]["data"]["owners"] == {"alice": 3}
    assert active(server, "front-desk") == mine
    assert all(job_state(server, j) == "canceled" for j in alice)


def test_a_queue_whose_name_needs_percent_encoding(server: CupsServer, cli: Cli,
                                                  doc: Path) -> None:
    # CUPS reports a job's queue percent-encoded (Drucker-B%C3%BCro%2520x): read as
    # such, the queue had no jobs, and its purge was `ok` with every job left
    name = "Drucker-Büro%20x"
    assert statuses(run(cli, "printer", "add", name, "--uri", "file:///dev/null",
                        "--driver", MODEL)) == ["changed"]
    jobs = held(server, doc, queue=name, n=3)
    rows = json.loads(cli("-p", "lab", "-o", "json", "job", "list", "--printer", name).stdout)
    assert [(r["id"], r["printer"]) for r in rows] == [(j, name) for j in jobs]
    listed = json.loads(cli("-p", "lab", "-o", "json", "printer", "list").stdout)
    assert [p["jobs"] for p in listed if p["name"] == name] == [3]
    assert statuses(run(cli, "job", "move", str(jobs[0]), "--to", "back-office")) == [
        "changed"]
    assert statuses(run(cli, "job", "move", str(jobs[0]), "--to", name)) == ["changed"]
    assert job_queue(server, jobs[0]) == name.replace("%", "%25").replace("ü", "%C3%BC")
    out = run(cli, "queue", "purge", name)
    assert out["results"][0]["data"]["jobs"] == 3
    assert active(server, name.replace("%", "%25").replace("ü", "%C3%BC")) == []
    assert all(job_state(server, j) == "canceled" for j in jobs)


# -- bad input, servers down, authorization --------------------------------------------
@pytest.mark.parametrize("args", [
    ("printer", "pause", "a/b"), ("printer", "show", "a#b"), ("printer", "resume", "a b"),
    ("printer", "add", "x" * 128, "--uri", "file:///dev/null"), ("job", "cancel", "12x"),
    ("job", "move", "1", "--to", "bad/name"), ("queue", "purge", "a b"),
    ("job", "list", "--older-than", "2 hours"),
])
def test_bad_input_is_exit_2_before_any_server(cli: Cli, lab_config_dir: Path,
                                               args: tuple[str, ...]) -> None:
    # the only print server does not answer: had it been asked, the exit would be 3
    name = profile(lab_config_dir, "print-down", [
        {"name": "gone", "kind": "cups", "host": "127.0.3.250", "port": 6310}])
    r = cli("-p", name, *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "gone" not in r.stderr and "Traceback" not in r.stderr


def test_server_down_is_exit_3_naming_it(cli: Cli, lab_config_dir: Path) -> None:
    name = profile(lab_config_dir, "print-down", [
        {"name": "gone", "kind": "cups", "host": "127.0.3.250", "port": 6310}])
    for args in (("printer", "list"), ("printer", "pause", "front-desk"), ("job", "cancel", "1")):
        r = cli("-p", name, *args)
        assert r.returncode == 3, r.stdout + r.stderr
        assert "print server gone (127.0.3.250:6310)" in r.stdout + r.stderr


def test_a_server_down_among_several_is_named_the_others_listed(
        server: CupsServer, cli: Cli, lab_config_dir: Path) -> None:
    name = profile(lab_config_dir, "print-two", [
        {"name": "lab-cups", "kind": "cups", "host": "127.0.0.1", "port": 6310},
        {"name": "gone", "kind": "cups", "host": "127.0.3.250", "port": 6310}])
    r = cli("-p", name, "-o", "json", "printer", "list")
    assert r.returncode == 3 and "print server gone" in r.stderr
    assert {p["name"] for p in json.loads(r.stdout)} == {"front-desk", "back-office"}


def test_not_authorized_then_the_profiles_operator(server: CupsServer, cli: Cli,
                                                   lab_config_dir: Path,
                                                   tmp_path: Path) -> None:
    server.connection().setPrinterOpPolicy("front-desk", "secured")
    r = cli("-p", "lab", "printer", "pause", "front-desk")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "not authorized" in r.stdout and "user` and `password" in r.stdout
    assert operator_state(server) == 3
    name = operator_profile(server, lab_config_dir, tmp_path)
    r = cli("-p", name, "printer", "pause", "front-desk")
    assert r.returncode == 0, r.stdout + r.stderr
    assert operator_state(server) == 5


def operator_profile(server: CupsServer, lab_config_dir: Path, tmp_path: Path) -> str:
    """A profile that names the `secured` policy's user and password."""
    secret = tmp_path / "op.secret"
    secret.write_text(server.operator_password())
    secret.chmod(0o600)
    return profile(lab_config_dir, "print-op", [
        {"name": "lab-cups", "kind": "cups", "host": "127.0.0.1", "port": 6310,
         "user": "aklabop", "password": f"file:{secret}"}])


def test_a_purge_on_a_queue_that_wants_a_login(server: CupsServer, cli: Cli, doc: Path,
                                               lab_config_dir: Path, tmp_path: Path) -> None:
    # the Cancel-Jobs written whole gets 401 (nothing done), then goes through libcups
    # as the profile's operator: exactly the planned jobs, kept as history
    jobs = held(server, doc, n=3)
    other = held(server, doc, queue="back-office")
    server.connection().setPrinterOpPolicy("front-desk", "secured")
    name = operator_profile(server, lab_config_dir, tmp_path)
    r = cli("-p", name, "-o", "json", "queue", "purge", "front-desk")
    assert r.returncode == 0, r.stdout + r.stderr
    assert statuses(json.loads(r.stdout)) == ["changed"]
    password = server.operator_password()
    cups.setUser("aklabop")
    cups.setPasswordCB(lambda prompt: password)
    try:
        found = server.connection().getJobs(which_jobs="all",
                                            requested_attributes=["job-id", "job-state"])
    finally:
        cups.setUser("root")
    assert {j: STATE[found[j]["job-state"]] for j in jobs} == dict.fromkeys(jobs, "canceled")
    assert active(server, "back-office") == other
    # Basic auth went through libcups only: the password is in no output or journal
    import base64

    basic = base64.b64encode(f"aklabop:{password}".encode())
    journal = cli("-p", name, "journal", "list", "-o", "json").stdout
    for text in (r.stdout, r.stderr, journal):
        assert password not in text and basic.decode() not in text
    for f in cli.journal.parent.glob(cli.journal.name + "*"):
        assert password.encode() not in f.read_bytes()
        assert basic not in f.read_bytes()


def test_a_whole_queue_purge_keeps_the_history_cancel_a_keeps(server: CupsServer, cli: Cli,
                                                              doc: Path) -> None:
    jobs = held(server, doc, n=4, user="alice") + held(server, doc, n=2)
    assert statuses(run(cli, "queue", "purge", "front-desk")) == ["changed"]
    assert lpstat("-o", "front-desk") == ""
    done = lpstat("-W", "completed", "-o", "front-desk")
    assert sorted(int(line.split()[0].rpartition("-")[2]) for line in done.splitlines()
                  ) == jobs
    assert all(job_state(server, j) == "canceled" for j in jobs)


def operator_state(server: CupsServer) -> int:
    """front-desk's printer-state, read as the `secured` policy's user (it guards reads)."""
    password = server.operator_password()
    cups.setUser("aklabop")
    cups.setPasswordCB(lambda prompt: password)
    try:
        return int(server.connection().getPrinterAttributes("front-desk")["printer-state"])
    finally:
        cups.setUser("root")


# -- ticket notes and playbooks ----------------------------------------------------------
def test_one_note_per_action_on_the_ticket(server: CupsServer, rt: Any, cli: Cli,
                                           doc: Path) -> None:
    ticket = rt.new_ticket("The front desk printer is stuck")
    a, b = held(server, doc, n=2)
    out = run(cli, "--ticket", str(ticket), "job", "cancel", str(a), str(b))
    run_id = out["run"]["id"]
    assert statuses(out) == ["changed", "changed"]
    assert statuses(run(cli, "--ticket", str(ticket), "printer", "pause", "front-desk",
                        "--reason", "jam")) == ["changed"]
    found = notes(rt, ticket)
    assert len(found) == 3 and all(n.internal for n in found)
    assert found[0].text.startswith(f"adminkit:{run_id}:0; job.cancel job {a} "
                                     f"by {by_pytest()} ")
    assert found[1].text.startswith(f"adminkit:{run_id}:1; job.cancel job {b} "
                                     f"by {by_pytest()} ")
    assert "printer.pause front-desk" in found[2].text
    assert "pause front-desk on lab-cups" in found[2].text
    assert "state: idle -> paused" in found[2].text


def test_clear_print_queue_playbook(server: CupsServer, rt: Any, cli: Cli,
                                    doc: Path) -> None:
    ticket = rt.new_ticket("Clear the queue")
    jobs = held(server, doc, n=4)
    server.connection().disablePrinter("front-desk", reason="jam")
    server.connection().rejectJobs("front-desk")
    out = run(cli, "--check", "--ticket", str(ticket), "run", "clear-print-queue",
              "-i", "printer=front-desk")
    assert statuses(out)[:3] == ["changed", "changed", "changed"]
    assert active(server, "front-desk") == jobs
    out = run(cli, "--ticket", str(ticket), "run", "clear-print-queue", "-i",
              "printer=front-desk")
    assert statuses(out) == ["changed"] * 4, out
    assert active(server, "front-desk") != jobs and all(
        job_state(server, j) == "canceled" for j in jobs)
    got = attrs(server, "front-desk")
    assert got["printer-state"] != 5 and got["printer-is-accepting-jobs"] is True
    page = out["results"][3]["data"]["job_id"]
    assert server.connection().getJobAttributes(page)["job-name"] == "adminkit test page"
    assert len(notes(rt, ticket)) >= 4


def test_add_printer_playbook(server: CupsServer, cli: Cli) -> None:
    args = ("run", "add-printer", "-i", "printer=floor7", "-i", "uri=file:///dev/null",
            "-i", f"driver={MODEL}", "-i", "location=Floor 7")
    out = run(cli, "--check", *args)
    assert out["results"][0]["status"] == "changed"
    assert "floor7" not in server.connection().getPrinters()
    out = run(cli, *args)
    assert statuses(out) == ["changed", "skipped", "changed"], out
    assert attrs(server, "floor7")["printer-location"] == "Floor 7"
    assert statuses(run(cli, *args))[0] == "ok"


def test_restart_print_spooler_playbook_refuses_a_cups_server(server: CupsServer,
                                                              cli: Cli) -> None:
    out = run(cli, "run", "restart-print-spooler", "-i", "server=lab-cups", code=2)
    assert "for Windows print servers" in out["results"][0]["error"]
    r = cli("-p", "lab", "spooler", "restart", "--server", "lab-cups")
    assert r.returncode == 2


def test_ctrl_c_stops_a_job_by_job_cancel_and_the_resume_finishes_it(
        server: CupsServer, cli: Cli, doc: Path) -> None:
    # `job cancel` of many ids is an action per job: Ctrl-C must stop that loop, and
    # `run --resume` cancel what is left (a purge is one request: nothing to stop)
    import os
    import signal
    import time

    ids = held(server, doc, n=400, user="jnovak")
    env = {**os.environ, **cli.env}  # type: ignore[attr-defined]
    proc = subprocess.Popen([*cli.argv, "--profile", "lab", "job", "cancel",  # type: ignore[attr-defined]
                             *map(str, ids), "--force"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        while len(active(server, "front-desk")) == len(ids):  # cancelling has begun
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    left = active(server, "front-desk")
    assert left, "the cancelling went on to the last job after Ctrl-C"
    assert "adminkit run --resume" in err
    again = cli("run", "--resume", "last")
    assert again.returncode == 0, again.stdout + again.stderr
    assert active(server, "front-desk") == []


# -- a purge cancels what it planned, nothing submitted after ----------------------------
class _SubmitBeforeApply:
    """A run hook that, once the purge is planned and guarded and about to be applied,
    has users submit more jobs to the same queue: the race the bulk limit must survive."""

    def __init__(self, submit: Callable[[], list[int]]) -> None:
        self.submit = submit
        self.late: list[int] = []

    def run_started(self, run: Any) -> None:
        pass

    def action_finished(self, run: Any, index: int, result: Any) -> None:
        pass

    def run_finished(self, run: Any, report: Any) -> None:
        pass

    def actions_starting(self, run: Any, starting: list[Any]) -> None:
        self.late += self.submit()


@pytest.mark.parametrize("how", [{}, {"user": "alice"}, {"older_than": 1}])
def test_a_purge_cancels_exactly_the_planned_jobs(server: CupsServer, doc: Path,
                                                  lab_config_dir: Path,
                                                  how: dict[str, Any]) -> None:
    import time

    from adminkit.core.config import load_profile
    from adminkit.core.context import Context
    from adminkit.core.run import Run
    from adminkit.core.runner import Runner
    from adminkit.printing.actions.queue import PurgeParams, PurgeQueue

    planned = held(server, doc, n=20, user="alice") + held(server, doc, n=3)
    if "older_than" in how:
        time.sleep(1.1)  # the planned jobs are a second old, the late ones are not
    hook = _SubmitBeforeApply(lambda: held(server, doc, n=5, user="alice")
                              + held(server, doc, n=2, user="bob"))
    ctx = Context(run=Run(command="queue purge front-desk"),
                  profile=load_profile("lab", lab_config_dir))
    action = PurgeQueue(PurgeParams(printer="front-desk", force=True, **how))
    try:
        [result] = Runner(ctx, [hook]).execute([action]).results
    finally:
        ctx.close()
    assert result.status.value == "changed", result
    assert len(hook.late) == 7
    gone = planned[:20] if "user" in how else planned
    assert result.data["jobs"] == len(gone)
    assert all(job_state(server, j) == "canceled" for j in gone)
    # submitted between the plan and the purge: untouched, still waiting
    assert active(server, "front-desk") == sorted(set(planned) - set(gone)) + hook.late


def test_a_purge_of_jobs_that_finished_or_moved_meanwhile(server: CupsServer, doc: Path,
                                                          lab_config_dir: Path,
                                                          tmp_path: Path) -> None:
    # CUPS refuses a Cancel-Jobs whose ids are not all the queue's: the ones still there
    # are sent again, the others reported as finished meanwhile, by id in the journal
    import sqlite3

    from adminkit.core.config import load_profile
    from adminkit.core.context import Context
    from adminkit.core.run import Run
    from adminkit.core.runner import Runner
    from adminkit.journal.hook import JournalHook
    from adminkit.journal.store import Journal
    from adminkit.printing.actions.queue import PurgeParams, PurgeQueue
    from adminkit.printing.idranges import id_ranges

    jobs = held(server, doc, n=6)
    conn = server.connection()

    def meanwhile() -> list[int]:
        conn.moveJob(job_id=jobs[0], job_printer_uri="ipp://localhost/printers/back-office")
        conn.cancelJob(jobs[1], purge_job=True)  # gone, history too
        return []

    ctx = Context(run=Run(command="queue purge front-desk"),
                  profile=load_profile("lab", lab_config_dir))
    journal = Journal(tmp_path / "journal.db")
    try:
        [result] = Runner(ctx, [_SubmitBeforeApply(meanwhile), JournalHook(journal)]
                          ).execute([PurgeQueue(PurgeParams(printer="front-desk"))]).results
    finally:
        ctx.close()
        journal.close()
    assert result.status.value == "changed", result
    assert result.data["finished_meanwhile"] == 2
    named = id_ranges(jobs[:2])
    assert result.data["finished_meanwhile_ids"] == named
    db = sqlite3.connect(tmp_path / "journal.db")
    [(detail,)] = db.execute("SELECT detail FROM entries WHERE kind = 'action' AND "
                             "status = 'changed'").fetchall()
    db.close()
    assert json.loads(detail)["finished_meanwhile_ids"] == named
    assert active(server, "front-desk") == []
    assert active(server, "back-office") == [jobs[0]]


def test_device_uri_credentials_in_the_query_stay_masked(server: CupsServer, cli: Cli,
                                                         tmp_path: Path, rt: Any) -> None:
    password = "Qry-Canary.4712"
    uri = f"ipp://127.0.0.1:9/printers/floor8?user=svc&password={password}&waitjob=false"
    r = cli("-p", "lab", "printer", "add", "floor8", "--uri", uri, "--driver", MODEL)
    assert r.returncode == 2 and "--uri-secret" in r.stderr and password not in r.stderr
    assert "floor8" not in server.connection().getPrinters()
    secret = tmp_path / "uri"
    secret.write_text(uri + "\n")
    secret.chmod(0o600)
    ticket = rt.new_ticket("New printer on floor 8")
    r = cli("-p", "lab", "-o", "json", "--ticket", str(ticket), "printer", "add", "floor8",
            "--uri-secret", f"file:{secret}", "--driver", MODEL)
    assert r.returncode == 0, r.stdout + r.stderr
    [change] = [c for c in json.loads(r.stdout)["results"][0]["changes"]
                if c["field"] == "device_uri"]
    masked = "ipp://127.0.0.1:9/printers/floor8?user=svc&password=********&waitjob=false"
    assert change["after"] == masked
    # the server keeps (and reports) the credentials; adminkit shows them masked
    assert password in server.connection().getPrinterAttributes("floor8")["device-uri"]
    shown = cli("-p", "lab", "-o", "json", "printer", "show", "floor8").stdout
    assert json.loads(shown)["device_uri"] == masked
    listed = cli("-p", "lab", "printer", "list").stdout
    removed = cli("-p", "lab", "-o", "json", "--ticket", str(ticket), "printer", "remove",
                  "floor8")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    journal = cli("journal", "list", "-o", "json").stdout
    found = [n.text for n in notes(rt, ticket)]
    assert len(found) == 2 and "password=********" in found[0]
    texts = [r.stdout, r.stderr, shown, listed, removed.stdout, journal, *found]
    for text in texts:
        assert password not in text
    for f in cli.journal.parent.glob(cli.journal.name + "*"):  # type: ignore[attr-defined]
        assert password.encode() not in f.read_bytes()
