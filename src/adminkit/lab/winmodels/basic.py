"""The transport's own script, `winrm.probe`: who and where the host is."""

from __future__ import annotations

from typing import Any

from adminkit.lab.winrm_fake import FakeHost, handler


@handler("winrm.probe")
def probe(host: FakeHost, params: dict[str, Any]) -> dict[str, Any]:
    return {"computer": host.name.upper(), "user": host.caller(),
            "os": "Microsoft Windows Server 2022 Standard", "version": "10.0.20348",
            "powershell": "5.1.20348.2652", "echo": params.get("echo")}
