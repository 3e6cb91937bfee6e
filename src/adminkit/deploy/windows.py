"""The Windows host backend: WinRM (core/winrm), winget, Chocolatey and msiexec, scripts
per operation.

A package is an MSI application when the inventory's `winrm.msi` names it (its display
name and the MSI of each version); any other name is a winget id (`Mozilla.Firefox`),
installed with `--exact --silent` and the source agreements accepted, or a Chocolatey
package on a host whose inventory variable `package_manager` is `choco`. Nothing a person
typed reaches a script's text: ids, versions and sources travel in the script's JSON
parameters, checked against winget's and msiexec's grammar before any host is contacted.

Exit codes are judged here, not on the host: msiexec's (and Chocolatey's, which passes
the package's on) 3010 (reboot required) and 1641 (the installer started a reboot) are
successes, so are winget's HRESULTs 0x8A150109 (reboot
required), 0x8A15002B (no applicable update) and 0x8A150061 (already installed), which
PowerShell may report signed or unsigned (`code & 0xFFFFFFFF`). No reboot is ever made
here: msiexec runs with /norestart, and a reboot is only reported.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from adminkit.core.errors import ActionFailed, UsageError, ValidationError
from adminkit.core.winrm import Script, WinRMSession, WinRMTarget, load_script
from adminkit.deploy.backend import (
    CommandResult,
    Facts,
    PackageOutcome,
    PackageSpec,
    PackageState,
    Update,
)
from adminkit.deploy.reboot import Rebooted, wait_for_new_boot
from adminkit.deploy.settings import HostConfig, InventoryConfig, WindowsSettings

if TYPE_CHECKING:
    from adminkit.core.config import Profile

PACKAGE = "adminkit.deploy.scripts"
WINGET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")
WINGET_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}\Z")
PRODUCT_CODE = re.compile(r"^\{[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}\Z")

# winget's return codes (HRESULTs) that are not failures
WINGET_REBOOT = 0x8A150109  # APPINSTALLER_CLI_ERROR_INSTALL_REBOOT_REQUIRED_TO_FINISH
WINGET_NO_UPDATE = 0x8A15002B  # APPINSTALLER_CLI_ERROR_UPDATE_NOT_APPLICABLE
WINGET_INSTALLED = 0x8A150061  # APPINSTALLER_CLI_ERROR_PACKAGE_ALREADY_INSTALLED
WINGET_NOT_FOUND = 0x8A150014  # APPINSTALLER_CLI_ERROR_NO_APPLICATIONS_FOUND
# msiexec's
MSI_REBOOT_REQUIRED = 3010
MSI_REBOOT_STARTED = 1641
MSI_UNKNOWN_PRODUCT = 1605  # uninstall of what is not installed
MSI_BUSY = 1618  # another installation is in progress
CHOCO_PENDING_REBOOT = 350  # a reboot is pending: Chocolatey did nothing
CHOCO_SUSPENDED = 1604
MANAGERS = ("winget", "choco")
MSI_MESSAGES = {1603: "fatal error during installation", 1618: "another installation is in "
                "progress", 1619: "the MSI could not be opened", 1620: "the MSI is not valid",
                1625: "installation forbidden by policy", 1638: "another version is installed"}


def hresult(code: int) -> int:
    """An exit code as the unsigned 32-bit HRESULT (PowerShell reports -1978334967 for
    0x8A150109)."""
    return code & 0xFFFFFFFF


def open_winrm(host: HostConfig, inventory: InventoryConfig, profile: Profile) -> WindowsBackend:
    settings = inventory.winrm
    if settings is None:
        raise UsageError("the inventory has WinRM hosts but no `winrm:` settings",
                         hint="add inventory.winrm with user, password (a secret reference) "
                              "and ca_file to the profile")
    target = WinRMTarget.from_settings(host.name, host.address, settings, profile,
                                       port=host.port, section="inventory.winrm")
    if host.user:
        target = replace(target, user=host.user)
    return WindowsBackend(host, target, settings, deadline=inventory.deadline)


class WindowsBackend:
    """One Windows host: its WinRM session (one shell, deleted at `close`)."""

    transport_name = "winrm"

    def __init__(self, host: HostConfig, target: WinRMTarget, settings: WindowsSettings, *,
                 deadline: float = 600.0) -> None:
        self.host = host
        self.settings = settings
        self.deadline = deadline
        # set by the run (hosts.backend): whether it was cancelled (Ctrl-C)
        self.cancelled: Callable[[], bool] = lambda: False
        self.session = WinRMSession(replace(target, deadline=deadline),
                                    cancelled=lambda: self.cancelled())
        self._product_codes: dict[str, str] = {}
        self._seen: dict[str, str] = {}  # package -> the manager that listed it (outdated)
        self.manager = str(host.vars.get("package_manager", "winget"))
        if self.manager not in MANAGERS:
            raise UsageError(f"host {host.name}: package_manager {self.manager!r} is not one "
                             f"of {', '.join(MANAGERS)} (Windows)")

    def manager_of(self, name: str) -> str:
        """msi for the profile's MSI applications; else the manager that listed the
        package as outdated on this host (a host may have both), else the host's."""
        if name in self.settings.msi:
            return "msi"
        return self._seen.get(name, self.manager)

    def close(self) -> None:
        self.session.close()

    def probe(self) -> str:
        """`host check`: log in (TLS verified), open the shell, run a script."""
        found = self.session.run_script(load_script("adminkit.core.winrm.ps", "probe"), {},
                                        deadline=30)
        found = found if isinstance(found, dict) else {}
        return (f"logged in over WinRM as {found.get('user', '?')}, PowerShell "
                f"{found.get('powershell', '?')}")

    def _run(self, name: str, params: Mapping[str, Any], *, deadline: float | None = None,
             interruptible: bool = True) -> dict[str, Any]:
        """A script; a package write is not `interruptible`: Ctrl-C lets it finish (by
        its deadline), as stopping an installer half-way would leave the host unknown."""
        found = self.session.run_script(_script(name), params, deadline=deadline,
                                        interruptible=interruptible)
        if not isinstance(found, dict):
            raise ActionFailed(f"host {self.host.name}: deploy.{name} answered "
                               f"{type(found).__name__}, not an object")
        return found

    # -- restarting -----------------------------------------------------------------------
    def boot_id(self, deadline: float = 30.0) -> str:
        return str(self._run("boot", {}, deadline=deadline).get("boot_id", ""))

    def reboot(self, *, timeout: float | None) -> Rebooted:
        """Restart-Computer -Force; then (unless `timeout` is None) ask for the last boot
        time until it changes, at most `timeout` seconds. The shell dies with the host:
        each attempt opens a new one, and one that failed is given up."""
        before = self.boot_id()
        started = time.monotonic()
        self._run("reboot", {}, deadline=60, interruptible=False)
        self.session.close()
        if timeout is None:
            return Rebooted(before, None, time.monotonic() - started, False)

        def read(left: float) -> str:
            try:
                return self.boot_id(deadline=max(1.0, min(left, 30.0)))
            except Exception:
                self.session.close()
                raise

        return wait_for_new_boot(self.host.name, before, read, timeout=timeout,
                                 cancelled=self.cancelled, started=started)

    # -- facts --------------------------------------------------------------------------
    def reboot_pending(self) -> bool:
        """The registry's pending-reboot marks alone (deploy.reboot_pending), without the
        CIM queries of every fact."""
        return self._run("reboot_pending", {}).get("reboot_pending") is True

    def facts(self) -> Facts:
        f = self._run("facts", {})
        managers = [str(m) for m in f.get("managers") or []]
        if self.settings.msi:
            managers.append("msiexec")
        return Facts(host=self.host.name, os=str(f.get("os", "")),
                     os_version=str(f.get("os_version", "")),
                     kernel=f"build {f['build']}" if f.get("build") else "",
                     package_manager=",".join(managers),
                     uptime_seconds=_float(f.get("uptime_seconds")),
                     reboot_pending=bool(f.get("reboot_pending")),
                     free_disk_bytes=_int(f.get("free_disk_bytes")))

    # -- reading packages ---------------------------------------------------------------
    def check(self, spec: PackageSpec) -> None:
        """Refuse what winget or the profile's MSI list cannot take (exit 2)."""
        msi = self.settings.msi.get(spec.name)
        if msi is not None:
            if spec.version is not None and spec.version not in msi.versions:
                raise ValidationError(f"{spec.name} {spec.version}: no MSI for that version "
                                      f"in the profile (known: {', '.join(msi.versions)})")
            return
        manager = self.manager
        if not WINGET_ID.fullmatch(spec.name):
            raise ValidationError(f"{spec.name!r} is not a {manager} package id",
                                  hint="as `winget search` or `choco search` shows it; an "
                                       "MSI application must be listed under inventory.winrm.msi")
        if spec.version is not None and not WINGET_VERSION.fullmatch(spec.version):
            raise ValidationError(f"{spec.version!r} is not a {manager} version")

    def package_states(self, names: Sequence[str], *, refresh: str = "when-needed"
                       ) -> dict[str, PackageState]:
        """winget reads its sources itself (its cache is kept fresh by winget), so
        `refresh` changes nothing here."""
        for name in names:
            self.check(PackageSpec(name))
        by = {m: [n for n in names if self.manager_of(n) == m] for m in (*MANAGERS, "msi")}
        msi = [{"name": n, "display_name": self.settings.msi[n].display_name} for n in by["msi"]]
        found = self._run("package_states", {"winget": by["winget"], "choco": by["choco"],
                                             "msi": msi}).get("packages")
        found = found if isinstance(found, dict) else {}
        states = {}
        for name in names:
            item = found.get(name)
            row: dict[str, Any] = item if isinstance(item, dict) else {}
            installed = _version(row.get("installed"))
            if name in self.settings.msi:
                available = tuple(sorted(self.settings.msi[name].versions, key=_version_key,
                                         reverse=True))
                if row.get("product_code"):
                    self._product_codes[name] = str(row["product_code"])
            else:  # winget lists newest first; Chocolatey's order is not promised
                available = tuple(str(v) for v in row.get("available") or [])
                if self.manager_of(name) == "choco":
                    available = tuple(sorted(available, key=_version_key, reverse=True))
            states[name] = PackageState(name=name, installed=installed,
                                        candidate=available[0] if available else None,
                                        available=available)
        return states

    def installed(self) -> dict[str, str]:
        """What winget sees installed, and the profile's MSI applications found."""
        msi = [{"name": n, "display_name": m.display_name} for n, m in self.settings.msi.items()]
        found = self._run("package_states", {"winget": [], "choco": [], "msi": msi,
                                             "all": True})
        result: dict[str, str] = {}
        for key in ("all", "all_choco"):
            every = found.get(key)
            if isinstance(every, dict):
                result.update({str(k): str(v) for k, v in every.items() if v})
        named = found.get("packages") if isinstance(found.get("packages"), dict) else {}
        result.update({str(k): str(v["installed"]) for k, v in (named or {}).items()
                       if isinstance(v, dict) and v.get("installed")})
        return result

    def outdated(self, *, security_only: bool = False) -> dict[str, Update]:
        """What winget offers newer, and MSI applications with a newer MSI in the profile.
        winget does not tell security updates apart: with `security_only` nothing is
        listed (the Windows Update catalogue is not a package manager's)."""
        if security_only:
            return {}
        rows = self._run("outdated", {"choco": True}).get("packages") or []
        result = {str(r["id"]): Update(str(r["id"]), str(r["installed"]), str(r["available"]),
                                       origin=str(r.get("manager") or "winget"))
                  for r in rows if isinstance(r, dict) and r.get("id")}
        self._seen.update({name: update.origin for name, update in result.items()})
        if self.settings.msi:
            for name, state in self.package_states(list(self.settings.msi)).items():
                if state.installed and state.candidate and \
                        _version_key(state.candidate) > _version_key(state.installed):
                    result[name] = Update(name, state.installed, state.candidate,
                                          origin="inventory.winrm.msi")
        return result

    # -- writing packages ---------------------------------------------------------------
    def install(self, specs: Sequence[PackageSpec]) -> PackageOutcome:
        return self._write("install", specs)

    def upgrade(self, specs: Sequence[PackageSpec]) -> PackageOutcome:
        return self._write("upgrade", specs)

    def remove(self, names: Sequence[str], *, purge: bool = False) -> PackageOutcome:
        """`purge` changes nothing on Windows: an uninstaller takes what it takes."""
        return self._write("uninstall", [PackageSpec(n) for n in names])

    def _write(self, verb: str, specs: Sequence[PackageSpec]) -> PackageOutcome:
        """Each package in turn (winget and msiexec take one at a time), then every state
        read back from the host."""
        for spec in specs:
            self.check(spec)
        write = {"msi": self._msi, "winget": self._winget, "choco": self._choco}
        outcomes = [write[self.manager_of(spec.name)](verb, spec) for spec in specs]
        return PackageOutcome(states=self.package_states([s.name for s in specs]),
                              reboot_required=any(o.reboot_required for o in outcomes),
                              detail="; ".join(o.detail for o in outcomes if o.detail))

    def _winget(self, verb: str, spec: PackageSpec) -> PackageOutcome:
        params: dict[str, Any] = {"verb": verb, "id": spec.name}
        if spec.version is not None and verb != "uninstall":
            params["version"] = spec.version
        found = self._run("winget", params, interruptible=False)
        code = hresult(int(found.get("exit_code", -1)))
        if code == 0:
            return PackageOutcome()
        if code == WINGET_REBOOT:
            return PackageOutcome(reboot_required=True,
                                  detail=f"{spec.name}: winget: a reboot is required to finish")
        if code in (WINGET_INSTALLED, WINGET_NO_UPDATE):
            what = "already installed" if code == WINGET_INSTALLED else "no applicable update"
            return PackageOutcome(detail=f"{spec.name}: winget: {what}")
        output = "\n".join(str(line) for line in (found.get("output") or [])[-6:])
        raise ActionFailed(f"host {self.host.name}: winget {verb} {spec} failed with "
                           f"0x{code:08X}" + (f": {output}" if output else ""),
                           hint=f"winget's log on the host: {found.get('log', '?')}")

    def _choco(self, verb: str, spec: PackageSpec) -> PackageOutcome:
        params: dict[str, Any] = {"verb": verb, "id": spec.name}
        if spec.version is not None and verb != "uninstall":
            params["version"] = spec.version
        found = self._run("choco", params, interruptible=False)
        code = int(found.get("exit_code", -1))
        if code == 0:
            return PackageOutcome()
        if code in (MSI_REBOOT_REQUIRED, MSI_REBOOT_STARTED):
            what = "a reboot is required" if code == MSI_REBOOT_REQUIRED else \
                "the installer started a reboot"
            return PackageOutcome(reboot_required=True,
                                  detail=f"{spec.name}: choco: done, {what} ({code})")
        output = "\n".join(str(line) for line in (found.get("output") or [])[-6:])
        hint = {CHOCO_PENDING_REBOOT: "a reboot is pending on the host: reboot it, then run "
                "again", CHOCO_SUSPENDED: "the install was suspended: look at the host's "
                "Chocolatey log"}.get(code, "Chocolatey's log: C:\\ProgramData\\chocolatey\\logs")
        raise ActionFailed(f"host {self.host.name}: choco {verb} {spec} exited {code}"
                           + (f": {output}" if output else ""), hint=hint)

    def _msi(self, verb: str, spec: PackageSpec) -> PackageOutcome:
        msi = self.settings.msi[spec.name]
        if verb == "uninstall":
            code = self._product_codes.get(spec.name)
            if code is None:
                self.package_states([spec.name])
                code = self._product_codes.get(spec.name)
            if code is None:
                return PackageOutcome(detail=f"{spec.name}: not installed")
            if not PRODUCT_CODE.fullmatch(code):
                raise ActionFailed(f"host {self.host.name}: {spec.name}: {code!r} is not an "
                                   "MSI ProductCode (not installed from an MSI?)")
            params = {"verb": "uninstall", "product_code": code}
        else:
            version = spec.version or max(msi.versions, key=_version_key)
            source = msi.versions[version]  # checked with the profile (settings.MsiPackage)
            params = {"verb": "install", "source": source}
        found = self._run("msiexec", params, interruptible=False)
        code_ = int(found.get("exit_code", -1))
        if verb == "uninstall":
            self._product_codes.pop(spec.name, None)
        if code_ == 0:
            return PackageOutcome()
        if code_ == MSI_REBOOT_REQUIRED:
            return PackageOutcome(reboot_required=True,
                                  detail=f"{spec.name}: msiexec: done, a reboot is required (3010)")
        if code_ == MSI_REBOOT_STARTED:
            return PackageOutcome(reboot_required=True, detail=f"{spec.name}: msiexec: done, the "
                                  "installer started a reboot (1641)")
        if code_ == MSI_UNKNOWN_PRODUCT and verb == "uninstall":
            return PackageOutcome(detail=f"{spec.name}: not installed (1605)")
        tail = "\n".join(str(line) for line in (found.get("log_tail") or [])[-6:])
        raise ActionFailed(f"host {self.host.name}: msiexec {verb} {spec} exited {code_}"
                           + (f" ({MSI_MESSAGES[code_]})" if code_ in MSI_MESSAGES else "")
                           + (f": {tail}" if tail else ""),
                           hint=(f"the verbose log on the host: {found.get('log', '?')}"
                                 if code_ != MSI_BUSY else "wait for the other installation "
                                 "to end, then run again"))

    # -- commands -----------------------------------------------------------------------
    def run(self, argv: Sequence[str], *, sudo: bool = False, timeout: float | None = None,
            interruptible: bool = True) -> CommandResult:
        """`argv[0]` started with the rest as its arguments (quoted for CreateProcess;
        no shell). `sudo` changes nothing: a WinRM administrator's shell is elevated.
        Ctrl-C (if `interruptible`) tells the script to stop; the host then ends it."""
        if not argv:
            raise UsageError("an empty command")
        if any("\x00" in a for a in argv):
            raise UsageError("an argument holds a NUL character, which no command can take")
        seconds = float(timeout or self.deadline)
        started = time.monotonic()
        found = self._run("run", {"file": argv[0], "arguments": subprocess.list2cmdline(
            list(argv[1:])), "timeout": seconds}, deadline=seconds + 30,
            interruptible=interruptible)
        if found.get("timed_out"):
            raise ActionFailed(f"host {self.host.name}: {argv[0]} was ended at its deadline "
                               f"({seconds:g} s)",
                               hint="raise inventory.deadline or --timeout if it is slow")
        return CommandResult(tuple(argv), int(found.get("exit_code", -1)),
                             str(found.get("stdout") or ""), str(found.get("stderr") or ""),
                             time.monotonic() - started)


def _script(name: str) -> Script:
    return load_script(PACKAGE, name)


def _version(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Dotted versions compared part by part, numbers as numbers (10.0 > 9.1)."""
    return tuple((int(part), "") if part.isdigit() else (-1, part)
                 for part in re.split(r"[.\-+]", version))


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
