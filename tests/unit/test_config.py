"""Profiles: valid files load; invalid ones fail with file:line:col, exit 2 and no traceback."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

from adminkit.core import yamlsource
from adminkit.core.config import (
    ConfigError,
    Profile,
    list_profiles,
    load_profile,
    load_profile_file,
    profile_path,
)
from adminkit.core.errors import ExitCode, UsageError

VALID = """\
description: ACME s.r.o.
directory:
  kind: ad
  url: ldaps://dc1.acme.test:636
  base_dn: DC=acme,DC=test
  bind_user: svc-adminkit@acme.test
  password: env:ACME_BIND_PW
  users_ou: OU=Users,DC=acme,DC=test
  timeout: 5
print_servers:
  - name: main
    kind: cups
    host: print.acme.test
  - name: branch
    kind: windows
    host: ps2.acme.test
    user: svc-print
    password: keyring:adminkit/acme-print
tickets:
  kind: rt
  url: https://rt.acme.test
  token: file:/etc/adminkit/acme-rt.token
mail:
  host: smtp.acme.test
  sender: adminkit@acme.test
policy:
  protected_accounts: [administrator, krbtgt]
  bulk_limit: 10
"""

DIRECTORY_HEAD = """\
directory:
  kind: ad
  url: ldaps://dc1.acme.test:636
  base_dn: DC=acme,DC=test
  bind_user: svc-adminkit@acme.test
  password: env:ACME_BIND_PW
"""


def _write(env, name: str, text: str) -> Path:
    path = env.profiles / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _error(env, text: str, name: str = "acme") -> tuple[Path, ConfigError]:
    path = _write(env, name, text)
    with pytest.raises(ConfigError) as info:
        load_profile(name)
    return path, info.value


# -- valid ------------------------------------------------------------------------------------

def test_valid_profile_loads(env) -> None:
    path = _write(env, "acme", VALID)
    profile = load_profile("acme")
    assert isinstance(profile, Profile)
    assert profile.name == "acme"
    assert profile.file == path
    assert profile.directory is not None
    assert profile.directory.kind == "ad"
    assert profile.directory.password == "env:ACME_BIND_PW"  # a reference, not resolved
    assert profile.directory.timeout == 5.0
    assert profile.directory.starttls is False
    assert [s.name for s in profile.print_servers] == ["main", "branch"]
    assert profile.tickets is not None
    assert profile.tickets.note_per == "action"
    assert profile.mail is not None
    assert profile.mail.port == 25
    assert profile.policy.protected_accounts == ["administrator", "krbtgt"]
    assert profile.policy.bulk_limit == 10


def test_empty_profile_is_valid(env) -> None:
    _write(env, "empty", "")
    profile = load_profile("empty")
    assert profile.directory is None
    assert profile.policy.bulk_limit == 25


def test_profile_secret_resolves_only_on_demand(env, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(env, "acme", VALID)
    profile = load_profile("acme")
    monkeypatch.setenv("ACME_BIND_PW", "s3cret-value")
    assert profile.directory is not None
    secret = profile.secret(profile.directory.password, "bind password")
    assert secret.reveal() == "s3cret-value"


def test_load_profile_from_explicit_config_dir(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere" / "profiles"
    folder.mkdir(parents=True)
    (folder / "other.yaml").write_text("description: other\n")
    assert load_profile("other", tmp_path / "elsewhere").description == "other"
    assert list_profiles(tmp_path / "elsewhere") == ["other"]
    assert profile_path("x", tmp_path) == tmp_path / "profiles" / "x.yaml"


def test_unknown_profile_names_it_and_the_known_ones(env) -> None:
    _write(env, "acme", VALID)
    with pytest.raises(UsageError, match="no profile named 'nosuch'") as info:
        load_profile("nosuch")
    assert info.value.hint is not None
    assert "acme" in info.value.hint
    assert info.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("name", ["Acme", "../etc/passwd", "", "a b", "-x"])
def test_bad_profile_names_are_usage_errors(name: str) -> None:
    with pytest.raises(UsageError, match="not a profile name"):
        load_profile(name)


# -- invalid: each error names file:line:col ---------------------------------------------------

def test_unknown_nested_key(env) -> None:
    path, err = _error(env, DIRECTORY_HEAD + "  colour: blue\n")
    assert f"{path}:7:3: directory.colour: unknown setting" in str(err)


def test_unknown_key_deeper_in_a_list(env) -> None:
    path, err = _error(env, """\
        print_servers:
          - name: a
            kind: cups
            host: p1
          - name: b
            kind: cups
            hots: p2
        """)
    assert f"{path}:7:5: print_servers.1.hots: unknown setting" in str(err)
    assert f"{path}:5:5: print_servers.1.host: Field required" in str(err)
    assert "(2 problems)" in str(err)


def test_unknown_top_level_key(env) -> None:
    path, err = _error(env, "description: x\ndirectroy: {}\n")
    assert f"{path}:2:1: directroy: unknown setting" in str(err)


def test_wrong_type(env) -> None:
    path, err = _error(env, DIRECTORY_HEAD + "  timeout: soon\n")
    assert f"{path}:7:3: directory.timeout:" in str(err)
    assert "valid number" in str(err)


def test_wrong_type_literal(env) -> None:
    path, err = _error(env, DIRECTORY_HEAD.replace("kind: ad", "kind: novell"))
    assert f"{path}:2:3: directory.kind:" in str(err)
    assert "unknown kind 'novell'; installed: ad, " in str(err)
    assert "openldap" in str(err)


def test_wrong_type_in_a_list_item(env) -> None:
    path, err = _error(env, """\
        description: x
        print_servers:
          - name: a
            kind: cups
            host: p1
            port: not-a-port
        """)
    assert f"{path}:6:5: print_servers.0.port:" in str(err)


def test_missing_required_field(env) -> None:
    path, err = _error(env, DIRECTORY_HEAD.replace("  base_dn: DC=acme,DC=test\n", ""))
    assert f"{path}:1:1: directory.base_dn: Field required" in str(err)


def test_secret_given_as_a_value(env) -> None:
    path, err = _error(env, DIRECTORY_HEAD.replace("env:ACME_BIND_PW", "hunter2"))
    text = str(err)
    assert f"{path}:6:3: directory.password:" in text
    assert "must be a reference" in text
    assert "hunter2" not in text  # the error does not echo the would-be secret


def test_secret_given_as_a_value_in_a_list(env) -> None:
    path, err = _error(env, """\
        print_servers:
          - name: b
            kind: windows
            host: ps2
            password: Winter2026!
        """)
    assert f"{path}:5:5: print_servers.0.password:" in str(err)
    assert "Winter2026!" not in str(err)


def test_bad_yaml_syntax(env) -> None:
    path, err = _error(env, "description: x\ndirectory:\n  kind: ad\n   url: x\n")
    assert str(err).startswith(f"{path}:4:7: not valid YAML:")


def test_bad_yaml_unterminated(env) -> None:
    path, err = _error(env, 'description: "no end\n')
    assert f"{path}:2:1: not valid YAML" in str(err)


def test_duplicate_key(env) -> None:
    path, err = _error(env, "description: one\npolicy:\n  bulk_limit: 5\ndescription: two\n")
    assert f"{path}:4:1: duplicate key 'description'" in str(err)


def test_duplicate_nested_key(env) -> None:
    path, err = _error(env, DIRECTORY_HEAD + "  kind: openldap\n")
    assert f"{path}:7:3: duplicate key 'kind'" in str(err)


def test_top_level_not_a_mapping(env) -> None:
    path, err = _error(env, "- a\n- b\n")
    assert f"{path}:1:1: a profile must be a mapping" in str(err)


def test_config_error_is_a_usage_error_with_exit_2(env) -> None:
    _, err = _error(env, DIRECTORY_HEAD + "  colour: blue\n")
    assert isinstance(err, UsageError)
    assert err.exit_code == ExitCode.USAGE == 2
    assert err.hint is not None
    assert "adminkit profile check acme" in err.hint


def test_several_problems_are_all_listed(env) -> None:
    path, err = _error(env, DIRECTORY_HEAD + "  colour: blue\n  timeout: soon\n"
                       "policy:\n  bulk_limit: -1\n")
    text = str(err)
    assert "(3 problems)" in text
    assert f"{path}:7:3: directory.colour" in text
    assert f"{path}:8:3: directory.timeout" in text
    assert f"{path}:10:3: policy.bulk_limit" in text


def test_load_profile_file_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile_file(tmp_path / "absent.yaml")


# -- yamlsource limits -------------------------------------------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_alias_bomb_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"more than 100000 values \(alias expansion\?\)"):
        yamlsource.loads(BILLION_LAUGHS, Path("bomb.yaml"))


def test_alias_bomb_profile_through_the_cli(env, cli) -> None:
    _write(env, "bomb", BILLION_LAUGHS)
    res = cli("profile", "check", "bomb")
    assert res.code == 2
    assert "alias expansion" in res.err


def test_small_aliases_are_fine() -> None:
    src = yamlsource.loads("a: &x [1, 2]\nb: *x\n", Path("ok.yaml"))
    assert src.data == {"a": [1, 2], "b": [1, 2]}


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match="nested deeper than 32"):
        yamlsource.loads("a: &a [*a]\n", Path("loop.yaml"))


@pytest.mark.parametrize("depth", [33, 40, 100])
def test_too_deep_nesting_is_refused(depth: int) -> None:
    text = "a: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(ConfigError, match="nested deeper than 32 levels") as info:
        yamlsource.loads(text, Path("deep.yaml"))
    assert str(info.value).startswith("deep.yaml:1:")


def test_nesting_within_the_limit_is_fine() -> None:
    depth = 30
    src = yamlsource.loads("a: " + "[" * depth + "]" * depth + "\n", Path("ok.yaml"))
    value = src.data["a"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


def test_very_deep_nesting_is_refused_cleanly() -> None:
    depth = 1000
    with pytest.raises(ConfigError, match="nested deeper"):
        yamlsource.loads("a: " + "[" * depth + "]" * depth + "\n", Path("deep.yaml"))


def test_oversized_file_is_refused() -> None:
    text = "description: " + "x" * (yamlsource.MAX_BYTES + 1) + "\n"
    with pytest.raises(ConfigError, match="larger than"):
        yamlsource.loads(text, Path("big.yaml"))


def test_where_points_at_the_deepest_known_node() -> None:
    src = yamlsource.loads("a:\n  b:\n    - x\n    - y: 1\n", Path("w.yaml"))
    assert src.where(["a", "b", 1, "y"]) == "w.yaml:4:7"
    assert src.where(["a", "b", 0]) == "w.yaml:3:7"
    assert src.where(["a", "b", 1, "nope"]) == "w.yaml:4:7"
    assert src.where(["a", "missing"]) == "w.yaml:1:1"
    assert src.where(["zzz"]) == "w.yaml:1:1"


def test_non_scalar_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="mapping keys must be plain values"):
        yamlsource.loads("? [a, b]\n: 1\n", Path("k.yaml"))


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.mkdir", "!!python/object/new:os.mkdir"])
def test_python_tags_never_execute(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "pwned"
    with contextlib.suppress(ConfigError, yaml.YAMLError):  # refusing is fine; running is not
        yamlsource.loads(f"a: {tag} ['{marker}']\n", Path("t.yaml"))
    assert not marker.exists()


@pytest.mark.parametrize(("text", "where"), [
    ("description: !vault x\n", "t.yaml:1:14"),
    ("policy:\n  bulk_limit: !!int x\n", "t.yaml:2:15"),
])
def test_unconstructible_scalar_is_a_config_error(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        yamlsource.loads(text, Path("t.yaml"))
    assert str(info.value).startswith(where)


# -- through the CLI --------------------------------------------------------------------------

def test_cli_profile_check_invalid_exits_2_with_line(env, cli) -> None:
    path = _write(env, "acme", DIRECTORY_HEAD + "  colour: blue\n")
    res = cli("--config", str(env.config), "profile", "check", "acme")
    assert res.code == 2
    assert res.err.startswith("error: ")
    assert f"{path}:7:3: directory.colour: unknown setting" in res.err
    assert "hint:" in res.err
    assert "Traceback" not in res.err + res.out


def test_cli_profile_check_invalid_in_a_real_process(env, tmp_path: Path) -> None:
    other = tmp_path / "other-config"
    (other / "profiles").mkdir(parents=True)
    (other / "profiles" / "acme.yaml").write_text(
        DIRECTORY_HEAD.replace("env:ACME_BIND_PW", "hunter2"))
    proc = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "--config", str(other),
                           "profile", "check", "acme"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert f"{other / 'profiles' / 'acme.yaml'}:6:3: directory.password" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout


def test_cli_profile_check_bad_yaml(env, cli) -> None:
    _write(env, "acme", "directory:\n  kind: ad\n   url: x\n")
    res = cli("profile", "check", "acme")
    assert res.code == 2
    assert ":3:7: not valid YAML" in res.err
    assert "Traceback" not in res.err


def test_cli_profile_check_nothing_to_check(env, cli) -> None:
    _write(env, "quiet", "description: no systems\n")
    res = cli("profile", "check", "quiet")
    assert res.code == 0, res.err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_profile_check_unreachable_system_exits_3(env, cli) -> None:
    port = _closed_port()
    _write(env, "acme", f"mail:\n  host: 127.0.0.1\n  port: {port}\n  sender: a@acme.test\n")
    res = cli("--output", "json", "profile", "check", "acme")
    assert res.code == 3
    [row] = json.loads(res.out)
    assert row["system"] == "mail"
    assert row["status"] == "failed"


def test_cli_profile_list(env, cli) -> None:
    _write(env, "acme", VALID)
    _write(env, "beta", "description: b\n")
    res = cli("--output", "json", "profile", "list")
    assert res.code == 0
    assert json.loads(res.out) == [
        {"name": "acme", "file": str(env.profiles / "acme.yaml")},
        {"name": "beta", "file": str(env.profiles / "beta.yaml")},
    ]
    res = cli("profile", "list")
    assert res.code == 0
    assert "acme" in res.out
    assert "beta" in res.out


def test_cli_profile_list_empty(env, cli) -> None:
    res = cli("--output", "json", "profile", "list")
    assert res.code == 0
    assert json.loads(res.out) == []


@pytest.mark.parametrize("output", ["table", "json"])
def test_cli_profile_show_never_prints_a_secret(env, cli, monkeypatch: pytest.MonkeyPatch,
                                                output: str, tmp_path: Path) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("ACME_BIND_PW", canary)
    token = tmp_path / "rt.token"
    token.write_text(canary + "-token")
    token.chmod(0o600)
    _write(env, "acme", VALID.replace("file:/etc/adminkit/acme-rt.token", f"file:{token}"))
    res = cli("--output", output, "profile", "show", "acme")
    assert res.code == 0, res.err
    assert canary not in res.out + res.err
    assert "env:ACME_BIND_PW" in res.out
    assert f"file:{token}" in res.out
    if output == "json":
        data = json.loads(res.out)
        assert data["directory"]["password"] == "env:ACME_BIND_PW"
        assert data["name"] == "acme"


def test_cli_profile_show_unknown(env, cli) -> None:
    res = cli("profile", "show", "nosuch")
    assert res.code == 2
    assert "no profile named 'nosuch'" in res.err
