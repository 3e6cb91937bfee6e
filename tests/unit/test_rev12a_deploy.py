"""rev12a: deploy's hostile values and odd files, found by breaking it on purpose."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest

from tests.childproc import as_at_a_terminal

# A fresh interpreter (no test's log handlers): a host that takes the TCP connection and
# closes it before its banner, as a dead sshd or a port that is no SSH server does.
BANNERLESS = """
import socket, sys, threading
from pathlib import Path
from typing import Any
from adminkit.core.errors import AdminkitError
from adminkit.deploy.settings import HostConfig, SSHSettings
from adminkit.deploy.ssh import SSHBackend

server = socket.create_server(("127.0.0.1", 0))

def serve():
    peer, _ = server.accept()
    peer.close()

threading.Thread(target=serve, daemon=True).start()
host = HostConfig(name="h1", address="127.0.0.1", port=server.getsockname()[1])
try:
    SSHBackend(host, SSHSettings(user="u", known_hosts=Path(sys.argv[1]), timeout=10))
except AdminkitError as exc:
    print(type(exc).__name__, exc.message)
"""


def test_a_login_failing_in_paramikos_thread_prints_no_traceback(tmp_path: Path) -> None:
    """paramiko logs the failed handshake's traceback from its transport thread; with no
    handler, Python printed it on the user's terminal beside adminkit's own message."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    done = subprocess.run([sys.executable, "-c", BANNERLESS, str(known)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ConnectionFailed host h1 (127.0.0.1): ")
    assert done.stderr == ""


@pytest.mark.parametrize("value", [math.inf, 1e300, math.nan, 0, -1])
def test_an_endless_or_huge_time_is_refused_before_any_host(value: float) -> None:
    """`host run --timeout inf` (or the profile's deadline or login timeout as `.inf` or
    1e300) was taken, then failed each host once connected: `timeout` on the host cannot
    be given infinity (OverflowError, exit 1), nor a socket 1e300 s."""
    from adminkit.deploy.actions.run import RunParams
    from adminkit.deploy.settings import InventoryConfig, SSHSettings

    with pytest.raises(pydantic.ValidationError):
        RunParams(host="h1", argv=["true"], timeout=value)
    with pytest.raises(pydantic.ValidationError):
        InventoryConfig(deadline=value)
    with pytest.raises(pydantic.ValidationError):
        SSHSettings(user="u", known_hosts=Path("/k"), timeout=value)
    assert RunParams(host="h1", argv=["true"], timeout=86400).timeout == 86400
    assert InventoryConfig(deadline=86400).deadline == 86400


BAD_ADDRESSES = ["127.0.1.1\x00x", "a" * 64 + ".example", "evil.example/x?", "u@10.0.0.1",
                 "10.0.0.1:5986", "-oProxyCommand=x", "", "a b", "h\u043e1.example", "web1\n",
                 "x..example", "-web.example", "a" * 254]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_an_address_is_an_ip_address_or_a_dns_name(address: str) -> None:
    """The profile's address went to the resolver and into WinRM's URL unchecked: one with
    a NUL reached the address before it, an over-long label failed the host with a
    UnicodeError, a '/' or '@' made another URL."""
    from adminkit.deploy.settings import HostConfig

    with pytest.raises(pydantic.ValidationError, match="address"):
        HostConfig(name="h1", address=address)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "fe80::1%eth0", "web-1.brno.example",
                                     "WIN_7", "h1.example.", "a" * 63])
def test_ip_addresses_and_dns_names_are_taken(address: str) -> None:
    from adminkit.deploy.settings import HostConfig

    assert HostConfig(name="h1", address=address).address == address


@pytest.mark.parametrize("spec", ["127.0.1.2:70000", "10.0.0.1:0", "10.0.0.1:x", "::1",
                                  "[::1", "[::1]x", "@10.0.0.1", "u@bad/host", "h1\x00"])
def test_a_jump_host_that_is_no_inventory_host_is_checked_at_load(spec: str) -> None:
    """`jump_host: 127.0.1.2:70000` was taken and its port wrapped (the login went to port
    4464); `[::1]:22` was split at its first colon."""
    from adminkit.deploy.settings import InventoryConfig

    ssh = {"user": "u", "known_hosts": "/k", "jump_host": spec}
    with pytest.raises(pydantic.ValidationError, match=r"jump host|address"):
        InventoryConfig.model_validate({"ssh": ssh, "hosts": [{"name": "h1",
                                                               "address": "10.0.0.1"}]})


@pytest.mark.parametrize(("spec", "target"), [
    ("h2", ("u", "10.0.0.2", 2222)), ("ops@[::1]:2200", ("ops", "::1", 2200)),
    ("bastion.example", ("u", "bastion.example", 22)), ("[fe80::1]", ("u", "fe80::1", 22))])
def test_a_jump_host_by_inventory_name_or_endpoint(spec: str, target: tuple[str, str, int]
                                                   ) -> None:
    from adminkit.deploy.settings import InventoryConfig
    from adminkit.deploy.ssh import _jump_target

    inventory = InventoryConfig.model_validate({
        "ssh": {"user": "u", "known_hosts": "/k", "jump_host": spec},
        "hosts": [{"name": "h1", "address": "10.0.0.1"},
                  {"name": "h2", "address": "10.0.0.2", "port": 2222}]})
    assert _jump_target(inventory, spec) == target


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_private_key_others_may_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    """inventory.ssh.key_file readable by group or others was used for every login (OpenSSH
    refuses it, and adminkit refuses such a `file:` secret): now exit 2 saying so."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from adminkit.core.errors import UsageError
    from adminkit.deploy import ssh

    path = tmp_path / "id_ed25519"
    path.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()))
    path.chmod(mode)
    ssh._key.cache_clear()
    with pytest.raises(UsageError, match=r"inventory\.ssh\.key_file: .*: readable by others"):
        ssh._key(str(path))
    path.chmod(0o600)
    ssh._key.cache_clear()
    assert ssh._key(str(path)).get_name() == "ssh-ed25519"
    ssh._key.cache_clear()


@pytest.mark.parametrize("argv", [["printf", "a" * 70000], ["printf", "'" * 15000],
                                  ["printf", "%s", *["x" * 1000] * 70], ["printf", "a\x00b"]])
def test_a_command_no_host_can_take_is_refused_before_any_host(argv: list[str]) -> None:
    """`host run` with 300 KB of arguments reached every host: sshd reset the connection
    (exit 3, the host reported unreachable) or the login shell said 'Argument list too
    long', after a journal row and note that carried the command whole."""
    from adminkit.deploy.actions.run import RunParams

    with pytest.raises(pydantic.ValidationError, match=r"over 65536|NUL"):
        RunParams(host="h1", argv=argv)


def test_a_long_command_within_the_bound_is_taken() -> None:
    from adminkit.deploy.actions.run import RunParams

    argv = ["printf", "%s", "a" * 60000, "it's; $(id) `x`"]
    assert RunParams(host="h1", argv=argv).argv == argv


# A watched run sent SIGTERM or SIGHUP: Ctrl-C's way (KeyboardInterrupt in the main thread,
# counted), and the default disposition back afterwards.
SIGNALLED = """
import os, signal, sys
from adminkit.core import interrupts

signum = getattr(signal, sys.argv[1])
try:
    with interrupts.watched():
        os.kill(os.getpid(), signum)  # its handler runs before the next line
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted", signal.getsignal(signum) is signal.SIG_DFL)
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_a_run_as_ctrl_c_does(name: str) -> None:
    done = subprocess.run([sys.executable, "-c", SIGNALLED, name], capture_output=True,
                          text=True, check=False, timeout=60, preexec_fn=as_at_a_terminal)
    assert (done.returncode, done.stdout) == (0, "interrupted True\n"), done.stderr


@pytest.mark.parametrize(("version", "source"), [
    ("1.0", 'C:\\pkg\\a.msi" TRANSFORMS="evil.mst'), ("1.0", "C:\\pkg\\a.msi\r\n/quiet"),
    ("1.0", "\\\\files\\msi\\"), ("1.0", " "), ("1.0", "a.msi\x00"), ("1.0", " C:\\a.msi"),
    ("1.0 beta", "C:\\a.msi"), ("-1", "C:\\a.msi"), ("$(id)", "C:\\a.msi")])
def test_an_msi_source_or_version_msiexec_cannot_take_is_refused_at_load(
        version: str, source: str) -> None:
    """An MSI with a quote was refused only at apply, per host, after the plan and its
    journal row; a trailing backslash (escaping msiexec's closing quote), a NUL or a blank
    not at all; a version no `NAME=VERSION` could name was listed silently."""
    from adminkit.deploy.settings import MsiPackage

    with pytest.raises(pydantic.ValidationError, match=r"MSI of|not a package version"):
        MsiPackage(display_name="Contoso Agent", versions={version: source})


def test_msi_sources_as_the_lab_lists_them_are_taken() -> None:
    from adminkit.deploy.settings import MsiPackage

    versions = {"1.2.0": "\\\\files.lab.example.test\\msi\\agent-1.2.0.msi",
                "5.0": "https://files.lab.example.test/msi/reporter-5.0.msi",
                "2.0-rc1": "C:\\Program Files\\pkg\\a b.msi"}
    assert MsiPackage(display_name="A", versions=versions).versions == versions


def test_the_run_records_host_run_quoted_as_it_ran(env: Any, cli: Any) -> None:
    """The run's command (journal, notes) joined the argument list with spaces:
    `printf 'a b'` read as `printf a b`, a line break in an argument began a new line of
    the note, and --sudo was not said at all."""
    import json

    import yaml

    (env.profiles / "fleet.yaml").write_text(yaml.safe_dump({"name": "fleet", "inventory": {
        "ssh": {"user": "ops", "known_hosts": "/dev/null"},
        "run": {"allow": True, "programs": ["printf"], "sudo": True},
        "hosts": [{"name": "h1", "address": "192.0.2.1"}]}}))
    done = cli("-p", "fleet", "--check", "-o", "json", "host", "run", "--hosts", "h1",
               "--sudo", "--", "printf", "%s|", "a b", "x\ny", "it's")
    assert done.code == 0, done.err
    assert json.loads(done.out)["run"]["command"] == (
        "host run --hosts h1 --sudo -- printf '%s|' 'a b' 'x\ny' 'it'\"'\"'s'")
