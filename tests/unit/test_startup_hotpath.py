"""A command that does real work imports only what it uses.

`account show` is typed all day: its whole process must stay close to a bare HTTP
script (issue 15). These tests run it as a fresh process against the Graph fake and
list the modules it imported; a module on the lists below showing up again (a domain's
settings module it does not read, the run service, the journal, rich for JSON output,
importlib.metadata's scan, cryptography's SSH key parsers) fails loudly, with no
timing threshold. The profile's other sections are read lazily: errors in them are still
reported by every command that reads them, and by `profile check`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture
from tests.unit.conftest import Env
from tests.unit.test_startup import _modules_after

# What `account show` never needs: other domains' settings, the run machinery, tables.
NOT_FOR_A_SHOW = (
    "adminkit.automation.service", "adminkit.automation.bulk", "adminkit.automation.settings",
    "adminkit.journal", "adminkit.deploy.settings", "adminkit.printing.settings",
    "adminkit.core.winrm", "adminkit.core.runner", "adminkit.core.context",
    "adminkit.tickets.settings",
    "rich", "msgraph", "azure", "httpx", "kiota_abstractions",
    "importlib.metadata",  # pydantic's plug-in scan: core.entrypoints answers it
)
# Only the secret's path: signing a client assertion needs cryptography, but not its
# SSH, PKCS#12 or X.509 parsers.
NOT_FOR_A_SECRET = ("cryptography",)
NOT_FOR_A_CERTIFICATE = ("cryptography.hazmat.primitives.serialization.ssh",
                         "cryptography.x509")

def modules_of(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `adminkit ARGS` in a fresh interpreter: what it printed, and every module it
    had imported at exit."""
    return _modules_after(tmp_path, *args)


def found(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_account_show_imports_only_what_it_uses(graph: GraphRig, tmp_path: Path,
                                                credential: str) -> None:
    graph.profile(credential=credential, extra=INVENTORY)
    proc, modules = modules_of(tmp_path, "-p", "entra", "account", "show", "jnovak",
                               "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["display_name"] == "Jan Novák"
    assert "adminkit.accounts.entra" in modules  # the probe saw the real work
    assert found(modules, NOT_FOR_A_SHOW) == []
    banned = NOT_FOR_A_SECRET if credential == "secret" else NOT_FOR_A_CERTIFICATE
    assert found(modules, banned) == []


def test_the_probe_sees_a_run_import_the_run_service(graph: GraphRig, tmp_path: Path) -> None:
    """Control: a command that runs an action does load what the show must not."""
    graph.profile(extra=INVENTORY)
    proc, modules = modules_of(tmp_path, "-p", "entra", "--check", "account", "disable",
                               "jnovak")
    assert proc.returncode == 0, proc.stderr
    assert found(modules, NOT_FOR_A_SHOW)  # run service, journal, every section
    assert "adminkit.deploy.settings" in modules  # a run validates the whole profile


INVENTORY = "inventory:\n  hosts:\n  - name: web1\n    address: 127.0.0.1\n"


def test_a_broken_section_a_show_does_not_read(graph: GraphRig, cli: object, env: Env,
                                               tmp_path: Path) -> None:
    """The show reads its sections only; a run and `profile check` still refuse the file,
    naming the line of the bad setting."""
    graph.profile(extra="inventory:\n  hosts:\n  - name: web1\n    adress: 127.0.0.1\n")
    proc, _ = modules_of(tmp_path, "-p", "entra", "account", "show", "jnovak", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    for args in (("-p", "entra", "--check", "account", "disable", "jnovak"),
                 ("profile", "check", "entra")):
        proc, _ = modules_of(tmp_path, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "entra.yaml:" in proc.stderr and "inventory.hosts.0.adress" in proc.stderr


def test_the_light_key_loader_is_cryptographys_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """entra_token loads the app's key without importing `serialization` (its SSH and
    PKCS#12 parsers): through the very function `serialization` names."""
    from cryptography.hazmat.bindings._rust import openssl
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from adminkit.accounts import entra_token
    from adminkit.lab.graph_token import app_pem

    direct = openssl.keys.load_pem_private_key
    assert direct is serialization.load_pem_private_key
    calls: list[bytes] = []

    def watched(data: bytes, **kwargs: Any) -> Any:
        calls.append(data)
        return direct(data, **kwargs)

    monkeypatch.setattr(openssl.keys, "load_pem_private_key", watched)
    pem = app_pem()
    assert isinstance(entra_token._load_key(pem), rsa.RSAPrivateKey)
    assert calls == [pem]  # the direct path, not the public fallback


def test_the_plugin_loader_stand_in_has_the_real_ones_names(tmp_path: Path) -> None:
    """core.entrypoints stands in for pydantic's plug-in loader where no plug-in is
    installed; pydantic calls `get_plugins()` from it, which must exist in the real one
    and answer the same (no plug-ins) in a fresh interpreter."""
    code = ("import json, sys; from adminkit.core.entrypoints import no_pydantic_plugin_scan;"
            "no_pydantic_plugin_scan(); stand_in = sys.modules['pydantic.plugin._loader'];"
            "del sys.modules['pydantic.plugin._loader'];"
            "import pydantic.plugin._loader as real;"
            "print(json.dumps([sorted(n for n in vars(stand_in) if not n.startswith('__')),"
            " sorted(vars(real)), list(stand_in.get_plugins()), list(real.get_plugins())]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    names, real, theirs, ours = json.loads(proc.stdout)
    assert set(names) <= set(real)
    assert "get_plugins" in names
    assert theirs == ours == []


def test_a_direct_key_loader_with_other_arguments_falls_back_to_the_public_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cryptography release whose direct function takes other arguments: the key still
    loads (through `serialization`), no TypeError reaches the operator."""
    from cryptography.hazmat.bindings._rust import openssl
    from cryptography.hazmat.primitives.asymmetric import rsa

    from adminkit.accounts import entra_token
    from adminkit.lab.graph_token import app_pem

    def changed(data: bytes, *, passphrase: bytes | None = None) -> None:
        raise AssertionError("called with the old arguments: should raise TypeError first")

    monkeypatch.setattr(openssl.keys, "load_pem_private_key", changed)
    assert isinstance(entra_token._load_key(app_pem()), rsa.RSAPrivateKey)


def test_a_release_without_the_direct_key_loader_uses_the_public_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another layout of cryptography's binding: the key loads through `serialization`."""
    from cryptography.hazmat.bindings._rust import openssl
    from cryptography.hazmat.primitives.asymmetric import rsa

    from adminkit.accounts import entra_token
    from adminkit.lab.graph_token import app_pem

    monkeypatch.delattr(openssl.keys, "load_pem_private_key")
    assert isinstance(entra_token._load_key(app_pem()), rsa.RSAPrivateKey)


# -- what a listing and a bulk import load before their first request -------------------
# Neither server is up in a unit test: each command walks its whole start (profile,
# backend import) and stops at the refused connection (exit 3), so the modules it had
# imported are those it needs before the first request. The control at the end of each
# test (`cups`, `ldap3` imported) shows the probe reached the connection.

# `job list` reads `print_servers` alone: no other domain's settings, no run, no tables
# for `-o csv`, no WinRM (its printers are CUPS).
NOT_FOR_A_LISTING = (
    "adminkit.deploy.settings", "adminkit.automation.settings", "adminkit.accounts.settings",
    "adminkit.tickets.settings", "adminkit.core.winrm", "adminkit.core.context",
    "adminkit.core.runner", "adminkit.automation.service", "adminkit.journal",
    "rich", "ldap3", "jinja2", "paramiko", "winrm", "httpx", "importlib.metadata",
)
# `account import` on OpenLDAP validates the whole profile (every run does) but loads
# no other backend, no templates, no tables for `-o json`, and not the WinRM scripts'
# resource loader that deploy's settings would otherwise bring.
NOT_FOR_AN_IMPORT = (
    "rich", "jinja2", "cups", "paramiko", "winrm", "httpx", "msgraph", "azure",
    "adminkit.playbook", "adminkit.printing.servers", "adminkit.deploy.backend",
    "importlib.resources", "importlib.metadata",
)
OTHER_SECTIONS = """\
tickets:
  kind: rt
  url: http://127.0.0.1:9/REST/2.0
  token: env:RT_TOKEN
  queue: Helpdesk
"""


def _refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_job_listing_reads_only_its_section(env: Env, tmp_path: Path) -> None:
    (env.profiles / "print.yaml").write_text(
        "print_servers:\n- name: p1\n  kind: cups\n  host: 127.0.0.1\n"
        f"  port: {_refused_port()}\n" + INVENTORY + OTHER_SECTIONS)
    proc, modules = modules_of(tmp_path, "-p", "print", "-o", "csv", "job", "list")
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "p1" in proc.stderr or "127.0.0.1" in proc.stderr
    assert "cups" in modules and "adminkit.printing.settings" in modules
    assert found(modules, NOT_FOR_A_LISTING) == []


def test_a_listing_still_refuses_a_broken_print_section(env: Env, tmp_path: Path) -> None:
    """The section it reads is validated as before, with the file's line."""
    (env.profiles / "print.yaml").write_text(
        "print_servers:\n- name: p1\n  kind: cups\n  hots: 127.0.0.1\n")
    proc, _ = modules_of(tmp_path, "-p", "print", "-o", "csv", "job", "list")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "print.yaml:4:" in proc.stderr and "print_servers.0.hots" in proc.stderr


def test_an_import_loads_no_other_backend(env: Env, tmp_path: Path) -> None:
    (env.profiles / "ldap.yaml").write_text(
        "directory:\n  kind: openldap\n"
        f"  url: ldaps://127.0.0.1:{_refused_port()}\n"
        "  base_dn: dc=example,dc=org\n  bind_user: cn=adminkit,dc=example,dc=org\n"
        "  password: env:LDAP_BIND_PW\n  users_ou: ou=people,dc=example,dc=org\n"
        + INVENTORY + OTHER_SECTIONS)
    rows = tmp_path / "users.csv"
    rows.write_text("given_name,surname,login\nJana,Nováková,jnovakova\n")
    proc, modules = _modules_after(tmp_path, "-p", "ldap", "--check", "-o", "json", "account",
                                   "import", str(rows), env={"LDAP_BIND_PW": "secret"})
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "ldap3" in modules  # it got as far as connecting
    assert "adminkit.deploy.settings" in modules  # a run validates the whole profile
    assert found(modules, NOT_FOR_AN_IMPORT) == []
