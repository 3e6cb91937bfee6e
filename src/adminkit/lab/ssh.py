"""A fleet of SSH hosts, each with its own package state (docs/lab.md, "ssh").

Host N is one sshd on 127.0.1.N:22 in its own mount and UTS namespace (`unshare -m -u`),
with overlayfs over /etc /usr /var /opt /home /root: what a test installs on one host
lands in that host's `upper/` folder, never on the machine or on another host. Reset
wipes the upper folders, so a reset host is the machine's own system again.

Inside a host the lab's folder is reached through a bind mount on `/run/adminkit-lab-ssh`
made before the overlays: the default lab folder is under /root, which the overlays cover
and which is 0700, so neither sshd's key lookup (done as the user) nor apt's `file:`
method (done as `_apt`) could reach it by its real path. The hosts' apt source is
`file:/run/adminkit-lab-ssh/repo`: no HTTP server, no port to pick.

Stopping a host means ending every process in its mount namespaces (a session's
`setsid sleep` keeps the overlays alive after sshd is gone). A namespace is ours only if
its overlays carry this lab's mount tag, and never the system's own.

A lab reboot: a host is a mount and UTS namespace with a PID namespace per boot. Its
HOST_INIT (the PID the lab records) sets up the mounts once, then runs each boot as
HOST_BOOT, PID 1 of a new PID namespace with its own /proc (`unshare --pid --fork
--mount-proc`). So the kernel's reboot(2), which root in a host may call (`reboot -f`,
`systemctl reboot -ff`), ends that boot's PID namespace and never the machine: RESTART
comes back as a new boot, POWER_OFF and HALT leave the host down. Each host has its own
/run (a tmpfs) and its own boot id (a file bind-mounted over
/proc/sys/kernel/random/boot_id in each boot, a new one per boot); /proc/sys,
/proc/sysrq-trigger and /sys/power are read-only in a boot. `reboot` / `shutdown -r` in
its /usr overlay are a shim that asks the boot's PID 1 to end; the host then stays down
`reboot-delay` seconds (a file in the host's folder; 1 by default, `never`: it does not
come back, `ignore`: the shim answers yes and nothing happens) and boots again.
CAP_SYS_BOOT is kept: without it reboot(2) fails with EPERM instead of restarting the
host, and in a child PID namespace it can restart nothing but the host.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from adminkit.core.errors import LabError, UsageError
from adminkit.lab import base, process, smallhost
from adminkit.lab.process import Proc

if TYPE_CHECKING:
    import paramiko

USER = "akops"
PORT = 22
MAX_HOSTS = 254  # 127.0.1.1 .. 127.0.1.254
DEFAULT_HOSTS = 3
HOSTS_ENV = "ADMINKIT_LAB_SSH_HOSTS"
VIEW = Path("/run/adminkit-lab-ssh")  # where a host sees `self.dir`
OVERLAID = ("etc", "usr", "var", "opt", "home", "root")
PACKAGE = "adminkit-demo-app"
VERSIONS = ("1.0", "1.1")
# in a host's dpkg database besides a small server's own: what Ansible needs on a host
HOST_PACKAGES = ("python3", "python3-apt")

HOST_INIT = f"""#!/bin/sh
# One lab host; run by `unshare -m -u`, so every mount below is private to it. This script
# is the host's power supply: each boot is HOST_BOOT in a PID namespace of its own.
# $1 lab ssh folder, $2 host name, $3 address, $4 mount tag (marks the overlays as ours)
set -e
SSH=$1; NAME=$2; ADDR=$3; TAG=$4; V={VIEW}
# The host's own /run (a real host's is a tmpfs of its own; Debian's /var/run is it):
# a flag such as /run/reboot-required set on one host is never the machine's.
mount -t tmpfs -o mode=0755,size=16m "$TAG-$NAME-run" /run
mkdir -p /run/sshd /run/lock "$V" && chmod 1777 /run/lock
# Then, before the overlays cover it: the lab folder, at a path everyone can traverse.
mount --bind "$SSH" "$V"
H=$V/hosts/$NAME
for d in {' '.join(OVERLAID)}; do
  mkdir -p "$H/upper/$d" "$H/work/$d"
  mount -t overlay "$TAG-$NAME-$d" -o "lowerdir=/$d,upperdir=$H/upper/$d,workdir=$H/work/$d" "/$d"
done
hostname "$NAME"
# dpkg as on a real server: fsync on every unpacked file. The build machine's Docker image
# says `force-unsafe-io` (dpkg.cfg.d); the host drops it in its own /etc overlay (a copy-up:
# the machine's file stays). Every start, so hosts set up before this drop it too.
for f in /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/*; do
  if [ -f "$f" ] && grep -q '^[[:space:]]*force-unsafe-io' "$f"; then
    sed -i '/^[[:space:]]*force-unsafe-io/d' "$f"
  fi
done
if [ ! -e /etc/adminkit-lab-host ]; then
  useradd -m -s /bin/bash -p '*' {USER}
  echo '{USER} ALL=(root) NOPASSWD: ALL' > /etc/sudoers.d/{USER}
  chmod 0440 /etc/sudoers.d/{USER}
  rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
  # a small server's dpkg database, not the build machine's (lab/smallhost.py); apt as
  # on a server: the Docker image's "no package cache" and "compressed lists" go
  [ -s "$V/dpkg-status" ] && cp "$V/dpkg-status" /var/lib/dpkg/status \
    && cp "$V/dpkg-triggers" /var/lib/dpkg/triggers/File
  rm -f /etc/apt/apt.conf.d/docker-clean /etc/apt/apt.conf.d/docker-gzip-indexes
  echo "deb [trusted=yes] file:$V/repo ./" > /etc/apt/sources.list.d/adminkit-lab.list
  echo "$ADDR $NAME" >> /etc/hosts
  echo "$NAME" > /etc/adminkit-lab-host
fi
# `reboot`, `shutdown` (and halt, poweroff, telinit, which the shim refuses) ask this
# host's init to restart the host; systemctl's power verbs are refused.
for cmd in reboot shutdown halt poweroff telinit; do
  rm -f "/usr/sbin/$cmd"; cp "$V/reboot-shim.sh" "/usr/sbin/$cmd"
done
if [ -e /usr/bin/systemctl ] && [ ! -e /usr/lib/adminkit-lab/systemctl ]; then
  mkdir -p /usr/lib/adminkit-lab && mv /usr/bin/systemctl /usr/lib/adminkit-lab/systemctl
fi
cp "$V/systemctl-guard.sh" /usr/bin/systemctl
set +e
while :; do
  cat /proc/sys/kernel/random/uuid > "$H/boot_id"  # same file: the boot's bind mount shows it
  # One boot: PID 1 of a new PID namespace (and a mount namespace with its own /proc).
  # Whatever ends that PID 1 ends every process of the boot; --kill-child: so does the
  # end of this script's unshare.
  unshare --pid --fork --mount-proc --kill-child "$V/host-boot.sh" "$H"
  case $? in
    100) ;;  # the shim's restart (HOST_BOOT exits 100)
    129) ;;  # reboot(2) RESTART in the boot: the kernel ends its PID 1 with SIGHUP
    *) exit 1 ;;  # sshd ended (the lab stops it), or poweroff/halt (SIGINT): stays down
  esac
  DELAY=$(cat "$H/reboot-delay" 2>/dev/null || echo 1)
  if [ "$DELAY" = never ]; then  # a host that never comes back (until the lab stops it)
    while :; do sleep 3600; done
  fi
  sleep "$DELAY"
  rm -f /run/reboot-required /run/reboot-required.pkgs  # /run is emptied by a boot
  echo $(( $(cat "$H/boots" 2>/dev/null || echo 0) + 1 )) > "$H/boots"
done
"""

# One boot of a lab host: PID 1 of its PID namespace, so the kernel's reboot(2) called in
# it (`reboot -f`, `systemctl reboot -ff`) ends this boot only, and /proc shows the host's
# processes only. What would reach the machine's kernel through /proc is read-only.
HOST_BOOT = """#!/bin/sh
# adminkit lab: one boot of a lab host (PID 1 of its own PID namespace). $1 host folder.
H=$1
mount -o bind,ro /proc/sys /proc/sys
[ -e /proc/sysrq-trigger ] && mount -o bind,ro /proc/sysrq-trigger /proc/sysrq-trigger
[ -d /sys/power ] && mount -o bind,ro /sys/power /sys/power
# the host's own boot id, over the kernel's (a new one at every boot of this host)
mount -o bind,ro "$H/boot_id" /proc/sys/kernel/random/boot_id
REBOOT=
trap 'REBOOT=1' USR1  # the shim's restart
trap 'exit 0' TERM  # PID 1 of a namespace gets only the signals it has a handler for
/usr/sbin/sshd -D -e -f "$H/sshd_config" &
SSHD=$!
while :; do
  wait $SSHD  # returns early for a trapped signal
  if [ -n "$REBOOT" ]; then
    sleep 0.5  # the shim's answer reaches the client first
    exit 100  # PID 1 ends: the kernel ends every other process of this boot
  fi
  kill -0 $SSHD 2>/dev/null || exit 1  # sshd ended by itself: so does the host
done
"""

# `reboot`, `shutdown` inside a lab host (written into its /usr overlay): the host's
# init restarts the host; the machine is never asked. Exit 0 at once, as systemd's do.
REBOOT_SHIM = f"""#!/bin/sh
# adminkit lab: restart this lab host only (never the machine).
case "$(basename "$0") $*" in
  "shutdown "*-r*|"shutdown "*--reboot*|"reboot"*) ;;
  *) echo "lab host: only a restart is modelled" >&2; exit 1 ;;
esac
H={VIEW}/hosts/$(cat /etc/adminkit-lab-host)
# `ignore`: a host that says yes and never goes down (a restart merely scheduled)
[ "$(cat "$H/reboot-delay" 2>/dev/null)" = ignore ] && exit 0
# PID 1 is the host's boot script only inside a lab host (never signal the machine's init)
case "$(tr '\\0' ' ' < /proc/1/cmdline)" in
  *"{VIEW}/host-boot.sh "*) kill -USR1 1 ;;
  *) echo "lab host: its init is not running" >&2; exit 1 ;;
esac
"""

# `systemctl` inside a lab host: its power verbs and --force (twice: the kernel's reboot()
# directly, bypassing any init) are refused; anything else runs the real one.
SYSTEMCTL_GUARD = """#!/bin/sh
# adminkit lab: systemctl in a lab host never restarts or powers off (the machine would).
for a in "$@"; do
  case "$a" in
    reboot|poweroff|halt|kexec|soft-reboot|suspend*|hibernate|hybrid-sleep|*.target|\\
    isolate|rescue|emergency|default|exit|switch-root|--force|--firmware-setup|\\
    --boot-loader*|-[!-]*f*)
      echo "lab host: systemctl $a is refused (a lab host shares the machine's kernel)" >&2
      exit 1 ;;
  esac
done
exec /usr/lib/adminkit-lab/systemctl "$@"
"""


@dataclass(frozen=True)
class Host:
    """One host of the fleet; `dir` holds its key, sshd_config, log and overlay layers."""

    name: str
    address: str
    dir: Path

    @property
    def log(self) -> Path:
        return self.dir / "sshd.log"


def _hosts_from_env() -> int:
    raw = os.environ.get(HOSTS_ENV, "").strip()
    if not raw:
        return DEFAULT_HOSTS
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{HOSTS_ENV}={raw!r} is not a number",
                         hint=f"set it to a host count from 1 to {MAX_HOSTS}") from None


class SshFleet(base.LabServer):
    """The `lab` profile's inventory: hosts h1..hN reached as `akops` with sudo."""

    name: ClassVar[str] = "ssh"
    apt_packages: ClassVar[tuple[str, ...]] = ("openssh-server", "sudo", "apt-utils", "dpkg-dev",
                                               "dnf", "rpm", "createrepo-c",  # dnf hosts
                                               "zypper")  # zypper hosts
    python_needs: ClassVar[dict[str, str]] = {"paramiko": "paramiko>=3.4"}
    ready_timeout: ClassVar[float] = 60.0

    def __init__(self, lab_dir: Path, hosts: int | None = None, subnet: str = "127.0.1") -> None:
        super().__init__(lab_dir)
        self.subnet = subnet  # another /24 of 127/8 for a second fleet (the deploy bench's)
        count = _hosts_from_env() if hosts is None else hosts
        if not 1 <= count <= MAX_HOSTS:
            raise UsageError(f"an SSH fleet has 1 to {MAX_HOSTS} hosts, not {count}",
                             hint=f"check {HOSTS_ENV}")
        self.fleet = [Host(f"h{n}", f"{subnet}.{n}", self.dir / "hosts" / f"h{n}")
                      for n in range(1, count + 1)]
        # Names this lab folder's overlays, so stop() can tell our namespaces from others'.
        digest = hashlib.sha256(str(self.dir.absolute()).encode()).hexdigest()
        self.mount_tag = f"aklab-{digest[:10]}"

    # -- layout ---------------------------------------------------------------------
    @property
    def keys(self) -> Path:
        return self.dir / "keys"

    @property
    def key_file(self) -> Path:
        return self.keys / "id_ed25519"

    @property
    def authorized(self) -> Path:
        return self.keys / "authorized"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def host_init(self) -> Path:
        return self.dir / "host-init.sh"

    @property
    def host_boot(self) -> Path:
        return self.dir / "host-boot.sh"

    @property
    def reboot_shim(self) -> Path:
        return self.dir / "reboot-shim.sh"

    @property
    def systemctl_guard(self) -> Path:
        return self.dir / "systemctl-guard.sh"

    @property
    def repo(self) -> Path:
        return self.dir / "repo"

    # -- setup ----------------------------------------------------------------------
    def is_set_up(self) -> bool:
        needed = [self.key_file, self.authorized / USER, self.host_init, self.repo / "Release"]
        needed += [p for h in self.fleet
                   for p in (h.dir / "ssh_host_ed25519_key", h.dir / "sshd_config")]
        return all(p.exists() for p in needed)

    def setup(self) -> None:
        for d in (self.dir, self.keys, self.authorized, self.dir / "hosts"):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)  # traversed inside the hosts by akops (keys) and _apt (repo)
        if not self.key_file.exists():
            _keygen(self.key_file, "adminkit-lab")
        if not (self.repo / "Release").exists():
            self._build_repo()
        self._configure()

    def _configure(self) -> None:
        """Write what derives from the keys and the fleet size; cheap, so start() redoes it."""
        authorized = self.authorized / USER
        authorized.write_text(self.key_file.with_suffix(".pub").read_text())
        authorized.chmod(0o644)
        self.host_init.write_text(HOST_INIT)
        self.host_init.chmod(0o755)
        self.host_boot.write_text(HOST_BOOT)
        self.host_boot.chmod(0o755)
        self.reboot_shim.write_text(REBOOT_SHIM)
        self.reboot_shim.chmod(0o755)
        self.systemctl_guard.write_text(SYSTEMCTL_GUARD)
        self.systemctl_guard.chmod(0o755)
        self._small_dpkg()
        for host in self.fleet:
            host.dir.mkdir(parents=True, exist_ok=True)
            key = host.dir / "ssh_host_ed25519_key"
            if not key.exists():
                _keygen(key, host.name)
            seen = VIEW / "hosts" / host.name  # the host's folder as sshd sees it
            (host.dir / "sshd_config").write_text(
                f"ListenAddress {host.address}:{PORT}\n"
                f"HostKey {seen}/ssh_host_ed25519_key\n"
                "PidFile none\n"
                f"AuthorizedKeysFile {VIEW}/keys/authorized/%u\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "UsePAM no\nPermitRootLogin no\nX11Forwarding no\nPrintMotd no\n"
                "Subsystem sftp internal-sftp\n"
            )
        # Every host folder present (a bigger fleet may have run before), by number.
        lines = []
        numbered = [p for p in self.dir.glob("hosts/h*") if p.name[1:].isdigit()]
        for hdir in sorted(numbered, key=lambda p: int(p.name[1:])):
            pub = hdir / "ssh_host_ed25519_key.pub"
            if pub.exists():
                keytype, blob = pub.read_text().split()[:2]
                lines.append(f"{self.subnet}.{hdir.name[1:]} {keytype} {blob}\n")
        tmp = self.known_hosts.with_suffix(".tmp")
        tmp.write_text("".join(lines))
        tmp.replace(self.known_hosts)

    def _small_dpkg(self) -> None:
        """The dpkg status and file triggers a fresh host starts with: a small server's
        (lab/smallhost.py), cut from the machine's as it is now."""
        status = Path(smallhost.STATUS)
        if not status.exists():
            return
        text, kept = smallhost.small_status(status.read_text(errors="replace"),
                                            (*self.apt_packages, *HOST_PACKAGES))
        triggers = Path(smallhost.FILE_TRIGGERS)
        interests = triggers.read_text() if triggers.exists() else ""
        for name, content in (("dpkg-status", text),
                              ("dpkg-triggers", smallhost.file_triggers(interests, kept))):
            tmp = self.dir / f"{name}.tmp"
            tmp.write_text(content)
            tmp.chmod(0o644)
            tmp.replace(self.dir / name)

    def _build_repo(self) -> None:
        """adminkit-demo-app 1.0 and 1.1 as a trusted flat repository; built aside, then moved."""
        building = self.dir / "repo.tmp"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        with tempfile.TemporaryDirectory(dir=self.dir) as src:
            for version in VERSIONS:
                pkg = Path(src) / f"{PACKAGE}_{version}"
                (pkg / "DEBIAN").mkdir(parents=True)
                (pkg / "usr/bin").mkdir(parents=True)
                (pkg / "etc").mkdir()
                (pkg / "DEBIAN/control").write_text(
                    f"Package: {PACKAGE}\nVersion: {version}\nArchitecture: all\n"
                    "Maintainer: adminkit lab <lab@example.invalid>\n"
                    "Description: adminkit test package\n")
                (pkg / "DEBIAN/conffiles").write_text(f"/etc/{PACKAGE}.conf\n")
                (pkg / f"etc/{PACKAGE}.conf").write_text("greeting=hello\n")
                app = pkg / "usr/bin" / PACKAGE
                app.write_text(f'#!/bin/sh\necho "{PACKAGE} {version}"\n')
                app.chmod(0o755)
                _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(pkg),
                      str(building / f"{PACKAGE}_{version}_all.deb")])
        packages = _run(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=building)
        (building / "Packages").write_text(packages)
        _run(["gzip", "-kf", "Packages"], cwd=building)
        # Written outside the folder first: apt-ftparchive would list a Release.tmp in it.
        release = _run(["apt-ftparchive", "release", "."], cwd=building)
        (building / "Release").write_text(release)
        for path in [building, *building.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(self.repo, ignore_errors=True)
        building.rename(self.repo)

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        if not self.is_set_up():
            raise LabError("ssh: the fleet is not set up", hint="run `adminkit lab up ssh`")
        self._configure()
        if self.namespaces():
            raise LabError("ssh: processes of an earlier start still hold the hosts' overlays",
                           hint="stop the fleet first (SshFleet.stop(); `adminkit lab up` does)")
        for host in self.fleet:
            base.require_port(host.address, PORT, self.name)
            (host.dir / "boots").unlink(missing_ok=True)  # counted from this start
        for d in (Path("/run/sshd"), VIEW):  # privilege separation; the hosts' mount point
            d.mkdir(mode=0o755, exist_ok=True)
        system = _system_namespaces()
        spawned: list[tuple[Host, Proc]] = []
        try:
            for host in self.fleet:
                argv = ["unshare", "-m", "-u", str(self.host_init), str(self.dir),
                        host.name, host.address, self.mount_tag]
                proc, _ = process.spawn(argv, host.log)
                spawned.append((host, proc))
        finally:
            self.record([_tagged(host, proc, system) for host, proc in spawned])

    def stop(self) -> None:
        """End every process in our hosts' namespaces, so the overlays go with them."""
        recorded = self.procs.load(self.name)
        seen: dict[int, Proc] = {}  # everything signalled, to wait for below
        for sig in (signal.SIGTERM, signal.SIGKILL):
            found = self.namespaces()
            for ns, pids in found.items():
                for pid in pids:
                    _remember(seen, pid)
                    _signal_in(ns, pid, sig)
            deadline = time.monotonic() + 5.0
            while found and time.monotonic() < deadline:
                _reap(recorded)
                time.sleep(0.02)
                found = self.namespaces()
            if not found:
                break
        for proc in recorded:  # one that died before unshare, or never left our namespace
            process.stop(proc, timeout=5.0)
        _reap(recorded)
        left = self.namespaces()
        if left:
            raise LabError(f"ssh: processes remain in host namespaces: {left}",
                           hint="they ignored SIGKILL; look at them in /proc")
        # A process that holds a boot's last reference leaves its namespaces before its
        # exit unmounts the overlays (a sync): it is gone only once it is a zombie.
        deadline = time.monotonic() + 30.0
        while (exiting := [p.pid for p in seen.values() if process.alive(p)]):
            if time.monotonic() > deadline:
                raise LabError(f"ssh: host processes still exiting: {exiting}",
                               hint="look at /proc/PID/stack")
            _reap(recorded)
            time.sleep(0.02)
        self.procs.clear(self.name)

    def reset(self) -> None:
        """Stop, wipe every host's overlay layers (installs vanish), start again if it ran."""
        was_running = bool(self.procs.load(self.name)) or bool(self.namespaces())
        self.stop()
        for hdir in self.dir.glob("hosts/h*"):
            (hdir / "reboot-delay").unlink(missing_ok=True)
            for layer in ("upper", "work"):
                if (hdir / layer).exists():
                    shutil.rmtree(hdir / layer)
        if was_running:
            self.start()
            self.wait_ready()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Banners first (cheap, only hosts not yet up), then one SSH login per host."""
        timeout = timeout or self.ready_timeout
        pending = list(self.fleet)

        def listening() -> None:
            pending[:] = [h for h in pending if not _banner(h.address)]
            if pending:
                raise LabError(f"{len(pending)} hosts do not listen yet, e.g. {pending[0].name}")

        try:
            base.wait_until(listening, timeout, what="the ssh hosts to listen",
                            alive=self.is_running)
            base.wait_until(self.probe, timeout, what="the ssh hosts to answer",
                            alive=self.is_running, interval=0.2)
        except LabError as exc:
            raise LabError(exc.message, hint=self._dead_hint() or exc.hint) from None

    def _dead_hint(self) -> str | None:
        by_name = {h.name: h for h in self.fleet}
        for proc in self.procs.load(self.name):
            host = by_name.get(proc.extra.get("host", ""))
            if host is not None and not process.alive(proc) and host.log.exists():
                tail = host.log.read_text(errors="replace").splitlines()[-8:]
                return f"{host.name} exited; last lines of {host.log}:\n    " + "\n    ".join(tail)
        return None

    # -- checks -----------------------------------------------------------------------
    def connect(self, address: str, *, known_hosts: Path | None = None,
                timeout: float = 10.0, sock: Any = None) -> paramiko.SSHClient:
        """A client logged in as akops; the host key must be in `known_hosts` (strict).
        `sock`: a connected socket to log in over (the deploy bench's tuned one)."""
        import paramiko

        client = paramiko.SSHClient()
        client.load_host_keys(str(known_hosts or self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(address, port=PORT, username=USER,
                           pkey=paramiko.Ed25519Key.from_private_key_file(str(self.key_file)),
                           look_for_keys=False, allow_agent=False, timeout=timeout,
                           banner_timeout=timeout, auth_timeout=timeout, sock=sock)
        except BaseException:
            client.close()
            raise
        return client

    def probe(self) -> None:
        """Log in to every host with strict host-key checking and ask its name."""
        with ThreadPoolExecutor(max_workers=min(16, len(self.fleet))) as pool:
            problems = [p for p in pool.map(self._check, self.fleet) if p]
        if problems:
            raise LabError(f"ssh: {len(problems)} of {len(self.fleet)} hosts failed: "
                           + "; ".join(problems[:3]))

    def _check(self, host: Host) -> str | None:
        import paramiko

        try:
            client = self.connect(host.address, timeout=5.0)
        except (paramiko.SSHException, OSError) as exc:
            return f"{host.name}: {type(exc).__name__}: {exc}"
        try:
            _, stdout, _ = client.exec_command("hostname", timeout=10.0)
            name = stdout.read().decode().strip()
        except (paramiko.SSHException, OSError) as exc:
            return f"{host.name}: hostname failed: {exc}"
        finally:
            client.close()
        return None if name == host.name else f"{host.name}: answered as {name!r}"

    def profile(self) -> dict[str, Any]:
        return {"inventory": {
            "ssh": {"user": USER, "key_file": str(self.key_file),
                    "known_hosts": str(self.known_hosts), "sudo": True},
            "hosts": [{"name": h.name, "address": h.address, "groups": ["linux", "lab"]}
                      for h in self.fleet],
        }}

    # -- the lab reboot -----------------------------------------------------------------
    def boot_id(self, host: Host) -> str:
        """The boot id `host` shows in /proc/sys/kernel/random/boot_id (a new one each
        time the host comes back from a lab reboot)."""
        return (host.dir / "boot_id").read_text().strip()

    def boots(self, host: Host) -> int:
        """How many lab reboots `host` has come back from since it started."""
        path = host.dir / "boots"
        return int(path.read_text()) if path.exists() else 0

    def reboot_delay(self, host: Host, seconds: float | None, *, ignored: bool = False
                     ) -> None:
        """How long `host` stays down when rebooted; None: it never comes back;
        `ignored`: `shutdown -r` says yes and nothing happens."""
        text = "ignore" if ignored else "never" if seconds is None else f"{seconds:g}"
        (host.dir / "reboot-delay").write_text(text + "\n")

    # -- namespaces ---------------------------------------------------------------------
    def namespaces(self) -> dict[str, list[int]]:
        """Mount namespaces (id -> PIDs) whose overlays carry our tag; never the system's."""
        by_ns: dict[str, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    by_ns.setdefault(os.readlink(f"/proc/{entry}/ns/mnt"), []).append(int(entry))
                except OSError:  # gone, or a zombie
                    continue
        marker = f" - overlay {self.mount_tag}-"
        system = _system_namespaces()
        ours = {}
        for ns, pids in by_ns.items():
            if ns in system:
                continue
            for pid in pids:
                try:
                    text = Path(f"/proc/{pid}/mountinfo").read_text()
                except OSError:
                    continue
                if marker in text:
                    ours[ns] = pids
                break
        return ours


def _tagged(host: Host, proc: Proc, system: set[str]) -> Proc:
    """The record with its host and mount namespace (read once `unshare` has made it)."""
    deadline = time.monotonic() + 5.0
    extra = {"host": host.name}
    while time.monotonic() < deadline and process.alive(proc):
        try:
            ns = os.readlink(f"/proc/{proc.pid}/ns/mnt")
        except OSError:
            break
        if ns not in system:
            extra["mntns"] = ns
            break
        time.sleep(0.005)
    return replace(proc, argv0="sshd", extra=extra)


def _system_namespaces() -> set[str]:
    """Our own mount namespace and PID 1's (when readable): never signalled."""
    found = set()
    for pid in ("self", "1"):
        with contextlib.suppress(OSError):
            found.add(os.readlink(f"/proc/{pid}/ns/mnt"))
    return found


def _remember(seen: dict[int, Proc], pid: int) -> None:
    if pid not in seen and (proc := process.adopt(pid, "host")) is not None:
        seen[pid] = proc


def _signal_in(ns: str, pid: int, sig: signal.Signals) -> None:
    """Signal `pid` only if it is still in `ns`; the pidfd pins it against PID reuse."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if os.readlink(f"/proc/{pid}/ns/mnt") == ns:
            signal.pidfd_send_signal(fd, sig)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reap(procs: list[Proc]) -> None:
    """Collect our exited sshds (zombies keep their start time, so the check holds)."""
    for proc in procs:
        if process.start_ticks(proc.pid) != proc.start_ticks:
            continue
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, os.WNOHANG)


def _banner(address: str) -> bool:
    try:
        with socket.create_connection((address, PORT), timeout=1.0) as s:
            return s.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def _keygen(path: Path, comment: str) -> None:
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def _run(argv: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"ssh: {argv[0]} failed (exit {result.returncode})",
                       hint=result.stderr.strip()[-500:] or None)
    return result.stdout
