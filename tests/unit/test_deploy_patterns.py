"""Host patterns pick hosts from the inventory by name, glob and group; `!` takes out."""

from __future__ import annotations

import pytest

from adminkit.core.errors import UsageError
from adminkit.deploy.patterns import select
from adminkit.deploy.settings import HostConfig, InventoryConfig

HOSTS = [HostConfig(name=n, address=f"10.0.0.{i}", groups=g) for i, (n, g) in enumerate([
    ("web1", ["brno", "web"]), ("web2", ["praha", "web"]), ("web3", ["brno", "web"]),
    ("db1", ["brno"]), ("print-01", ["praha"]),
], start=1)]


def names(pattern: str) -> list[str]:
    return select(pattern, HOSTS).names


def test_globs_groups_and_exclusions_in_inventory_order() -> None:
    assert names("web*,group:brno,!web3") == ["web1", "web2", "db1"]
    assert names("all,!group:web") == ["db1", "print-01"]
    assert names("db1,web?") == ["web1", "web2", "web3", "db1"]
    assert names("group:pr*") == ["web2", "print-01"]
    assert names("web[13]") == ["web1", "web3"]


def test_an_unknown_plain_name_is_kept_to_fail_alone() -> None:
    picked = select("web1,nosuch", HOSTS)
    assert [h.name for h in picked.hosts] == ["web1"]
    assert picked.unknown == ["nosuch"]
    assert select("nosuch,!nosuch,web1", HOSTS).unknown == []


@pytest.mark.parametrize("pattern", ["", ",web1", "web1,,web2", "web1;reboot", "$(id)",
                                     "web 1", "group:", "a`b`"])
def test_malformed_patterns_are_usage_errors(pattern: str) -> None:
    with pytest.raises(UsageError):
        select(pattern, HOSTS)


def test_a_pattern_that_selects_nothing_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="selects no host"):
        select("zz*", HOSTS)


def test_inventory_refuses_pattern_characters_in_names_and_duplicates() -> None:
    with pytest.raises(ValueError, match="host name"):
        HostConfig(name="web*", address="x")
    with pytest.raises(ValueError, match="listed twice"):
        InventoryConfig(hosts=[HOSTS[0], HOSTS[0]])


@pytest.mark.parametrize("pattern", ["all,!group:prodcution", "group:brno,group:prgue",
                                     "all,!web33", "!nosuch,web1"])
def test_an_unknown_group_or_excluded_name_is_a_usage_error(pattern: str) -> None:
    """A typo in a group or an exclusion selected silently: `app remove X --hosts
    'all,!group:prodcution'` went on to every host, the ones meant to be spared too."""
    with pytest.raises(UsageError, match=r"not in the inventory|no host of the inventory"):
        select(pattern, HOSTS)


def test_globs_that_match_nothing_stay_fuzzy() -> None:
    assert names("all,!web9*,!group:x*") == ["web1", "web2", "web3", "db1", "print-01"]
    assert names("web1,group:zz*") == ["web1"]
