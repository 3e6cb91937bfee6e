"""A Windows host for the deploy scripts (adminkit/deploy/scripts): winget, Chocolatey,
msiexec, the Uninstall keys, facts, and programs for `host run`.

It answers as the scripts would, from a model: winget's sources and what it has
installed, the MSI files it can reach and the products they install, a pending reboot.
Exit codes are winget's HRESULTs (reported signed, as PowerShell reads them, or unsigned
after `{"unsigned": true}`) and msiexec's numbers. Tests steer it through
`control`: {"exit": {"winget install Id": code}} answers the next such call with `code`,
{"hang": "winget install Id"} never finishes it, {"installed": {...}}, {"unsigned": bool},
{"reboot_delay": seconds} how long a Restart-Computer keeps the host down (null: it
never comes back).

Restart-Computer (deploy.reboot) answers first, as the cmdlet does once the restart is
under way; a moment later the host's WinRM answers 503 (http.sys with the service
stopped) and forgets its shells, and after the delay it answers again with a new
LastBootUpTime (deploy.boot).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adminkit.lab.winrm_fake import FakeHost, Outcome, ScriptError, handler, model_of

REBOOT = 0x8A150109
NO_UPDATE = 0x8A15002B
ALREADY = 0x8A150061
NOT_FOUND = 0x8A150014
GIB = 1 << 30
SHARE = "\\\\files.lab.example.test\\msi\\"
WEB = "https://files.lab.example.test/msi/"


@dataclass(frozen=True)
class MsiFile:
    display_name: str
    version: str
    product_code: str
    exit_code: int = 0  # what msiexec answers when it installed it (3010, 1641)


MSI_FILES = {
    SHARE + "agent-1.2.0.msi": MsiFile("Contoso Agent", "1.2.0",
                                       "{6F1C2B8E-2A51-4B3C-9C1D-0A1B2C3D4E01}"),
    SHARE + "agent-1.3.0.msi": MsiFile("Contoso Agent", "1.3.0",
                                       "{6F1C2B8E-2A51-4B3C-9C1D-0A1B2C3D4E02}", 3010),
    WEB + "reporter-5.0.msi": MsiFile("Contoso Reporter", "5.0",
                                      "{0B7E4D21-5C3A-4E8F-A1B2-C3D4E5F60718}", 1641),
}
SOURCE = {  # winget id -> versions its source offers, newest first
    "Mozilla.Firefox": ["129.0.1", "128.0.3"],
    "7zip.7zip": ["24.08", "23.01"],
    "Notepad++.Notepad++": ["8.7", "8.6.9"],
    "Contoso.Driver": ["2.0", "1.0"],  # its installer asks for a reboot
}
NEEDS_REBOOT = {"Contoso.Driver"}
CHOCO_SOURCE = {  # Chocolatey package -> versions on its feed (in no promised order)
    "git": ["2.45.2", "2.46.0"],
    "notepadplusplus": ["8.6.9", "8.7"],
    "vcredist140": ["14.38.33135", "14.40.33810"],  # its installer answers 3010
}
CHOCO_REBOOT = {"vcredist140"}


class WindowsHost:
    def __init__(self, host: FakeHost) -> None:
        self.host = host
        self.lock = threading.Lock()
        self.os, self.version, self.build = ("Microsoft Windows Server 2022 Standard",
                                             "10.0.20348", "20348")
        self.booted = time.time() - 3 * 86400
        self.reboot_pending = False
        self.reboots = 0
        self.free_disk = 48 * GIB
        self.managers = ["winget", "choco"]
        self.source = {k: list(v) for k, v in SOURCE.items()}
        self.installed: dict[str, str] = {"7zip.7zip": "23.01"}  # what winget sees
        self.choco: dict[str, str] = {"git": "2.45.2"}  # what Chocolatey installed
        self.products: dict[str, tuple[str, str]] = {}  # display name -> (version, code)
        self.exits: dict[str, int] = {}  # "winget install Id" -> the next answer
        self.hangs: set[str] = set()
        self.unsigned = False
        self.history: list[str] = []  # what ran, in order ("winget install Id 1.0", …)
        self.reboot_delay: float | None = 1.0  # seconds a Restart-Computer keeps it down
        self.down = False

    # -- for tests ----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"installed": dict(self.installed), "choco": dict(self.choco),
                    "products": {k: list(v) for k, v in self.products.items()},
                    "reboot_pending": self.reboot_pending, "reboots": self.reboots,
                    "down": self.down, "history": list(self.history)}

    def control(self, do: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.exits.update({str(k): int(v) for k, v in (do.get("exit") or {}).items()})
            if do.get("hang"):
                self.hangs.add(str(do["hang"]))
            if "installed" in do:
                self.installed = {str(k): str(v) for k, v in do["installed"].items()}
            if "choco" in do:
                self.choco = {str(k): str(v) for k, v in do["choco"].items()}
            if "unsigned" in do:
                self.unsigned = bool(do["unsigned"])
            if "managers" in do:
                self.managers = [str(m) for m in do["managers"]]
            if "reboot_delay" in do:
                delay = do["reboot_delay"]
                self.reboot_delay = None if delay is None else float(delay)
        return self.snapshot()

    def code(self, value: int) -> int:
        """An HRESULT as PowerShell's $LASTEXITCODE holds it (signed), or unsigned."""
        return value if self.unsigned or value < 0x80000000 else value - (1 << 32)

    def scripted(self, key: str) -> tuple[int | None, bool]:
        with self.lock:
            self.history.append(key)
            return self.exits.pop(key, None), key in self.hangs

    def reboot(self) -> None:
        """The installer restarted the host: uptime starts again, shells are gone."""
        self.booted, self.reboot_pending = time.time(), False
        self.reboots += 1
        self.host.inject("shell_lost", times=1)

    def restart(self, going: float = 0.3) -> None:
        """Restart-Computer: down `going` seconds from now (503, shells forgotten), back
        `reboot_delay` seconds later with a new boot time (never if the delay is None)."""
        def down() -> None:
            with self.lock:
                self.down = True
                delay = self.reboot_delay
            self.host.inject("service_stopped")
            self.host.inject("shell_lost", times=1)
            if delay is not None:
                _later(delay, up)

        def up() -> None:
            with self.lock:
                self.booted, self.reboot_pending, self.down = time.time(), False, False
                self.reboots += 1
            self.host.clear("service_stopped")

        _later(going, down)

    def boot_id(self) -> str:
        with self.lock:
            return datetime.fromtimestamp(self.booted, UTC).isoformat()


def _later(seconds: float, fn: Any) -> None:
    timer = threading.Timer(seconds, fn)
    timer.daemon = True
    timer.start()


_win = model_of("windows", WindowsHost)


@handler("deploy.facts")
def facts(host: FakeHost, params: dict[str, Any]) -> dict[str, Any]:
    w = _win(host)
    return {"os": w.os, "os_version": w.version, "build": w.build,
            "uptime_seconds": int(time.time() - w.booted), "reboot_pending": w.reboot_pending,
            "free_disk_bytes": w.free_disk, "managers": list(w.managers)}


@handler("deploy.reboot_pending")
def reboot_pending(host: FakeHost, params: dict[str, Any]) -> dict[str, Any]:
    return {"reboot_pending": _win(host).reboot_pending}


@handler("deploy.boot")
def boot(host: FakeHost, params: dict[str, Any]) -> dict[str, Any]:
    return {"boot_id": _win(host).boot_id()}


@handler("deploy.reboot")
def restart(host: FakeHost, params: dict[str, Any]) -> dict[str, Any]:
    w = _win(host)
    w.scripted("Restart-Computer")
    w.restart()
    return {"requested": True}


def _product(w: WindowsHost, display_name: str) -> dict[str, Any]:
    version, code = w.products.get(display_name, (None, None))
    return {"manager": "msi", "installed": version, "product_code": code}


@handler("deploy.package_states")
def package_states(host: FakeHost, params: dict[str, Any]) -> dict[str, Any]:
    w = _win(host)
    out: dict[str, Any] = {}
    with w.lock:
        for pid in params.get("winget") or []:
            out[pid] = {"manager": "winget", "installed": w.installed.get(pid),
                        "available": list(w.source.get(pid, []))}
        for cid in params.get("choco") or []:
            out[cid] = {"manager": "choco", "installed": w.choco.get(cid),
                        "available": list(CHOCO_SOURCE.get(cid, []))}
        for msi in params.get("msi") or []:
            out[msi["name"]] = _product(w, msi["display_name"])
        every = dict(w.installed) if params.get("all") and "winget" in w.managers else {}
        choco = dict(w.choco) if params.get("all") and "choco" in w.managers else {}
    return {"packages": out, "all": every if params.get("all") else None,
            "all_choco": choco if params.get("all") else None}


@handler("deploy.outdated")
def outdated(host: FakeHost, params: dict[str, Any]) -> dict[str, Any]:
    w = _win(host)
    with w.lock:
        rows = [{"id": pid, "installed": version, "available": w.source[pid][0]}
                for pid, version in sorted(w.installed.items())
                if pid in w.source and w.source[pid][0] != version]
        if params.get("choco") and "choco" in w.managers:
            rows += [{"id": cid, "installed": version, "available": newest, "manager": "choco"}
                     for cid, version in sorted(w.choco.items())
                     if (newest := _newest(CHOCO_SOURCE.get(cid, []))) not in (None, version)]
        return {"packages": rows}


def _newest(versions: list[str]) -> str | None:
    return max(versions, key=lambda v: [int(x) for x in v.split(".")], default=None)


@handler("deploy.choco")
def choco(host: FakeHost, params: dict[str, Any]) -> Any:
    """`choco VERB ID [--version V] --yes --limit-output`: 0, the package's 3010, or 1
    (Chocolatey's failure: not on the feed, not installed)."""
    w = _win(host)
    verb, cid, version = str(params["verb"]), str(params["id"]), params.get("version")
    scripted, hang = _begin(w, "choco", verb, cid, version)
    if hang:
        return Outcome(hang=True)
    with w.lock:
        code, line = (scripted, "") if scripted is not None else _choco(w, verb, cid, version)
    return {"exit_code": code, "output": [line] if line else []}


def _begin(w: WindowsHost, manager: str, verb: str, name: str,
           version: str | None) -> tuple[int | None, bool]:
    """A manager's call: refused where the host lacks it; (an exit code a test
    scripted, whether it hangs)."""
    if manager not in w.managers:
        raise ScriptError(f"The term '{manager}.exe' is not recognized as the name of a "
                          "cmdlet, function, script file, or operable program.",
                          "CommandNotFoundException", "ObjectNotFound")
    scripted, hang = w.scripted(f"{manager} {verb} {name}" + (f" {version}" if version else ""))
    return scripted, hang or f"{manager} {verb} {name}" in w.hangs


def _choco(w: WindowsHost, verb: str, cid: str, version: str | None) -> tuple[int, str]:
    feed = CHOCO_SOURCE.get(cid, [])
    if verb == "uninstall":
        if cid not in w.choco:
            return 1, f"{cid} is not installed. Cannot uninstall a non-existent package."
        del w.choco[cid]
        return 0, f"{cid} has been successfully uninstalled."
    if not feed or (version is not None and version not in feed):
        return 1, f"{cid} not installed. The package was not found with the source(s) listed."
    if verb == "upgrade" and cid not in w.choco:
        return 1, f"{cid} is not installed. Installing..."  # choco upgrade installs; refused here
    w.choco[cid] = version or _newest(feed) or ""
    if cid in CHOCO_REBOOT:
        w.reboot_pending = True
        return 3010, f"{cid} v{w.choco[cid]} installed; a reboot is required (3010)."
    return 0, f"{cid} v{w.choco[cid]} installed."


@handler("deploy.winget")
def winget(host: FakeHost, params: dict[str, Any]) -> Any:
    w = _win(host)
    verb, pid, version = str(params["verb"]), str(params["id"]), params.get("version")
    scripted, hang = _begin(w, "winget", verb, pid, version)
    if hang:
        return Outcome(hang=True)
    with w.lock:
        code = scripted if scripted is not None else _winget(w, verb, pid, version)
    lines = {0: ["Successfully installed"], REBOOT: ["Successfully installed. Restart the "
             "application to complete the upgrade."], NO_UPDATE: ["No applicable upgrade "
             "found."], ALREADY: ["Found an existing package already installed."],
             NOT_FOUND: ["No package found matching input criteria."]}
    return {"exit_code": w.code(code), "output": lines.get(code, ["Installer failed with "
            f"exit code: {code}"]), "log": "C:\\Windows\\Temp\\adminkit-winget.log"}


def _winget(w: WindowsHost, verb: str, pid: str, version: str | None) -> int:
    offered = w.source.get(pid)
    have = w.installed.get(pid)
    if verb == "uninstall":
        if have is None:
            return NOT_FOUND
        del w.installed[pid]
        return 0
    if not offered or (version is not None and version not in offered):
        return NOT_FOUND
    want = version or offered[0]
    if verb == "upgrade" and have is None:
        return NOT_FOUND
    if have == want:
        return ALREADY if verb == "install" else NO_UPDATE
    w.installed[pid] = want
    if pid in NEEDS_REBOOT:
        w.reboot_pending = True
        return REBOOT
    return 0


@handler("deploy.msiexec")
def msiexec(host: FakeHost, params: dict[str, Any]) -> Any:
    w = _win(host)
    verb = str(params["verb"])
    target = str(params.get("source") or params.get("product_code") or "")
    scripted, hang = w.scripted(f"msiexec {verb} {target}")
    if hang:
        return Outcome(hang=True)
    log = "C:\\Windows\\Temp\\adminkit-msi.log"
    with w.lock:
        code, name = _msiexec(w, verb, target) if scripted is None else (scripted, target)
    status = ("Installation success or error status: "
              f"{code}." if verb == "install" else f"Removal success or error status: {code}.")
    if code == 1641:
        w.reboot()
    return {"exit_code": code, "log": log, "log_tail": [
        f"MSI (s) (A4:B8) [12:00:00:000]: Product: {name} -- {status}",
        "MSI (s) (A4:B8) [12:00:00:001]: Windows Installer "
        f"{'installed' if verb == 'install' else 'removed'} the product. {status}"]}


def _msiexec(w: WindowsHost, verb: str, target: str) -> tuple[int, str]:
    if verb == "install":
        msi = MSI_FILES.get(target)
        if msi is None:
            return 1619, target  # ERROR_INSTALL_PACKAGE_OPEN_FAILED
        w.products[msi.display_name] = (msi.version, msi.product_code)
        if msi.exit_code == 3010:
            w.reboot_pending = True
        return msi.exit_code, msi.display_name
    for name, (_version, code) in list(w.products.items()):
        if code.lower() == target.lower():
            del w.products[name]
            return 0, name
    return 1605, target  # ERROR_UNKNOWN_PRODUCT


@handler("deploy.run")
def run(host: FakeHost, params: dict[str, Any]) -> Any:
    w = _win(host)
    program = str(params["file"]).lower().removesuffix(".exe")
    argv = command_line_to_argv(str(params.get("arguments") or ""))
    w.scripted("run " + program)
    if program == "hostname":
        return {"exit_code": 0, "stdout": host.name.upper() + "\r\n", "stderr": "",
                "timed_out": False}
    if program == "whoami":
        return {"exit_code": 0, "stdout": host.caller().lower() + "\r\n", "stderr": "",
                "timed_out": False}
    if program == "echoargs":  # the lab's tool: each argument as it arrived, one a line
        return {"exit_code": 0, "stdout": "".join(f"{a}\r\n" for a in argv), "stderr": "",
                "timed_out": False}
    if program == "hang":  # never ends: the script kills it at its deadline
        return Outcome(result={"exit_code": 1, "stdout": "", "stderr": "", "timed_out": True},
                       busy=2)
    raise ScriptError('Exception calling "Start" with "1" argument(s): "The system cannot '
                      'find the file specified"', "Win32Exception", "NotSpecified")


def command_line_to_argv(line: str) -> list[str]:
    """How CreateProcess's C runtime (and CommandLineToArgvW) splits a command line that
    follows the program name: 2n backslashes and a quote give n and toggle quoting,
    2n+1 give n and a literal quote; other backslashes are literal."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        current: list[str] = []
        quoted = False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                count = j - i
                if j < n and line[j] == '"':
                    current.append("\\" * (count // 2))
                    if count % 2:
                        current.append('"')
                        j += 1
                    i = j
                    continue
                current.append("\\" * count)
                i = j
                continue
            if line[i] == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':  # "" inside quotes: a quote
                    current.append('"')
                    i += 2
                    continue
                quoted = not quoted
                i += 1
                continue
            current.append(line[i])
            i += 1
        args.append("".join(current))
