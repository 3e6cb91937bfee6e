"""Every print command against a Windows print server: the lab's WinRM fake (`lab up
winrm`, HTTPS with the lab's CA, NTLM), through the real `adminkit` command and the real
pywinrm. Outcomes are read back from the fake's model of the print server (its control
endpoint), never through the backend under test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adminkit.lab.base import LabServer
from adminkit.lab.winrm import WinRMLab
from tests.integration.noted import by_pytest
from tests.integration.rtread import notes

pytestmark = pytest.mark.integration
pytest.importorskip("winrm")

Cli = Callable[..., Any]
S = "winps1"


@pytest.fixture
def win(winrm_lab: LabServer) -> Iterator[WinRMLab]:
    assert isinstance(winrm_lab, WinRMLab)
    winrm_lab.reset()
    yield winrm_lab
    winrm_lab.reset()


def model(win: WinRMLab, **do: Any) -> dict[str, Any]:
    found: dict[str, Any] = win.control(S, {"model": "printing", "do": do})["result"]
    return found


def run(cli: Cli, *args: str, code: int = 0) -> dict[str, Any]:
    r = cli("--profile", "lab", "-o", "json", *args, "--server", S)
    assert r.returncode == code, r.stdout + r.stderr
    out: dict[str, Any] = json.loads(r.stdout) if r.stdout.strip() else {}
    return out


def statuses(out: dict[str, Any]) -> list[str]:
    return [r["status"] for r in out["results"]]


def seed(win: WinRMLab, *jobs: dict[str, Any]) -> list[int]:
    return list(model(win, jobs=list(jobs))["added"])


def test_list_show_and_jobs(win: WinRMLab, cli: Cli) -> None:
    a, b = seed(win, {"printer": "front-desk", "owner": "jnovak", "name": "Report",
                      "status": "Paused"},
                {"printer": "back-office", "owner": "alice", "name": "CV", "age": 7200})
    rows = {r["name"]: r for r in json.loads(cli("-p", "lab", "-o", "json", "printer",
                                                 "list", "--server", S).stdout)}
    assert set(rows) == {"front-desk", "back-office"}
    assert rows["front-desk"]["jobs"] == 1 and rows["front-desk"]["default"] is True
    assert rows["front-desk"]["device_uri"] == "port:IP_10.0.0.11"
    shown = json.loads(cli("-p", "lab", "-o", "json", "printer", "show", "front-desk",
                           "--server", S).stdout)
    assert shown["location"] == "Reception" and shown["options"]["sides"] == "one-sided"
    jobs = json.loads(cli("-p", "lab", "-o", "json", "job", "list", "--server", S).stdout)
    assert [(j["id"], j["state"], j["owner"]) for j in jobs] == [
        (a, "held", "jnovak"), (b, "pending", "alice")]
    old = json.loads(cli("-p", "lab", "-o", "json", "job", "list", "--server", S,
                         "--older-than", "1h").stdout)
    assert [j["id"] for j in old] == [b]


def test_both_kinds_listed_side_by_side(win: WinRMLab, cups_server: LabServer,
                                        cli: Cli) -> None:
    seed(win, {"printer": "back-office", "owner": "alice"})
    r = cli("-p", "lab", "-o", "json", "printer", "list")
    assert r.returncode == 0, r.stderr
    found = {(p["server"], p["name"]) for p in json.loads(r.stdout)}
    assert {("lab-cups", "front-desk"), ("winps1", "front-desk"), ("winps2", "back-office")
            } <= found
    jobs = json.loads(cli("-p", "lab", "-o", "json", "job", "list").stdout)
    assert [(j["server"], j["owner"]) for j in jobs if j["server"] == S] == [(S, "alice")]
    for name in ("winps1", "winps2"):  # each listing's shell was deleted at its end
        assert win.control(name)["shells"] == []


def test_pause_resume_check_then_apply(win: WinRMLab, cli: Cli) -> None:
    assert statuses(run(cli, "--check", "printer", "pause", "front-desk")) == ["changed"]
    assert model(win)["queues"]["front-desk"]["status"] == "Normal"
    assert statuses(run(cli, "printer", "pause", "front-desk")) == ["changed"]
    assert model(win)["queues"]["front-desk"]["status"] == "Paused"
    assert statuses(run(cli, "printer", "pause", "front-desk")) == ["ok"]
    assert statuses(run(cli, "printer", "resume", "front-desk")) == ["changed"]
    assert model(win)["queues"]["front-desk"]["status"] == "Normal"
    # a Windows queue cannot refuse jobs: said before anything is done
    out = run(cli, "printer", "reject", "front-desk", code=2)
    assert "cannot refuse jobs" in out["results"][0]["error"]
    assert statuses(run(cli, "printer", "accept", "front-desk")) == ["ok"]


def test_a_pause_reason_is_not_planned_where_the_queue_keeps_none(win: WinRMLab,
                                                                  cli: Cli) -> None:
    # Win32_Printer.Pause takes no reason: the plan must not promise one
    out = run(cli, "printer", "pause", "front-desk", "--reason", "paper jam")
    assert statuses(out) == ["changed"]
    assert [c["field"] for c in out["results"][0]["changes"]] == ["state"]
    assert "keeps no reason" in out["results"][0]["summary"]
    assert model(win)["queues"]["front-desk"]["status"] == "Paused"


def test_add_set_default_test_page_remove(win: WinRMLab, cli: Cli) -> None:
    args = ("printer", "add", "floor3", "--uri", "socket://10.1.3.20:9100", "--driver",
            "Microsoft PS Class Driver", "--location", "Floor 3")
    assert statuses(run(cli, "--check", *args)) == ["changed"]
    assert "floor3" not in model(win)["queues"]
    assert statuses(run(cli, *args)) == ["changed"]
    state = model(win)
    assert state["queues"]["floor3"]["port"] == "IP_10.1.3.20"
    assert state["ports"]["IP_10.1.3.20"] == "10.1.3.20"
    assert state["queues"]["floor3"]["location"] == "Floor 3"
    assert statuses(run(cli, *args)) == ["ok"]
    assert statuses(run(cli, "printer", "set", "floor3", "duplex=on", "colour=off",
                        "media=iso_a5_148x210mm")) == ["changed"]
    q = model(win)["queues"]["floor3"]
    assert (q["duplex"], q["color"], q["paper"]) == ("TwoSidedLongEdge", False, "A5")
    assert statuses(run(cli, "printer", "set", "floor3", "duplex=on")) == ["ok"]
    assert statuses(run(cli, "printer", "default", "floor3")) == ["changed"]
    assert model(win)["default"] == "floor3"
    out = run(cli, "printer", "test-page", "floor3")
    job_id = out["results"][0]["data"]["job_id"]
    assert model(win)["jobs"][str(job_id)]["name"] == "Test Page"
    assert statuses(run(cli, "printer", "remove", "floor3")) == ["changed"]
    assert "floor3" not in model(win)["queues"]
    assert statuses(run(cli, "printer", "remove", "floor3")) == ["ok"]


def test_jobs_cancel_hold_release_restart(win: WinRMLab, cli: Cli) -> None:
    a, b = seed(win, {"printer": "front-desk", "name": "one"},
                {"printer": "front-desk", "name": "two", "status": "Error"})
    assert statuses(run(cli, "job", "hold", str(a))) == ["changed"]
    assert model(win)["jobs"][str(a)]["status"] == "Paused"
    assert statuses(run(cli, "job", "hold", str(a))) == ["ok"]
    assert statuses(run(cli, "--check", "job", "release", str(a))) == ["changed"]
    assert model(win)["jobs"][str(a)]["status"] == "Paused"
    assert statuses(run(cli, "job", "release", str(a))) == ["changed"]
    assert model(win)["jobs"][str(a)]["status"] == "Normal"
    assert statuses(run(cli, "job", "restart", str(b))) == ["changed"]
    assert model(win)["jobs"][str(b)]["status"] == "Normal"
    assert statuses(run(cli, "job", "cancel", str(a), str(b))) == ["changed", "changed"]
    assert model(win)["jobs"] == {}
    out = run(cli, "job", "move", "99", "--to", "back-office", code=2)
    assert "no job 99" in out["results"][0]["error"]
    [c] = seed(win, {"printer": "front-desk"})
    out = run(cli, "job", "move", str(c), "--to", "back-office", code=2)
    assert "cannot move" in out["results"][0]["error"]


def test_purge_and_the_bulk_limit(win: WinRMLab, cli: Cli) -> None:
    seed(win, *({"printer": "front-desk", "owner": f"u{i}"} for i in range(30)))
    [other] = seed(win, {"printer": "back-office"})
    run(cli, "queue", "purge", "front-desk", code=4)
    assert len(model(win)["jobs"]) == 31
    out = run(cli, "queue", "purge", "front-desk", "--force")
    assert out["results"][0]["data"]["jobs"] == 30
    assert list(model(win)["jobs"]) == [str(other)]
    purges = [c for c in win.control(S)["calls"] if c["op"] == "printing.queue_purge"]
    assert len(purges) == 1  # one script for the whole queue


def test_spooler_stopped_then_restarted(win: WinRMLab, cli: Cli, rt: Any) -> None:
    model(win, spooler="stopped")
    r = cli("-p", "lab", "printer", "list", "--server", S)
    assert r.returncode == 3 and "spooler does not answer" in r.stderr
    assert f"spooler restart --server {S}" in r.stderr
    seed(win, {"printer": "front-desk"})
    ticket = rt.new_ticket("The print server is wedged")
    out = run(cli, "--ticket", str(ticket), "--check", "spooler", "restart")
    assert statuses(out) == ["changed"] and model(win)["restarts"] == 0
    out = run(cli, "--ticket", str(ticket), "spooler", "restart")
    result = out["results"][0]
    assert result["status"] == "changed" and model(win)["restarts"] == 1
    assert result["data"]["before"].startswith("the spooler does not answer")
    assert result["data"]["after"] == {"front-desk": "idle, 1 job(s)",
                                       "back-office": "idle, 0 job(s)"}
    assert model(win)["spooler"] == "Running"
    assert statuses(run(cli, "printer", "pause", "front-desk")) == ["changed"]
    out = run(cli, "--ticket", str(ticket), "spooler", "restart")
    assert out["results"][0]["data"]["before"]["front-desk"] == "paused, 1 job(s)"
    found = notes(rt, ticket)
    assert len(found) == 2 and all(f"spooler.restart winps1 by {by_pytest()} " in n.text
                                   for n in found)
    assert "run spooler: restart" in found[0].text


def test_access_denied_and_missing_printer(win: WinRMLab, cli: Cli) -> None:
    model(win, deny=True)
    out = run(cli, "printer", "pause", "front-desk", code=3)
    assert "access denied" in out["results"][0]["error"]
    assert model(win)["queues"]["front-desk"]["status"] == "Normal"
    model(win, deny=False)
    out = run(cli, "printer", "pause", "nowhere", code=2)
    assert "no printer 'nowhere'" in out["results"][0]["error"]


def test_scripts_carry_no_value_from_a_person(win: WinRMLab, cli: Cli) -> None:
    hostile = "x';Remove-Printer front-desk;'"
    r = cli("-p", "lab", "-o", "json", "printer", "add", "q1", "--uri", "socket://10.9.9.9",
            "--driver", "Microsoft PS Class Driver", "--location", hostile, "--server", S)
    assert r.returncode == 0, r.stdout + r.stderr
    assert model(win)["queues"]["q1"]["location"] == hostile
    assert "front-desk" in model(win)["queues"]
    calls = win.control(S)["calls"]
    add = next(c for c in calls if c["op"] == "printing.printer_add")
    assert add["params"]["location"] == hostile


def test_clear_print_queue_and_restart_spooler_playbooks(win: WinRMLab, cli: Cli) -> None:
    seed(win, {"printer": "back-office"}, {"printer": "back-office"})
    model(win)
    run(cli, "printer", "pause", "back-office")
    base = ("--profile", "lab", "-o", "json", "run")
    r = cli(*base, "clear-print-queue", "-i", "printer=back-office", "-i", f"server={S}")
    out = json.loads(r.stdout)
    assert [x["status"] for x in out["results"]] == ["changed", "changed", "ok", "changed"]
    state = model(win)
    assert state["queues"]["back-office"]["status"] == "Normal"
    assert [j["name"] for j in state["jobs"].values()] == ["Test Page"]
    r = cli(*base, "--check", "restart-print-spooler", "-i", f"server={S}")
    assert r.returncode == 0 and model(win)["restarts"] == 0
    r = cli(*base, "restart-print-spooler", "-i", f"server={S}")
    assert r.returncode == 0, r.stdout and model(win)["restarts"] == 1


def test_add_printer_playbook(win: WinRMLab, cli: Cli) -> None:
    args = ("--profile", "lab", "-o", "json", "run", "add-printer", "-i", "printer=floor9",
            "-i", "uri=socket://10.9.0.9", "-i", "driver=Microsoft PS Class Driver",
            "-i", "duplex=true", "-i", f"server={S}")
    r = cli(args[0], args[1], args[2], args[3], "--check", *args[4:])
    out = json.loads(r.stdout)
    assert r.returncode == 0, r.stdout
    assert [x["status"] for x in out["results"]] == ["changed", "skipped", "skipped"]
    assert "floor9" not in model(win)["queues"]
    r = cli(*args)
    out = json.loads(r.stdout)
    assert [x["status"] for x in out["results"]] == ["changed"] * 3, r.stdout
    queue = model(win)["queues"]["floor9"]
    assert (queue["port"], queue["duplex"]) == ("IP_10.9.0.9", "TwoSidedLongEdge")


def test_a_purge_names_the_jobs_it_did_not_remove(win: WinRMLab,
                                                  lab_config_dir: Any) -> None:
    # the script names what it removed: a job gone meanwhile is named, not just counted
    from adminkit.core.config import load_profile
    from adminkit.printing.servers import open_server, server_config

    a, b = seed(win, {"printer": "front-desk"}, {"printer": "front-desk"})
    [other] = seed(win, {"printer": "back-office"})
    server = open_server(server_config(load_profile("lab", lab_config_dir), S))
    try:
        assert server.purge("front-desk", [a, 999_999, b, other]) == [999_999, other]
    finally:
        server.close()
    assert list(model(win)["jobs"]) == [str(other)]


def test_a_job_printed_between_the_scripts_listing_and_its_removal(win: WinRMLab,
                                                                   cli: Cli) -> None:
    # Remove-PrintJob's ObjectNotFound for a job that left meanwhile is skipped: the rest
    # of the queue is still removed, and that job is named as finished, not cancelled
    a, b, c = seed(win, *({"printer": "front-desk"} for _ in range(3)))
    model(win, finish_in_purge=[b])
    out = run(cli, "queue", "purge", "front-desk", "--force")
    [result] = out["results"]
    assert result["status"] == "changed", result
    assert result["data"]["finished_meanwhile_ids"] == str(b), result
    assert result["data"]["finished_meanwhile"] == 1
    assert model(win)["jobs"] == {}, (a, c)
