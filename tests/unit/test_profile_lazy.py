"""A lazy profile (read-only commands) reads like a full one, section by section.

`load_profile(name, lazy=True)` validates core's settings at once and each domain's
section when it is first read: the same values, the same errors (file:line:col) for the
sections read, and `complete()` is the profile a full load gives.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adminkit.accounts.settings import DirectoryConfig, account_settings, directory_settings
from adminkit.core import domains
from adminkit.core.config import Profile, load_profile
from adminkit.core.domains import Domain
from adminkit.core.errors import ConfigError
from adminkit.deploy.settings import inventory_settings
from tests.unit.conftest import Env

GOOD = """\
description: Acme
directory:
  kind: openldap
  url: ldaps://ldap.acme.test
  base_dn: dc=acme,dc=test
  bind_user: cn=admin,dc=acme,dc=test
  password: env:ACME_PW
accounts:
  workers: 3
policy:
  protected_accounts: [root]
tickets:
  kind: rt
  url: https://rt.acme.test/REST/2.0
  token: env:RT_TOKEN
inventory:
  hosts:
  - name: web1
    address: 10.0.0.1
"""
BAD_INVENTORY = GOOD.replace("    address: 10.0.0.1", "    adress: 10.0.0.1")


def write(env: Env, text: str, name: str = "acme") -> str:
    (env.profiles / f"{name}.yaml").write_text(text)
    return name


def test_a_lazy_profile_reads_the_same_values(env: Env) -> None:
    name = write(env, GOOD)
    lazy, full = load_profile(name, lazy=True), load_profile(name)
    assert isinstance(lazy, Profile)
    assert lazy.policy.protected_accounts == ["root"]  # core's own: validated at once
    cfg = directory_settings(lazy)
    assert isinstance(cfg, DirectoryConfig) and cfg == directory_settings(full)
    assert directory_settings(lazy) is cfg  # validated once, then kept
    assert account_settings(lazy).workers == 3
    assert inventory_settings(lazy) == inventory_settings(full)
    assert lazy.section("print_servers", list) is None  # a section the file has not
    assert getattr(lazy, "automation", "missing") is None
    with pytest.raises(AttributeError):
        _ = lazy.no_such_section  # type: ignore[attr-defined]
    assert lazy.complete().model_dump() == full.model_dump()
    assert full.complete() is full


def test_a_bad_section_is_reported_when_read_as_a_full_load_words_it(env: Env) -> None:
    name = write(env, BAD_INVENTORY)
    with pytest.raises(ConfigError) as full:
        load_profile(name)
    lazy = load_profile(name, lazy=True)
    assert directory_settings(lazy) is not None  # the sections it has right still read
    with pytest.raises(ConfigError) as when_read:
        inventory_settings(lazy)
    with pytest.raises(ConfigError) as completed:
        lazy.complete()
    assert str(completed.value) == str(full.value)
    problem = next(line for line in str(full.value).splitlines() if "adress" in line)
    assert problem.startswith(f"{env.profiles / 'acme.yaml'}:19:5: ")
    assert problem in str(when_read.value).splitlines()
    assert when_read.value.hint == full.value.hint


@pytest.mark.parametrize("text", [GOOD + "directroy:\n  kind: ad\n",  # a typo'd section
                                  GOOD + "policy2: {}\n",
                                  GOOD.replace("description: Acme", "description: [1]")])
def test_core_settings_and_unknown_keys_fail_a_lazy_load_too(env: Env, text: str) -> None:
    name = write(env, text)
    with pytest.raises(ConfigError) as full:
        load_profile(name)
    with pytest.raises(ConfigError) as lazy:
        load_profile(name, lazy=True)
    assert str(lazy.value) == str(full.value)


def test_section_names_must_match_the_sections_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """A domain whose `section_names` lie about its settings module is refused."""
    liar = Domain(name="liar", sections="adminkit.accounts.settings:SECTIONS",
                  section_names=("directory",))
    monkeypatch.setattr(domains, "domains", lambda: {"liar": liar})
    with pytest.raises(ConfigError, match="names the profile sections directory"):
        domains.sections.__wrapped__()
    honest = Domain(name="honest", sections="adminkit.accounts.settings:SECTIONS",
                    section_names=("accounts", "directory"))
    monkeypatch.setattr(domains, "domains", lambda: {"honest": honest})
    assert set(domains.sections.__wrapped__()) == {"directory", "accounts"}
    assert set(domains.section_owners.__wrapped__()) == {"directory", "accounts"}


def test_every_installed_domain_names_its_sections() -> None:
    """The shipped domains give `section_names`: a lazy load imports none of them."""
    for domain in domains.domains().values():
        if domain.sections is not None and domain.name in (
                "accounts", "tickets", "printing", "deploy", "automation"):
            assert domain.section_names, domain.name


def test_a_lazy_profile_file_without_sections(tmp_path: Path, env: Env) -> None:
    name = write(env, "description: nothing else\n")
    lazy = load_profile(name, lazy=True)
    assert directory_settings(lazy) is None
    assert lazy.complete().model_dump() == load_profile(name).model_dump()
