"""The lab as a whole: which servers exist, installing them, bringing them up and down.

`adminkit lab up` and the pytest fixtures both go through `Lab`. It installs what is
missing, starts what is not running (idempotent), waits for real readiness and
writes the `lab` and `lab-openldap` profiles pointing at the servers.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adminkit.core import config, paths
from adminkit.core.errors import LabError, UsageError
from adminkit.core.files import write_private
from adminkit.lab.base import LabServer, ServerStatus
from adminkit.lab.install import InstallReport, apt_install, failure_line

# name -> "module:Class"; imported only when used, so `--help` stays light.
SERVERS: dict[str, str] = {
    "samba": "adminkit.lab.samba:SambaServer",
    "slapd": "adminkit.lab.slapd:SlapdServer",
    "cups": "adminkit.lab.cups:CupsServer",
    "ssh": "adminkit.lab.ssh:SshFleet",
    "rt": "adminkit.lab.rt:RequestTracker",
    "smtp": "adminkit.lab.smtp:SmtpSink",
    "redmine": "adminkit.lab.redmine:RedmineServer",
    "graph": "adminkit.lab.graph:GraphServer",
    "winrm": "adminkit.lab.winrm:WinRMLab",
}

# Which profile a server's `directory` section belongs to; other sections go in both.
DIRECTORY_PROFILE = {"samba": "lab", "slapd": "lab-openldap", "graph": "lab-entra"}
PROFILE_DESCRIPTIONS = {
    "lab": "The adminkit lab: Samba AD, CUPS, SSH hosts, Request Tracker, SMTP sink on loopback",
    "lab-openldap": "The adminkit lab with OpenLDAP as the directory",
    "lab-entra": "The adminkit lab with Entra ID (the lab's Microsoft Graph fake) as the directory",
}
# A server whose sections make a profile of their own: a copy of another profile with
# them on top (a second ticket system: one profile has one). Written once it is set up.
OVERLAY_PROFILES = {"redmine": ("lab-redmine", "lab",
                                "The adminkit lab with Redmine as the ticket system")}


class Lab:
    def __init__(self, lab_dir: Path | None = None, config_dir: Path | None = None) -> None:
        self.dir = (lab_dir or paths.default_lab_dir()).absolute()
        self.config_dir = config_dir

    # -- selection ----------------------------------------------------------------
    def names(self, wanted: Iterable[str] | None = None) -> list[str]:
        wanted = list(wanted or [])
        unknown = [n for n in wanted if n not in SERVERS]
        if unknown:
            raise UsageError(f"unknown lab server(s): {', '.join(unknown)}",
                             hint=f"choose from {', '.join(SERVERS)}")
        return wanted or list(SERVERS)

    def server(self, name: str) -> LabServer:
        module, _, cls = SERVERS[name].partition(":")
        server_cls = getattr(importlib.import_module(module), cls)
        server: LabServer = server_cls(self.dir)
        return server

    def _installed_server(self, name: str) -> LabServer | None:
        """The server, or None if its module is absent (a trimmed install)."""
        module = SERVERS[name].partition(":")[0]
        try:
            return self.server(name)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None
            raise

    def servers(self, wanted: Iterable[str] | None = None) -> list[LabServer]:
        return [self.server(n) for n in self.names(wanted)]

    # -- install ------------------------------------------------------------------
    def missing_packages(self, servers: Sequence[LabServer]) -> list[str]:
        wanted = sorted({p for s in servers for p in s.apt_packages})
        if not wanted:
            return []
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *wanted],
            capture_output=True, text=True, check=False,
        ).stdout
        installed = {ln.split()[0] for ln in out.splitlines() if ln.split()[1:2] == ["ii"]}
        return [p for p in wanted if p not in installed]

    @property
    def install_log(self) -> Path:
        return self.dir / "install.log"

    def install(self, wanted: Iterable[str] | None = None, *,
                progress: Callable[[str], None] | None = None) -> InstallReport:
        """Install the Python and Debian packages the chosen servers lack.

        The output of pip and apt goes to `install_log` (rewritten on each install that
        has something to do); `progress` hears a line when work starts.
        """
        servers = self.servers(wanted)
        needs = sorted({req for s in servers for mod, req in s.python_needs.items()
                        if importlib.util.find_spec(mod) is None})
        missing = self.missing_packages(servers)
        if not needs and not missing:
            return InstallReport()
        if missing and os.geteuid() != 0:
            raise LabError(f"the lab needs these Debian packages: {' '.join(missing)}",
                           hint="run `adminkit lab install` as root, or apt-get install them")
        log = self.install_log
        self.dir.mkdir(parents=True, exist_ok=True)
        log.write_text(f"# adminkit lab install, {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
        if progress is not None:
            what = " and ".join(x for x in (
                f"{len(needs)} Python" if needs else "",
                f"{len(missing)} Debian" if missing else "") if x)
            progress(f"installing {what} package(s); details in {log}")
        if needs:
            _pip_install(needs, log)
        report = InstallReport(log=log)
        if missing:
            report = apt_install(
                missing, log, debconf=[line for s in servers for line in s.debconf])
        return replace(report, python=tuple(needs))

    # -- lifecycle ----------------------------------------------------------------
    def up(self, wanted: Iterable[str] | None = None, *, install: bool = True) -> list[str]:
        """Start what is not running; return the names this call started."""
        servers = self.servers(wanted)
        if install:
            self.install([s.name for s in servers])
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o711)
        started: list[LabServer] = []
        try:
            for server in servers:
                if server.is_running():
                    server.wait_ready()
                    continue
                server.stop()  # clear a stale record (a server that died)
                if not server.is_set_up():
                    server.setup()
                started.append(server)
                server.start()
                server.wait_ready()
            self.write_profiles()
        except BaseException:
            for server in reversed(started):  # leave nothing running that we started
                server.stop()
            raise
        return [s.name for s in started]

    def down(self, wanted: Iterable[str] | None = None) -> list[str]:
        stopped = []
        for server in reversed(self.servers(wanted)):
            if server.procs.load(server.name):
                stopped.append(server.name)
            server.stop()  # also when unrecorded: a server may find its own orphans
        return stopped

    def reset(self, wanted: Iterable[str] | None = None) -> None:
        for server in self.servers(wanted):
            if server.is_set_up():
                server.reset()

    def status(self, wanted: Iterable[str] | None = None) -> list[ServerStatus]:
        return [s.status() for s in self.servers(wanted)]

    def destroy(self) -> None:
        """Stop everything and remove the lab folder (`lab down --purge`)."""
        self.down()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- profiles -----------------------------------------------------------------
    def profile_data(self) -> dict[str, dict[str, Any]]:
        profiles: dict[str, dict[str, Any]] = {
            name: {"description": text} for name, text in PROFILE_DESCRIPTIONS.items()
        }
        for name in SERVERS:
            server = self._installed_server(name)
            if server is None or not server.is_set_up() or name in OVERLAY_PROFILES:
                continue
            for section, value in server.profile().items():
                # a directory and its policy belong to that directory's profile only
                targets = ([DIRECTORY_PROFILE[server.name]]
                           if section in ("directory", "policy")
                           and server.name in DIRECTORY_PROFILE else list(profiles))
                for target in targets:
                    _merge(profiles[target], section, value)
        for name, (overlay, under, text) in OVERLAY_PROFILES.items():
            server = self._installed_server(name)
            if server is not None and server.is_set_up():
                profiles[overlay] = {**copy.deepcopy(profiles[under]), "description": text,
                                     **server.profile()}
        return profiles

    def write_profiles(self) -> list[Path]:
        written = []
        for name, data in self.profile_data().items():
            path = config.profile_path(name, self.config_dir)
            paths.private_dir(path.parent)  # what `adminkit doctor` expects of a config
            paths.tighten(path.parent, 0o700, "the profiles folder")
            header = "# Written by `adminkit lab up`; rewritten on every start.\n"
            write_private(path, (header + config.dump_profile(data)).encode())
            written.append(path)
        return written


def _pip_install(requirements: Sequence[str], log: Path) -> None:
    """pip into the interpreter that runs adminkit (the venv), its output to `log`."""
    argv = [sys.executable, "-m", "pip", "install", "-q", *requirements]
    with open(log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        raise LabError(f"pip install failed (exit {code}): {failure_line(log)}",
                       hint=f"pip's output is in {log}")


def _merge(profile: dict[str, Any], section: str, value: Any) -> None:
    """Copies: the same server's value goes into several profiles, each merged further."""
    if isinstance(value, list):
        profile.setdefault(section, []).extend(copy.deepcopy(value))
    elif isinstance(value, dict) and isinstance(profile.get(section), dict):
        for key, item in value.items():  # two servers' hosts: one inventory with both
            _merge(profile[section], key, item)
    else:
        profile[section] = copy.deepcopy(value)
