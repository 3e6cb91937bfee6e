"""The lab's WinRM fake as `adminkit lab up winrm` starts it: Windows hosts on
127.0.2.N:5986 over HTTPS with the lab's CA, in the `lab` profile as print servers, and
driven by tests over its control endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adminkit.core.context import Context
from adminkit.core.errors import ConnectionFailed
from adminkit.core.run import Run
from adminkit.core.secrets import Secret
from adminkit.core.winrm import WinRMTarget, load_script, run_script
from adminkit.lab.winrm import DOMAIN, PORT, PRINT_SERVERS, USER, WinRMLab

Cli = Callable[..., Any]
PROBE = load_script("adminkit.core.winrm.ps", "probe")


@pytest.fixture
def win(winrm_lab: WinRMLab) -> Iterator[WinRMLab]:
    winrm_lab.reset()
    yield winrm_lab
    winrm_lab.reset()


def _target(lab: WinRMLab, name: str, **kw: Any) -> WinRMTarget:
    return WinRMTarget(name, lab.addresses()[name], f"{DOMAIN}\\{USER}",
                       Secret(lab.password_file.read_text()), port=PORT, ca_file=lab.ca_file,
                       operation_timeout=1, read_timeout=5, **kw)


def test_every_host_answers_over_https_with_ntlm(win: WinRMLab) -> None:
    ctx = Context(run=Run(command="test"))
    try:
        for name in win.addresses():
            assert run_script(ctx, _target(win, name), PROBE, {"echo": name})["echo"] == name
        assert win.control("win1")["shells"] != []  # the run's shell is still open
    finally:
        ctx.close()
    for name in win.addresses():
        state = win.control(name)
        assert state["shells"] == [] and len(state["deleted"]) == 1
        assert [c["op"] for c in state["calls"]] == ["winrm.probe"]


def test_a_fault_injected_over_control_reaches_the_client(win: WinRMLab) -> None:
    win.control("win2", {"inject": {"kind": "service_stopped", "times": 1}})
    ctx = Context(run=Run(command="test"))
    try:
        with pytest.raises(ConnectionFailed, match="WinRM answered HTTP 503"):
            run_script(ctx, _target(win, "win2"), PROBE, {})
        assert run_script(ctx, _target(win, "win2"), PROBE, {"echo": 1})["echo"] == 1
    finally:
        ctx.close()


def test_the_lab_profile_names_the_windows_print_servers(win: WinRMLab, cli: Cli) -> None:
    r = cli("profile", "check", "lab", "-o", "json")
    rows = {row["target"]: row for row in json.loads(r.stdout) if row["system"] == "print"}
    for name, address in PRINT_SERVERS.items():
        row = rows[f"{name} ({address})"]
        assert row["status"] == "ok", row
        assert "WinRM as LAB\\lab-admin on Microsoft Windows Server" in row["detail"]
