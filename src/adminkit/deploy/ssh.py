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

import select
import shlex
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from adminkit.core.errors import (
    ActionFailed,
    AuthenticationFailed,
    ConnectionFailed,
    UsageError,
)
from adminkit.core.secrets import Secret
from adminkit.deploy.apt import REBOOT_FLAG, Apt
from adminkit.deploy.backend import (
    CommandResult,
    Facts,
    PackageOutcome,
    PackageSpec,
    PackageState,
)
from adminkit.deploy.settings import HostConfig, InventoryConfig, SSHSettings

if TYPE_CHECKING:
    import paramiko

    from adminkit.core.config import Profile

MAX_OUTPUT = 4 * 1024 * 1024  # bytes kept of a command's stdout (and of its stderr)
KILL_AFTER = 5  # seconds between the deadline's TERM and KILL on the host
TIMED_OUT = 124  # `timeout`'s exit when the deadline came

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
MANAGERS = {"apt-get": "apt", "dnf": "dnf", "zypper": "zypper"}


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
                      sudo_password=password, jump=jump)


def _jump_target(inventory: InventoryConfig, spec: str) -> tuple[str, str, int]:
    """(user, address, port) of the jump host: an inventory name or [user@]address[:port]."""
    assert inventory.ssh is not None
    for host in inventory.hosts:
        if host.name == spec:
            return (host.user or inventory.ssh.user, host.address, host.port or inventory.ssh.port)
    user, _, rest = spec.rpartition("@")
    address, _, port = rest.partition(":")
    return (user or inventory.ssh.user, address, int(port) if port.isdigit() else 22)


class SSHBackend:
    """A logged-in paramiko client to one host; `close` ends it (and its jump)."""

    transport_name = "ssh"

    def __init__(self, host: HostConfig, ssh: SSHSettings, *, deadline: float = 600.0,
                 sudo_password: Secret | None = None,
                 jump: tuple[str, str, int] | None = None) -> None:
        self.host = host
        self.ssh = ssh
        self.deadline = deadline
        self.sudo_password = sudo_password
        self._jump: paramiko.SSHClient | None = None
        self._manager: Apt | None = None
        self._refreshed = False
        self.client = self._connect(jump)

    # -- connecting ---------------------------------------------------------------------
    @property
    def user(self) -> str:
        return self.host.user or self.ssh.user

    def _connect(self, jump: tuple[str, str, int] | None) -> paramiko.SSHClient:
        import paramiko

        sock = None
        if jump is not None:
            self._jump = self._login(*jump, sock=None, label=f"jump host {jump[1]}")
            transport = self._jump.get_transport()
            assert transport is not None
            try:
                sock = transport.open_channel(
                    "direct-tcpip", (self.host.address, self.host.port or self.ssh.port),
                    ("127.0.0.1", 0), timeout=self.ssh.timeout)
            except (paramiko.SSHException, OSError) as exc:
                self._jump.close()
                raise ConnectionFailed(f"host {self.host.name}: the jump host {jump[1]} "
                                       f"cannot reach it: {exc}") from None
        try:
            return self._login(self.user, self.host.address, self.host.port or self.ssh.port,
                               sock=sock, label=f"host {self.host.name}")
        except BaseException:
            if self._jump is not None:
                self._jump.close()
            raise

    def _login(self, user: str, address: str, port: int, *, sock: Any,
               label: str) -> paramiko.SSHClient:
        import paramiko

        client = paramiko.SSHClient()
        try:
            client.load_host_keys(str(self.ssh.known_hosts))
        except OSError as exc:
            raise UsageError(f"known_hosts {self.ssh.known_hosts}: {exc.strerror or exc}"
                             ) from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(address, port=port, username=user,
                           key_filename=str(self.ssh.key_file) if self.ssh.key_file else None,
                           allow_agent=self.ssh.agent or self.ssh.key_file is None,
                           look_for_keys=False, timeout=self.ssh.timeout,
                           banner_timeout=self.ssh.timeout, auth_timeout=self.ssh.timeout,
                           channel_timeout=self.ssh.timeout, sock=sock)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise ConnectionFailed(
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
                raise ConnectionFailed(f"{label} ({address}): not in known_hosts "
                                       f"{self.ssh.known_hosts}: refused",
                                       hint="add its key after verifying it") from None
            raise ConnectionFailed(f"{label} ({address}): {text}") from None
        except OSError as exc:
            client.close()
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ConnectionFailed(f"{label} ({address}:{port}): {reason}") from None
        return client

    def close(self) -> None:
        self.client.close()
        if self._jump is not None:
            self._jump.close()

    # -- running ------------------------------------------------------------------------
    def run(self, argv: Sequence[str], *, sudo: bool = False,
            timeout: float | None = None) -> CommandResult:
        seconds = max(1, int(timeout or self.deadline))
        inner = ["timeout", "-k", str(KILL_AFTER), str(seconds), *argv]
        stdin = b""
        if sudo:
            if self.sudo_password is not None:
                # sudo reads the password from stdin; the command gets /dev/null, so a
                # line sudo did not read (NOPASSWD after all) never reaches it
                inner = ["sudo", "-S", "-p", "", "--", "sh", "-c", 'exec "$@" </dev/null',
                         "sh", *inner]
                stdin = (self.sudo_password.reveal() + "\n").encode()
            else:
                inner = ["sudo", "-n", "--", *inner]
        return self._exec(tuple(argv), command_line(inner), stdin, seconds + KILL_AFTER + 10)

    def _exec(self, argv: tuple[str, ...], line: str, stdin: bytes,
              wait: float) -> CommandResult:
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
        try:
            chan.exec_command(line)
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
            end = started + wait
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    raise ConnectionFailed(
                        f"host {self.host.name}: {argv[0]} gave no end within {wait:g} s",
                        hint="the host's `timeout` should have ended it; is it hanging?")
                select.select([chan], [], [], min(left, 1.0))
                while chan.recv_ready():
                    _keep(out, chan.recv(65536))
                while chan.recv_stderr_ready():
                    _keep(err, chan.recv_stderr(65536))
                if chan.exit_status_ready() and not chan.recv_ready() \
                        and not chan.recv_stderr_ready():
                    break
            code = chan.recv_exit_status()
        except (paramiko.SSHException, OSError) as exc:
            raise ConnectionFailed(f"host {self.host.name}: {argv[0]}: {exc}") from None
        finally:
            chan.close()
        result = CommandResult(argv, code, out.decode(errors="replace"),
                               err.decode(errors="replace"), time.monotonic() - started)
        if code == TIMED_OUT:
            raise ActionFailed(f"host {self.host.name}: {argv[0]} was ended at its deadline "
                               f"({wait - KILL_AFTER - 10:g} s)",
                               hint="raise inventory.deadline or --timeout if it is slow")
        if sudo_refused(result):
            raise ActionFailed(f"host {self.host.name}: sudo refused: {result.tail(2)}",
                               hint="give the user NOPASSWD sudo, or set "
                                    "inventory.ssh.sudo_password")
        return result

    def _must(self, argv: Sequence[str], *, sudo: bool = False,
              timeout: float | None = None) -> CommandResult:
        result = self.run(argv, sudo=sudo, timeout=timeout)
        if not result.ok:
            raise ActionFailed(f"host {self.host.name}: {argv[0]} {_verb(argv)} exited "
                               f"{result.exit}: {result.tail()}")
        return result

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

    def manager(self) -> Apt:
        """The host's package manager: the inventory's `package_manager` variable, else
        the first of apt-get, dnf, zypper found on the host."""
        if self._manager is not None:
            return self._manager
        name = str(self.host.vars.get("package_manager", ""))
        if not name:
            found = self._must(["sh", "-c", "for m in apt-get dnf zypper; do command -v "
                                "\"$m\" >/dev/null 2>&1 && { echo \"$m\"; exit 0; }; done"])
            name = MANAGERS.get(found.stdout.strip(), "")
        if name != "apt":
            raise ActionFailed(f"host {self.host.name}: package manager "
                               f"{name or 'not found'}: only apt is supported over SSH so far")
        self._manager = Apt()
        return self._manager

    # -- packages -----------------------------------------------------------------------
    def package_states(self, names: Sequence[str], *, refresh: str = "when-needed"
                       ) -> dict[str, PackageState]:
        apt = self.manager()
        for name in names:
            apt.check(PackageSpec(name))
        if refresh == "always":
            self._refresh()
        states = apt.parse_query(self._must(apt.query(names)).stdout, names)
        if refresh == "when-needed" and not self._refreshed and \
                any(s.candidate is None for s in states.values()):
            self._refresh()
            states = apt.parse_query(self._must(apt.query(names)).stdout, names)
        return states

    def _refresh(self) -> None:
        if not self._refreshed:
            self._must(self.manager().refresh(), sudo=True)
            self._refreshed = True

    def installed(self) -> dict[str, str]:
        apt = self.manager()
        return apt.parse_installed(self._must(apt.list_installed()).stdout)

    def outdated(self, *, refresh: bool = True) -> dict[str, tuple[str, str]]:
        apt = self.manager()
        if refresh:
            self._refresh()
        return apt.parse_outdated(self._must(apt.outdated()).stdout)

    def install(self, specs: Sequence[PackageSpec]) -> PackageOutcome:
        return self._write(self.manager().install(specs), specs)

    def upgrade(self, specs: Sequence[PackageSpec]) -> PackageOutcome:
        return self._write(self.manager().upgrade(specs), specs)

    def remove(self, names: Sequence[str], *, purge: bool = False) -> PackageOutcome:
        specs = [PackageSpec(n) for n in names]
        return self._write(self.manager().remove(names, purge=purge), specs)

    def _write(self, argv: list[str], specs: Sequence[PackageSpec]) -> PackageOutcome:
        apt = self.manager()
        for spec in specs:
            apt.check(spec)
        self._must(argv, sudo=True)
        flag = self.run(["test", "-e", REBOOT_FLAG])
        return PackageOutcome(reboot_required=flag.ok)


def sudo_refused(result: CommandResult) -> bool:
    return result.exit == 1 and "sudo:" in result.stderr and (
        "password is required" in result.stderr or "terminal is required" in result.stderr
        or "incorrect password" in result.stderr or "not in the sudoers" in result.stderr)


def _verb(argv: Sequence[str]) -> str:
    """The sub-command of an apt-get line, for messages (`install`, `update`)."""
    for word in argv:
        if word in ("install", "remove", "purge", "update", "dist-upgrade"):
            return word
    return ""


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
