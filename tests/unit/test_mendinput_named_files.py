"""Files a profile names for a library: a CA bundle (tickets, directory, print servers,
WinRM, Entra, mail), the SSH key and known_hosts, the webhook server's certificate and
key. A FIFO there hung adminkit (the library's own open() waits for a writer), a device
or a huge file was read whole; each is now refused, exit 2, naming the profile key and
the path, and a symbolic link is judged by what it points at.

Each case runs in a child process with a memory ceiling and a guard timeout, so a
regression fails the test instead of stalling the suite.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GUARD = 60  # seconds: only so that a hang fails the test instead of stalling the suite
CEILING = 1 << 30


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CEILING, CEILING))


def child(code: str) -> str:
    """A child Python running `code` once per path in its argv (as TARGET); it prints
    `EXIT <code> <message>` for an adminkit error, else `NO ERROR`, one line each."""
    body = textwrap.indent(textwrap.dedent(code), "        ")
    return textwrap.dedent("""\
        import sys
        from pathlib import Path
        from types import SimpleNamespace
        from adminkit.core.errors import AdminkitError
        for TARGET in map(Path, sys.argv[1:]):
            try:
        {body}
            except AdminkitError as exc:
                print("EXIT", int(exc.exit_code), exc.message.replace("\\n", " "))
            else:
                print("NO ERROR")
        """).replace("{body}", body)


def run(code: str, *targets: Path) -> list[str]:
    try:
        proc = subprocess.run([sys.executable, "-c", child(code), *map(str, targets)],
                              capture_output=True, text=True, timeout=GUARD, check=False,
                              preexec_fn=_limit, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung on one of {targets}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()


@pytest.fixture
def hostile(tmp_path: Path) -> list[Path]:
    """What no library should be handed: a FIFO (also behind a harmless-looking link),
    a character device, a 1 GiB sparse file, a folder."""
    fifo = tmp_path / "ca.pem.fifo"
    os.mkfifo(fifo)
    link = tmp_path / "ca.pem"
    link.symlink_to(fifo)
    huge = tmp_path / "huge.pem"
    with huge.open("wb") as f:
        f.truncate(1 << 30)
    return [fifo, link, Path("/dev/zero"), huge, tmp_path]


def assert_refused(out: str, key: str, target: Path) -> None:
    assert out.startswith("EXIT 2 "), out
    assert key in out and str(target) in out, out


CASES = {
    "tickets.ca_file": """
        from adminkit.tickets.http import client
        cfg = SimpleNamespace(url="https://127.0.0.1:9/", ca_file=TARGET, insecure=False)
        client(SimpleNamespace(name="acme"), cfg, {})
        """,
    "directory.ca_file": """
        from adminkit.accounts.connection import connect
        from adminkit.accounts.settings import DirectoryConfig
        from adminkit.core.secrets import Secret
        cfg = DirectoryConfig(kind="openldap", url="ldaps://127.0.0.1:9", base_dn="dc=x",
                              bind_user="cn=a", password="env:X", ca_file=TARGET, timeout=1)
        connect(cfg, Secret("pw"))
        """,
    "print_servers[p1].ca_file": """
        from adminkit.printing.tlscheck import client_context
        client_context("p1", "127.0.0.1", 631, TARGET)
        """,
    "winrm.ca_file": """
        from adminkit.core.secrets import Secret
        from adminkit.core.winrm.session import WinRMSession
        from adminkit.core.winrm.target import WinRMTarget
        target = WinRMTarget(name="w1", address="127.0.0.1", user="u", password=Secret("p"),
                             ca_file=TARGET)
        WinRMSession(target)._protocol()
        """,
    "directory.ca_file (Entra, light path)": """
        from adminkit.accounts.entra_http import _ssl
        _ssl(SimpleNamespace(ca_file=TARGET))
        """,
    "directory.ca_file (Entra, azure-identity)": """
        from adminkit.accounts.entra_token import TokenSource
        from adminkit.core.secrets import Secret
        s = SimpleNamespace(authority="https://login.microsoftonline.com", timeout=5,
                            ca_file=TARGET, certificate=False, tenant_id="t", client_id="c")
        TokenSource(s, Secret("x"))._make()
        """,
    "mail.ca_file": """
        from adminkit.core.config import MailConfig
        from adminkit.core.mail import _open
        cfg = MailConfig(host="127.0.0.1", port=9, sender="a@example.org", ca_file=TARGET)
        _open(cfg, SimpleNamespace(name="acme"))
        """,
    "directory.password (Entra's certificate and key, a file: reference)": """
        from adminkit.core.secrets import resolve
        resolve(f"file:{TARGET}", label="directory.password")
        """,
    "inventory.ssh.key_file": """
        from adminkit.deploy.ssh import _key
        _key(str(TARGET))
        """,
    "inventory.ssh.known_hosts": """
        import paramiko
        from adminkit.deploy.ssh import _trust
        _trust(paramiko.SSHClient(), str(TARGET), "127.0.0.1", 22)
        """,
    "automation.serve.tls_cert": """
        from adminkit.automation.serve import server
        serve = SimpleNamespace(host="0.0.0.0", port=8443, tls_cert=TARGET,
                                tls_key=Path("/etc/hostname"), max_body=1000,
                                body_timeout=10.0, max_connections=64)
        server(SimpleNamespace(cfg=SimpleNamespace(serve=serve))).config.load()
        """,
    "automation.serve.tls_key": """
        from adminkit.automation.serve import server
        serve = SimpleNamespace(host="0.0.0.0", port=8443, tls_cert=Path("/etc/hostname"),
                                tls_key=TARGET, max_body=1000,
                                body_timeout=10.0, max_connections=64)
        server(SimpleNamespace(cfg=SimpleNamespace(serve=serve))).config.load()
        """,
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_file_the_profile_names_is_refused_unless_regular_and_bounded(
        case: str, hostile: list[Path]) -> None:
    """test: FIFO, FIFO behind a link, /dev/zero, 1 GiB sparse, a folder: exit 2 naming
    the key and the path, no hang, no memory blow-up."""
    outs = run(CASES[case], *hostile)
    assert len(outs) == len(hostile), outs
    for out, target in zip(outs, hostile, strict=True):
        assert_refused(out, case.split(" ")[0], target)


def test_a_ca_file_without_a_certificate_is_a_config_error(tmp_path: Path) -> None:
    """An empty or non-PEM file trusted nothing, silently: every connection then failed
    as if the server were wrong. It is a profile error naming the key."""
    empty = tmp_path / "ca.pem"
    empty.write_text("")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    for out, target in zip(run(CASES["tickets.ca_file"], empty, garbage), (empty, garbage),
                           strict=True):
        assert_refused(out, "tickets.ca_file", target)


def test_a_real_ca_file_still_works(tmp_path: Path) -> None:
    import certifi

    [out] = run("""
        from adminkit.core.files import tls_context, ca_text
        ctx = tls_context(TARGET, "tickets.ca_file")
        assert ctx.cert_store_stats()["x509_ca"] > 100, ctx.cert_store_stats()
        assert "BEGIN CERTIFICATE" in ca_text(TARGET, "directory.ca_file")
        """, Path(certifi.where()))
    assert out == "NO ERROR"


def test_known_hosts_is_parsed_as_paramiko_parses_it(tmp_path: Path) -> None:
    """The bounded reader keeps paramiko's reading: comments and bad lines skipped,
    several names per line, the first key of a kind for a host the one that counts,
    hashed names matched."""
    import paramiko

    from adminkit.deploy.ssh import _trust

    keys = [paramiko.Ed25519Key.from_private_key_file(str(_ed25519(tmp_path, n)))
            for n in ("one", "two")]
    hashed = paramiko.HostKeys.hash_host("hashed.example")
    text = "\n".join([
        "# a comment", "", "short line", "host ssh-unknown AAAA",
        f"web1,[web2]:2222 {keys[0].get_name()} {keys[0].get_base64()}",
        f"web1 {keys[1].get_name()} {keys[1].get_base64()}",
        f"{hashed} {keys[1].get_name()} {keys[1].get_base64()}"]) + "\n"
    path = tmp_path / "known_hosts"
    path.write_text(text)
    for address, port in (("web1", 22), ("web2", 2222), ("hashed.example", 22),
                          ("other", 22)):
        ours, theirs = paramiko.SSHClient(), paramiko.SSHClient()
        _trust(ours, str(path), address, port)
        name = address if port == 22 else f"[{address}]:{port}"
        found = paramiko.HostKeys(str(path)).lookup(name)
        for kind, key in (found or {}).items():
            theirs.get_host_keys().add(name, kind, key)
        assert {k: v.get_base64() for k, v in (ours.get_host_keys().lookup(name) or {}).items()} \
            == {k: v.get_base64() for k, v in (theirs.get_host_keys().lookup(name) or {}).items()}


def test_a_known_hosts_line_that_is_not_base64_is_skipped(tmp_path: Path) -> None:
    """paramiko's own reader raised InvalidHostKey (an internal error); as OpenSSH does,
    the line is skipped and the other hosts' keys still count."""
    import paramiko

    from adminkit.deploy.ssh import _trust

    key = paramiko.Ed25519Key.from_private_key_file(str(_ed25519(tmp_path, "k")))
    path = tmp_path / "known_hosts"
    path.write_text(f"bad ssh-ed25519 not-base64!\nweb1 {key.get_name()} {key.get_base64()}\n")
    client = paramiko.SSHClient()
    _trust(client, str(path), "web1", 22)
    assert client.get_host_keys().lookup("web1")


def _ed25519(folder: Path, name: str) -> Path:
    path = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)
    return path


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_a_key_file_loads_as_before(tmp_path: Path, kind: str) -> None:
    """The key read bounded and parsed from its bytes is the key paramiko read itself."""
    import paramiko

    from adminkit.deploy.ssh import _key

    path = tmp_path / kind
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)],
                   check=True, capture_output=True)
    ours = _key(str(path))
    assert ours.get_base64() == paramiko.PKey.from_path(str(path)).get_base64()
    assert type(ours) is type(paramiko.PKey.from_path(str(path)))


def test_an_encrypted_key_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "passphrase", "-f", str(path)],
                   check=True, capture_output=True)
    [out] = run("""
        from adminkit.deploy.ssh import _key
        _key(str(TARGET))
        """, path)
    assert out.startswith("EXIT 2 ") and "inventory.ssh.key_file" in out, out
