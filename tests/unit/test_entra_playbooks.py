"""The shipped account playbooks, unchanged, on an Entra ID profile (the Graph fake):
what applies is done and read back; what does not apply is skipped, saying why."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture

Cli = Callable[..., Any]


def run(cli: Cli, *args: str) -> dict[str, Any]:
    r = cli("-p", "entra", "-o", "json", *args)
    assert "Traceback" not in r.err, r.err
    out: dict[str, Any] = json.loads(r.out) if r.out.strip().startswith("{") else {}
    out["_code"], out["_err"] = r.code, r.err
    return out


def statuses(out: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["action"], r["status"]) for r in out["results"]]


def test_onboard_user_check_then_apply(graph: GraphRig, cli: Cli, tmp_path: Path) -> None:
    graph.profile()
    pw = tmp_path / "pw"
    pw.mkdir(mode=0o700)
    args = ("run", "onboard-user", "-i", "given_name=Jiří", "-i", "surname=Čermák",
            "-i", "groups=Staff,Sales", "-i", f"deliver=file:{pw}")
    out = run(cli, "--check", *args)
    assert out["_code"] == 0, out
    assert graph.user("jcermak") is None
    out = run(cli, *args)
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.create", "changed"), ("account.groups", "changed")]
    user = graph.user("jcermak")
    assert user is not None and user["_password"] == (pw / "jcermak.password").read_text().strip()
    assert user["id"] in graph.group("Staff")["_members"]
    assert user["id"] in graph.group("Sales")["_members"]
    again = run(cli, *args)
    assert statuses(again) == [("account.create", "ok"), ("account.groups", "ok")]


def test_offboard_user_blocks_and_deletes_skipping_the_expiry(graph: GraphRig,
                                                               cli: Cli) -> None:
    graph.profile()
    uid = graph.user("psvoboda")["id"]  # type: ignore[index]
    args = ("run", "offboard-user", "-i", "login=psvoboda", "-i", "last_day=2031-01-31")
    out = run(cli, "--check", *args)
    assert out["_code"] == 0, out
    assert uid in graph.tenant.users
    out = run(cli, *args)
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.disable", "changed"), ("account.expire", "skipped"),
                             ("account.delete", "changed")]
    assert "no expiry date" in out["results"][1]["summary"]
    gone = graph.tenant.deleted[uid]
    assert gone["accountEnabled"] is False and gone["_sessions_revoked"] is not None


def test_reset_password_and_unlock_account(graph: GraphRig, cli: Cli, tmp_path: Path) -> None:
    graph.profile()
    pw = tmp_path / "pw"
    pw.mkdir(mode=0o700)
    out = run(cli, "run", "reset-password", "-i", "login=jnovak", "-i", f"deliver=file:{pw}")
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.password", "changed"), ("account.unlock", "skipped")]
    assert "smart lockout" in out["results"][1]["summary"]
    assert graph.user("jnovak")["_password"] == (  # type: ignore[index]
        pw / "jnovak.password").read_text().strip()
    out = run(cli, "run", "unlock-account", "-i", "login=jnovak")
    assert out["_code"] == 0, out
    assert statuses(out) == [("account.unlock", "skipped")]


def test_bulk_onboard(graph: GraphRig, cli: Cli, tmp_path: Path) -> None:
    graph.profile()
    pw = tmp_path / "pw"
    pw.mkdir(mode=0o700)
    csv = tmp_path / "hires.csv"
    csv.write_text("given_name,surname,mail\nAlena,Malá,alena.mala@contoso.example\n"
                   "Boris,Velký,\n")
    out = run(cli, "run", "bulk-onboard", "-i", f"file={csv}", "-i", f"deliver=file:{pw}")
    assert out["_code"] == 0, out
    assert {r["status"] for r in out["results"]} == {"changed"}
    assert graph.user("amala")["mail"] == "alena.mala@contoso.example"  # type: ignore[index]
    assert graph.user("bvelky") is not None
