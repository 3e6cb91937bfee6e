"""The SSH host backend: paramiko, one connection per host, a channel per command.

Strict host keys: a host missing from the profile's known_hosts, or with another key,
is refused (exit 3, both fingerprints shown). A key file or the agent, an optional jump
host. Commands are argument lists: the one place they become a line is `command_line`,
which quotes every argument for the remote POSIX shell (shlex.join), so `;`, `$( )`,
backticks and quotes arrive as literal arguments. Each command runs under the host's
`timeout` (its whole process group ends at the deadline), and sudo never asks on a
terminal: `sudo -n`, or `sudo -S -p ''` with the password written to the command's
stdin, never in an argument.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
import shlex
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adminkit.core.errors import (
    ActionFailed,
    AuthenticationFailed,
    ConnectionFailed,
    Interrupted,
    OutcomeUnknown,
    UsageError,
)
from adminkit.core.files import read_named, read_small
from adminkit.core.secrets import Secret
from adminkit.deploy import sshlib, tcp
from adminkit.deploy.apt import NO_APT, REBOOT_FLAG, Apt
from adminkit.deploy.backend import (
    CommandResult,
    Facts,
    PackageManager,
    PackageOutcome,
    PackageSpec,
    PackageState,
    Update,
)
from adminkit.deploy.dnf import Dnf
from adminkit.deploy.reboot import HostKeyRefused, Rebooted, wait_for_new_boot
from adminkit.deploy.settings import HostConfig, InventoryConfig, SSHSettings, jump_endpoint
from adminkit.deploy.zypper import Zypper

if TYPE_CHECKING:
    import paramiko

    from adminkit.core.config import Profile

MAX_OUTPUT = 4 * 1024 * 1024  # bytes kept of a command's stdout (and of its stderr)
KILL_AFTER = 5  # seconds between the deadline's TERM and KILL on the host
TIMED_OUT = 124  # `timeout`'s exit when the deadline came
CANCEL_POLL = 0.5  # seconds between looks at whether the run was cancelled
PID_MARK = "adminkit-pid:"
KEY_LIMIT = 1 << 20  # a private key (or its certificate): a few KB
IDLE_POLL = 1.0  # seconds between a connection's looks at whether it was closed (see _transport)
# Says the PID of `timeout` (it leads its own process group) on stderr, then becomes it;
# the command reads /dev/null: a password line sudo did not read never reaches it.
WRAP = f'echo "{PID_MARK}$$" >&2; exec "$@" </dev/null'

FACTS = r"""
. /etc/os-release 2>/dev/null
echo "os=${NAME:-$(uname -s)}"
echo "os_version=${VERSION_ID:-}"
echo "kernel=$(uname -r)"
echo "uptime=$(cut -d' ' -f1 /proc/uptime 2>/dev/null)"
[ -e /var/run/reboot-required ] && echo reboot=1 || echo reboot=0
echo "free_kb=$(df -Pk / 2>/dev/null | awk 'NR==2 {print $4}')"
for m in apt-get dnf zypper; do command -v "$m" >/dev/null 2>&1 && { echo "pm=$m"; break; }; done
"""
REBOOT_PENDING = ("test", "-e", REBOOT_FLAG)  # Debian's flag, as FACTS reads it
# A package write and its read-back in one exec under one sudo (a channel, a session on
# the host and a sudo fewer per host): $1 is the write's word count, then the write's
# argument list, then the read-back's. Constant text; every word only ever as "$@". The
# write's stdout goes to stderr: nothing it, a maintainer script or a daemon one starts
# (holding what it inherited) prints reaches the stdout the read-back is parsed from.
# The read-back runs only if the write succeeded, after a mark line (so a mark says the
# write succeeded), and its exit is the script's.
WRITE_THEN_READ = ('a=$1; shift; '
                   '( i=0; while [ "$i" -lt "$a" ]; do set -- "$@" "$1"; shift; '
                   'i=$((i+1)); done; shift $(($# - a)); exec "$@" >&2 ); rc=$?; '
                   '[ "$rc" -eq 0 ] || exit "$rc"; shift "$a"; echo; echo "$0"; exec "$@"')
READ_BACK_MARK = "--adminkit-read-back--"
BOOT_ID = ("cat", "/proc/sys/kernel/random/boot_id")  # a new one at every boot
BOOT_ID_FORM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# systemd's and sysvinit's `shutdown` return once the restart is under way; a host
# that only schedules it (a message to logged-in users first) would fail the boot id check.
RESTART = ("shutdown", "-r", "now")
MANAGERS = {"apt-get": "apt", "dnf": "dnf", "zypper": "zypper"}
MANAGER_CLASSES: dict[str, type[PackageManager]] = {"apt": Apt, "dnf": Dnf, "zypper": Zypper}
NO_MANAGER = NO_APT  # a query's exit when the host lacks that manager


def command_line(argv: Sequence[str]) -> str:
    """The line sshd hands to the user's shell: every argument quoted, none interpreted."""
    if not argv:
        raise UsageError("an empty command")
    for arg in argv:
        if "\x00" in arg:
            raise UsageError("an argument holds a NUL character, which no command can take")
    return shlex.join(argv)


def open_ssh(host: HostConfig, inventory: InventoryConfig, profile: Profile) -> SSHBackend:
    if inventory.ssh is None:
        raise UsageError("the inventory has SSH hosts but no `ssh:` settings",
                         hint="add inventory.ssh with user and known_hosts to the profile")
    password = None
    if inventory.ssh.sudo_password:
        password = profile.secret(inventory.ssh.sudo_password, "inventory.ssh.sudo_password")
    jump = _jump_target(inventory, inventory.ssh.jump_host) if inventory.ssh.jump_host else None
    return SSHBackend(host, inventory.ssh, deadline=inventory.deadline,
                      sudo_password=password, jump=jump, refresh=inventory.refresh)


def _jump_target(inventory: InventoryConfig, spec: str) -> tuple[str, str, int]:
    """(user, address, port) of the jump host: an inventory name or [user@]address[:port]."""
    assert inventory.ssh is not None
    for host in inventory.hosts:
        if host.name == spec:
            return (host.user or inventory.ssh.user, host.address, host.port or inventory.ssh.port)
    user, address, port = jump_endpoint(spec)
    return (user or inventory.ssh.user, address, port or 22)


class SSHBackend:
    """A logged-in paramiko client to one host; `close` ends it (and its jump)."""

    transport_name = "ssh"

    def __init__(self, host: HostConfig, ssh: SSHSettings, *, deadline: float = 600.0,
                 sudo_password: Secret | None = None,
                 jump: tuple[str, str, int] | None = None, refresh: str = "when-needed"
                 ) -> None:
        self.host = host
        self.refresh = refresh  # the inventory's: "never" keeps the package index as it is
        self.ssh = ssh
        self.deadline = deadline
        self.sudo_password = sudo_password
        self._jump: paramiko.SSHClient | None = None
        self._jump_spec = jump
        self._manager: PackageManager | None = None
        self._guessed = False  # apt assumed, not yet confirmed by the host
        self._refreshed = False
        # set by the run (hosts.backend): whether it was cancelled (Ctrl-C)
        self.cancelled: Callable[[], bool] = lambda: False
        self.client = self._connect(jump)

    # -- connecting ---------------------------------------------------------------------
    @property
    def user(self) -> str:
        return self.host.user or self.ssh.user

    def _connect(self, jump: tuple[str, str, int] | None, timeout: float | None = None
                 ) -> paramiko.SSHClient:
        sock: Any = None
        label = f"host {self.host.name}"
        address, port = self.host.address, self.host.port or self.ssh.port
        # The file checked first: a missing known_hosts is the profile's fault (exit 2),
        # not the host's, and no host is contacted for nothing. Each login looks again,
        # just before its handshake (`_login`): a key removed meanwhile is not trusted.
        _known_hosts_stat(str(self.ssh.known_hosts))
        if jump is None:
            # The TCP connection before paramiko's import: the host's sshd starts its
            # session (a fork, an exec, its host keys: a third of a login's CPU on the
            # host, before the client says anything) while this process imports paramiko
            # (a cold command's first login waits ~0.1 s CPU for it; the other hosts' too).
            sock = _socket(label, address, port, timeout or self.ssh.timeout)
        try:
            return self._connect_over(sock, jump, label, address, port, timeout)
        except BaseException:
            if sock is not None:
                sock.close()  # not handed over to a client: the login failed before
            raise

    def _connect_over(self, sock: Any, jump: tuple[str, str, int] | None, label: str,
                      address: str, port: int, timeout: float | None
                      ) -> paramiko.SSHClient:
        sshlib.load()  # the first import of paramiko: without invoke (deploy/sshlib.py)
        import paramiko

        if jump is not None:
            self._jump = self._login(*jump, sock=None, label=f"jump host {jump[1]}",
                                     timeout=timeout)
            transport = self._jump.get_transport()
            assert transport is not None
            try:
                sock = transport.open_channel(
                    "direct-tcpip", (address, port), ("127.0.0.1", 0),
                    timeout=timeout or self.ssh.timeout)
            except BaseException as exc:  # Ctrl-C too: nothing else would close it
                self._jump.close()
                if not isinstance(exc, paramiko.SSHException | OSError):
                    raise
                raise ConnectionFailed(f"{label}: the jump host {jump[1]} "
                                       f"cannot reach it: {exc}") from None
        try:
            return self._login(self.user, address, port, sock=sock, label=label,
                               timeout=timeout)
        except BaseException:
            if self._jump is not None:
                self._jump.close()
            raise

    def _login(self, user: str, address: str, port: int, *, sock: Any,
               label: str, timeout: float | None = None) -> paramiko.SSHClient:
        import paramiko

        timeout = timeout or self.ssh.timeout
        client = paramiko.SSHClient()
        own = sock is None
        if own:
            sock = _socket(label, address, port, timeout)
        try:
            # the keys as the file is once the connection is made, just before the
            # handshake: one removed or replaced while it was made (a revoked key) is
            # not trusted from an earlier read
            _trust(client, str(self.ssh.known_hosts), address, port)
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            client.connect(address, port=port, username=user,
                           pkey=_key(str(self.ssh.key_file)) if self.ssh.key_file else None,
                           allow_agent=self.ssh.agent or self.ssh.key_file is None,
                           look_for_keys=False, timeout=timeout, banner_timeout=timeout,
                           auth_timeout=timeout, channel_timeout=timeout, sock=sock,
                           transport_factory=_new_transport)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyRefused(
                f"{label} ({address}): its host key CHANGED: known_hosts has "
                f"{exc.expected_key.get_name()} {exc.expected_key.fingerprint}, the host "
                f"offers {exc.key.get_name()} {exc.key.fingerprint}",
                hint="verify the host out of band, then update known_hosts") from None
        except paramiko.AuthenticationException:
            client.close()
            raise AuthenticationFailed(f"{label} ({address}): login as {user} refused",
                                       hint="check the key and the user") from None
        except paramiko.SSHException as exc:
            client.close()
            text = str(exc)
            if "not found in known_hosts" in text:
                raise HostKeyRefused(f"{label} ({address}): not in known_hosts "
                                       f"{self.ssh.known_hosts}: refused",
                                       hint="add its key after verifying it") from None
            raise ConnectionFailed(f"{label} ({address}): {text}") from None
        except OSError as exc:
            client.close()
            raise _unreachable(label, address, port, exc) from None
        except BaseException:  # known_hosts unusable now, Ctrl-C: a socket made here too
            client.close()
            if own:
                sock.close()
            raise
        return client

    def close(self) -> None:
        self.client.close()
        if self._jump is not None:
            self._jump.close()

    # -- running ------------------------------------------------------------------------
    def run(self, argv: Sequence[str], *, sudo: bool = False, timeout: float | None = None,
            interruptible: bool = True) -> CommandResult:
        """`argv` on the host under `timeout` (its own process group), stdin /dev/null.
        `interruptible`: when the run is cancelled (Ctrl-C) the command's process group
        is ended on the host; a package write is not (dpkg is left to finish)."""
        seconds = max(1, int(timeout or self.deadline))
        inner = ["sh", "-c", WRAP, "sh", "timeout", "-k", str(KILL_AFTER), str(seconds), *argv]
        line, stdin = self._sudo(inner) if sudo else (command_line(inner), b"")
        return self._exec(tuple(argv), line, stdin, seconds + KILL_AFTER + 10,
                          sudo=sudo, interruptible=interruptible)

    def _sudo(self, argv: list[str]) -> tuple[str, bytes]:
        """The line and stdin for `argv` as root: sudo never prompts on a terminal; its
        password (if any) goes to its stdin, never into an argument."""
        if self.sudo_password is None:
            return command_line(["sudo", "-n", "--", *argv]), b""
        return (command_line(["sudo", "-S", "-p", "", "--", *argv]),
                (self.sudo_password.reveal() + "\n").encode())

    def _exec(self, argv: tuple[str, ...], line: str, stdin: bytes, wait: float, *,
              sudo: bool, interruptible: bool) -> CommandResult:
        import paramiko

        started = time.monotonic()
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectionFailed(f"host {self.host.name}: the connection was lost")
        try:
            chan = transport.open_session(timeout=self.ssh.timeout)
        except (paramiko.SSHException, OSError) as exc:
            raise ConnectionFailed(f"host {self.host.name}: no channel: {exc}") from None
        out, err = bytearray(), bytearray()
        sent = False
        try:
            chan.exec_command(line)
            sent = True
            _send(chan, stdin)
            end = started + wait
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    raise ConnectionFailed(
                        f"host {self.host.name}: {argv[0]} gave no end within {wait:g} s",
                        hint="the host's `timeout` should have ended it; is it hanging?")
                if interruptible and self.cancelled():
                    self._kill(_remote_pid(err), sudo=sudo)
                    raise Interrupted(f"host {self.host.name}: {argv[0]} was ended there: "
                                      "the run was interrupted")
                select.select([chan], [], [], min(left, CANCEL_POLL))
                while chan.recv_ready():
                    _keep(out, chan.recv(65536))
                while chan.recv_stderr_ready():
                    _keep(err, chan.recv_stderr(65536))
                if chan.exit_status_ready() and not chan.recv_ready() \
                        and not chan.recv_stderr_ready():
                    break
                if chan.closed and not chan.recv_ready() and not chan.recv_stderr_ready():
                    raise self._lost(argv, "the channel closed without an exit status",
                                     sent=sent, interruptible=interruptible)
            code = chan.recv_exit_status()
            if code == -1:  # paramiko's exit for a channel closed with no exit status
                raise self._lost(argv, "the connection closed without an exit status",
                                 sent=sent, interruptible=interruptible)
        except (paramiko.SSHException, OSError) as exc:
            raise self._lost(argv, str(exc), sent=sent, interruptible=interruptible
                             ) from None
        finally:
            chan.close()
        result = CommandResult(argv, code, out.decode(errors="replace"),
                               _without_pid(err.decode(errors="replace")),
                               time.monotonic() - started)
        if code == TIMED_OUT:
            raise ActionFailed(f"host {self.host.name}: {argv[0]} was ended at its deadline "
                               f"({wait - KILL_AFTER - 10:g} s)",
                               hint="raise inventory.deadline or --timeout if it is slow")
        if sudo_refused(result):
            raise ActionFailed(f"host {self.host.name}: sudo refused: {result.tail(2)}",
                               hint="give the user NOPASSWD sudo, or set "
                                    "inventory.ssh.sudo_password")
        return result

    def _lost(self, argv: tuple[str, ...], why: str, *, sent: bool, interruptible: bool
              ) -> ConnectionFailed:
        """A command's connection lost: for a write once sent (not interruptible: a
        package write, a restart), done, half done or not: an unknown outcome."""
        if sent and not interruptible:
            return OutcomeUnknown(
                f"host {self.host.name}: {argv[0]}: the connection was lost while it ran "
                f"({why}): it may or may not have been done",
                hint="the host's state tells: plan again (it reads the host) before "
                     "running it again")
        return ConnectionFailed(f"host {self.host.name}: {argv[0]}: {why}")

    def _kill(self, pid: int | None, *, sudo: bool) -> None:
        """End the process group `timeout` leads on the host (best effort: the deadline
        still ends it if this cannot)."""
        if pid is None:
            return
        argv = ["kill", "-TERM", "--", f"-{pid}"]
        line, stdin = self._sudo(argv) if sudo else (command_line(argv), b"")
        with contextlib.suppress(Exception):
            transport = self.client.get_transport()
            assert transport is not None
            chan = transport.open_session(timeout=self.ssh.timeout)
            try:
                chan.exec_command(line)
                _send(chan, stdin)
                chan.settimeout(self.ssh.timeout)
                chan.recv_exit_status()
            finally:
                chan.close()

    def _must(self, argv: Sequence[str], *, sudo: bool = False, timeout: float | None = None,
              interruptible: bool = True) -> CommandResult:
        result = self.run(argv, sudo=sudo, timeout=timeout, interruptible=interruptible)
        if not result.ok:
            raise ActionFailed(f"host {self.host.name}: {argv[0]} {_verb(argv)} exited "
                               f"{result.exit}: {result.tail()}")
        return result

    # -- restarting -----------------------------------------------------------------------
    def boot_id(self) -> str:
        found = self._must(BOOT_ID, timeout=30).stdout.strip()
        if not BOOT_ID_FORM.fullmatch(found):  # a restart is proven by it: never guessed
            raise ActionFailed(f"host {self.host.name}: its boot id is unreadable "
                               f"({found[:40]!r})")
        return found

    def reboot(self, *, timeout: float | None) -> Rebooted:
        """`shutdown -r now` as root; then (unless `timeout` is None) log in again until
        the host answers with another boot id, at most `timeout` seconds."""
        before = self.boot_id()
        started = time.monotonic()
        # The host may go down before its answer comes: as asked.
        with contextlib.suppress(ConnectionFailed):
            self._must(RESTART, sudo=True, timeout=60, interruptible=False)
        if timeout is None:
            return Rebooted(before, None, time.monotonic() - started, False)
        self.close()  # it dies with the host; never reused

        def read(left: float) -> str:
            self.close()
            self.client = self._connect(self._jump_spec, timeout=max(1.0, min(left, 10.0)))
            return self.boot_id()

        return wait_for_new_boot(self.host.name, before, read, timeout=timeout,
                                 cancelled=self.cancelled, started=started)

    def reboot_pending(self) -> bool:
        """Whether the host wants a restart: one `test -e` of the flag, not every fact."""
        result = self.run(REBOOT_PENDING, timeout=30)
        if result.exit not in (0, 1):
            raise ActionFailed(f"host {self.host.name}: checking for a pending reboot "
                               f"exited {result.exit}: {result.tail()}")
        return result.exit == 0

    # -- facts --------------------------------------------------------------------------
    def facts(self) -> Facts:
        result = self._must(["sh", "-c", FACTS])
        values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        free = values.get("free_kb", "")
        uptime = values.get("uptime", "")
        return Facts(host=self.host.name, os=values.get("os", ""),
                     os_version=values.get("os_version", ""), kernel=values.get("kernel", ""),
                     package_manager=MANAGERS.get(values.get("pm", ""), ""),
                     uptime_seconds=float(uptime) if _number(uptime) else None,
                     reboot_pending=values.get("reboot") == "1",
                     free_disk_bytes=int(free) * 1024 if free.isdigit() else None)

    def manager(self) -> PackageManager:
        """The host's package manager: the inventory's `package_manager` variable (apt,
        dnf), else apt until the host shows it has none (the first query says so in
        the same round trip), then whichever of apt-get, dnf, zypper it has."""
        if self._manager is None:
            name = str(self.host.vars.get("package_manager", ""))
            self._guessed = not name
            self._manager = self._named(name or "apt")
        return self._manager

    def check(self, spec: PackageSpec) -> None:
        """The host's manager's grammar (known for sure once a query has run)."""
        self.manager().check(spec)

    def _named(self, name: str) -> PackageManager:
        if name in MANAGER_CLASSES:
            return MANAGER_CLASSES[name]()
        raise ActionFailed(f"host {self.host.name}: package manager {name or 'not found'}: "
                           f"over SSH only {' and '.join(MANAGER_CLASSES)} are supported so far")

    def _detected(self) -> PackageManager:
        """Ask the host which manager it has (one round trip), once."""
        if self._guessed:
            found = self._must(["sh", "-c", "for m in apt-get dnf zypper; do command -v "
                                "\"$m\" >/dev/null 2>&1 && { echo \"$m\"; exit 0; }; done"])
            self._manager = self._named(MANAGERS.get(found.stdout.strip(), ""))
            self._guessed = False
        return self.manager()

    def _query(self, names: Sequence[str], *, candidates: bool = True
               ) -> tuple[dict[str, PackageState], bool]:
        """The packages' states and whether a reboot is pending, in one round trip. As
        root where sudo is allowed: apt-cache then keeps the cache it builds for the
        install that follows (as a user it builds one in memory, and apt-get again);
        dnf's cache and (on Debian) rpm's database are root's."""
        manager = self.manager()
        result = self.run(manager.query(names, candidates=candidates),
                          sudo=self.ssh.sudo and (candidates or manager.query_as_root))
        if result.exit == NO_MANAGER and self._guessed:
            self._detected()
            return self._query(names, candidates=candidates)
        if result.exit == NO_MANAGER:
            raise ActionFailed(f"host {self.host.name}: no {manager.name} on this host")
        if not result.ok:
            raise ActionFailed(f"host {self.host.name}: reading the package state exited "
                               f"{result.exit}: {result.tail()}")
        for name in names:  # the host's own grammar, now that its manager is known
            manager.check(PackageSpec(name))
        return (manager.parse_query(result.stdout, names),
                manager.reboot_required(result.stdout))

    # -- packages -----------------------------------------------------------------------
    def package_states(self, names: Sequence[str], *, refresh: str = "when-needed"
                       ) -> dict[str, PackageState]:
        if self._manager is not None and not self._guessed:
            for name in names:
                self._manager.check(PackageSpec(name))
        if refresh == "always":
            self._refresh()
        states, _ = self._query(names)
        if refresh == "when-needed" and not self._refreshed and \
                any(s.candidate is None for s in states.values()):
            self._refresh()
            states, _ = self._query(names)
        return states

    def _refresh(self) -> None:
        if not self._refreshed:
            self._must(self._detected().refresh(), sudo=True)
            self._refreshed = True

    def installed(self) -> dict[str, str]:
        manager = self._detected()
        listing = self._must(manager.list_installed(),
                             sudo=self.ssh.sudo and manager.query_as_root)
        return manager.parse_installed(listing.stdout)

    def outdated(self, *, security_only: bool = False) -> dict[str, Update]:
        manager = self._detected()
        if self.refresh != "never":
            self._refresh()
        found = manager.parse_outdated(self._must(
            manager.outdated(), sudo=self.ssh.sudo and manager.query_as_root).stdout)
        return {n: u for n, u in found.items() if u.security or not security_only}

    def install(self, specs: Sequence[PackageSpec]) -> PackageOutcome:
        return self._write(self._detected().install(specs), specs)

    def upgrade(self, specs: Sequence[PackageSpec]) -> PackageOutcome:
        return self._write(self._detected().upgrade(specs), specs)

    def remove(self, names: Sequence[str], *, purge: bool = False) -> PackageOutcome:
        specs = [PackageSpec(n) for n in names]
        return self._write(self._detected().remove(names, purge=purge), specs)

    def _write(self, argv: list[str], specs: Sequence[PackageSpec]) -> PackageOutcome:
        """The write, then what it left read back from the host, in one exec as root."""
        manager = self.manager()
        for spec in specs:
            manager.check(spec)
        names = [s.name for s in specs]
        read = manager.query(names, candidates=False)
        both = ["sh", "-c", WRITE_THEN_READ, READ_BACK_MARK, str(len(argv)), *argv, *read]
        result = self.run(both, sudo=True, interruptible=False)
        _, mark, text = result.stdout.rpartition(f"\n{READ_BACK_MARK}\n")
        if not mark and not result.ok:  # the write's exit
            raise ActionFailed(f"host {self.host.name}: {manager.name} {_verb(argv)} exited "
                               f"{result.exit}: {result.tail()}")
        if not mark:
            raise ActionFailed(f"host {self.host.name}: {manager.name} {_verb(argv)}: no "
                               "read-back came after it")
        if not result.ok:  # the write succeeded: only the read-back failed
            raise ActionFailed(f"host {self.host.name}: {manager.name} {_verb(argv)} done, "
                               f"but reading the packages back exited {result.exit}: "
                               f"{result.tail()}")
        return PackageOutcome(states=manager.parse_query(text, names),
                              reboot_required=manager.reboot_required(text))


def _socket(label: str, address: str, port: int, timeout: float) -> Any:
    """A TCP connection to log in over: no Nagle, quick ACKs (deploy/tcp.py: 80 ms less a
    login); ConnectionFailed (exit 3) naming the host when none is made."""
    try:
        return tcp.connect(address, port, timeout)
    except OSError as exc:
        raise _unreachable(label, address, port, exc) from None


def _unreachable(label: str, address: str, port: int, exc: OSError) -> ConnectionFailed:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return ConnectionFailed(f"{label} ({address}:{port}): {reason}")


def _new_transport(sock: Any, /, **options: Any) -> paramiko.Transport:
    """SSHClient.connect's transport_factory: paramiko's own options passed on as given."""
    return _transport()(sock, **options)


@functools.cache
def _transport() -> type[paramiko.Transport]:
    """paramiko's Transport, its thread waking to look whether it was closed once a second
    rather than ten times (a socket timeout; data and the peer's close wake it at once). A
    fleet run keeps every host's connection to its end: 50 idle ones polling cost ~20 ms
    of CPU a second beside the logins, and as many hand-overs of the GIL."""
    import paramiko

    class Transport(paramiko.Transport):
        _active_check_timeout = IDLE_POLL

        def stop_thread(self) -> None:
            """The socket shut down, then paramiko's (which closes it): the thread's
            pending wait holds a closed socket open (its close is not sent) until the wait
            ends, up to IDLE_POLL later; a shutdown sends it now and wakes the thread."""
            if isinstance(self.sock, socket.socket):
                with contextlib.suppress(OSError):  # the peer's already gone
                    self.sock.shutdown(socket.SHUT_RDWR)
            super().stop_thread()

    return Transport


def _trust(client: paramiko.SSHClient, path: str, address: str, port: int) -> None:
    """Give `client` the known_hosts keys of this one host. The file is parsed once per
    process (and again when it changes): parsing it per login cost a 50-host run as
    much CPU, under the GIL, as a few of its logins. Its stat is taken afresh (~2 us):
    the parse kept under an earlier one must not outlive the file."""
    stat = _known_hosts_stat(path)
    # inode and ctime too: a file replaced by one of the same size with its mtime
    # kept (cp -p, rsync -a, a restore) must be read again.
    known = _known_hosts(path, stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns)
    name = address if port == 22 else f"[{address}]:{port}"  # as paramiko looks it up
    found = known.lookup(name)
    for keytype, key in (found or {}).items():
        client.get_host_keys().add(name, keytype, key)


def _known_hosts_stat(path: str) -> os.stat_result:
    """The known_hosts file's stat; UsageError (exit 2) when it cannot be had."""
    try:
        return os.stat(path)
    except OSError as exc:
        raise UsageError(f"inventory.ssh.known_hosts: {path}: {exc.strerror or exc}") from None


@functools.lru_cache(maxsize=8)
def _known_hosts(path: str, mtime_ns: int, size: int, inode: int, ctime_ns: int
                 ) -> paramiko.HostKeys:
    """The file read bounded (a FIFO or a device there is refused, not waited on) and
    parsed as paramiko's `HostKeys.load` does."""
    import paramiko

    raw = read_named(path, "inventory.ssh.known_hosts", error=UsageError)
    keys = paramiko.HostKeys()
    for lineno, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line, lineno)
        except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey):
            continue  # as OpenSSH: a bad line is skipped (paramiko's load raised)
        if entry is None:
            continue
        kind = entry.key.get_name()
        for host in entry.hostnames:  # the first key of a kind for a host counts, as in load
            have = keys.lookup(host)
            if have is None or kind not in have:
                keys.add(host, kind, entry.key)
    return keys


@functools.lru_cache(maxsize=8)
def _key(path: str) -> paramiko.PKey:
    """The private key, read once per process (a fleet run logs in to every host with it),
    bounded: a FIFO, a device or a huge file there is refused, not read; and one that group
    or others may read or write is refused as OpenSSH refuses it ("UNPROTECTED PRIVATE KEY
    FILE") and as adminkit refuses a `file:` secret: it was used, whoever had copied it."""
    import io

    import paramiko
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    key = "inventory.ssh.key_file"
    data = read_small(Path(path).expanduser(), KEY_LIMIT, error=UsageError, private=True,
                      what=key)
    hint = "a private key file without a passphrase, or use the agent"
    try:  # as paramiko's PKey.from_path, from the bytes read here
        try:
            loaded: object = serialization.load_ssh_private_key(data, password=None)
        except ValueError:
            loaded = serialization.load_pem_private_key(data, password=None)
        kinds: tuple[tuple[type, type[paramiko.PKey]], ...] = (
            (rsa.RSAPrivateKey, paramiko.RSAKey), (ed25519.Ed25519PrivateKey, paramiko.Ed25519Key),
            (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey))
        cls = next((c for t, c in kinds if isinstance(loaded, t)), None)
        if cls is None:
            raise UsageError(f"{key}: {path}: a {type(loaded).__name__}, which SSH here "
                             "does not use", hint=hint)
        pkey = cls.from_private_key(io.StringIO(data.decode("utf-8", errors="replace")))
        cert = f"{path}-cert.pub"
        if os.path.lexists(cert):
            pkey.load_certificate(read_named(cert, key, limit=KEY_LIMIT,
                                             error=UsageError).decode("ascii", "replace"))
    except (ValueError, TypeError, paramiko.SSHException) as exc:
        raise UsageError(f"{key}: {path}: {exc}", hint=hint) from None
    return pkey


SUDO_REFUSALS = ("password is required", "terminal is required", "incorrect password",
                 "no password was provided", "not in the sudoers", "is not allowed to execute")


def sudo_refused(result: CommandResult) -> bool:
    """sudo said no (exit 1, its own words on stderr), not the command it would run."""
    return result.exit == 1 and any(
        line.startswith("sudo:") and any(r in line for r in SUDO_REFUSALS)
        for line in result.stderr.splitlines())


def _verb(argv: Sequence[str]) -> str:
    """The sub-command of an apt-get line, for messages (`install`, `update`)."""
    for word in argv:
        if word in ("install", "remove", "purge", "update", "dist-upgrade"):
            return word
    return ""


def _send(chan: Any, data: bytes) -> None:
    """Write the command's stdin and end it. A command that ended first (sudo needed no
    password after all, and the command was quick) has closed the channel: not an error,
    its exit status says how it went."""
    import paramiko

    try:
        if data:
            chan.sendall(data)
        chan.shutdown_write()
    except (OSError, paramiko.SSHException):
        if not chan.exit_status_ready() and not chan.closed:
            raise


def _remote_pid(err: bytearray) -> int | None:
    first = bytes(err[:64]).split(b"\n", 1)[0].decode(errors="replace")
    value = first[len(PID_MARK):] if first.startswith(PID_MARK) else ""
    return int(value) if value.isdigit() else None


def _without_pid(text: str) -> str:
    """stderr without the wrapper's first line."""
    return text.split("\n", 1)[1] if text.startswith(PID_MARK) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _keep(buffer: bytearray, data: bytes) -> None:
    room = MAX_OUTPUT - len(buffer)
    if room > 0:
        buffer.extend(data[:room])
