"""A lazy profile (read-only commands) never reads a section as absent that it has.

`Profile.__getattr__` validates a domain's section at its first read. An AttributeError
raised while doing so (a plug-in's settings module that names a model it no longer has,
a validator that calls `.lower()` on a number) must not escape from `__getattr__` as
itself: `getattr(profile, key, None)`, which `Profile.section` uses, would then answer
"no such section", and the command would go on with the defaults.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import field_validator

from adminkit.accounts.settings import DirectoryConfig, directory_settings
from adminkit.core import config, domains
from adminkit.core.config import Profile, Settings, load_profile
from adminkit.core.domains import Domain
from adminkit.core.errors import ConfigError
from tests.unit.conftest import Env
from tests.unit.test_profile_lazy import GOOD


class Widgets(Settings):
    """A third party's section with a validator that assumes a string."""

    owner: str

    @field_validator("owner", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower()  # an int has no .lower(): AttributeError, not a ValueError


SECTIONS: dict[str, Any] = {"widgets": Widgets}
HERE = __name__


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def install(path: str) -> None:
        widgets = Domain(name="widgets", sections=path, section_names=("widgets",))
        monkeypatch.setattr(domains, "domains", lambda: {"widgets": widgets})
        forget()
    yield install  # type: ignore[misc]
    forget()


def forget() -> None:
    for cached in (domains.sections, domains.section_owners, config.profile_model):
        cached.cache_clear()


def test_a_validator_raising_attribute_error_is_no_missing_section(
        env: Env, plugin: Any) -> None:
    plugin(f"{HERE}:SECTIONS")
    (env.profiles / "acme.yaml").write_text("widgets:\n  owner: 5\n")
    with pytest.raises(AttributeError):
        load_profile("acme")  # a full load does not go on without the section
    lazy = load_profile("acme", lazy=True)
    with pytest.raises(ConfigError, match="widgets"):
        lazy.section("widgets", Widgets)


def test_a_settings_module_without_its_sections_is_no_missing_section(
        env: Env, plugin: Any) -> None:
    plugin(f"{HERE}:NO_SUCH_SECTIONS")
    (env.profiles / "acme.yaml").write_text("widgets:\n  owner: jan\n")
    lazy = load_profile("acme", lazy=True)
    with pytest.raises(ConfigError, match="widgets"):
        lazy.section("widgets", Widgets)


def test_threads_reading_a_section_first_get_one_value(env: Env) -> None:
    """A read-only command that reads the profile from threads gets the same section."""
    (env.profiles / "acme.yaml").write_text(GOOD)
    for _ in range(20):
        lazy = load_profile("acme", lazy=True)
        start = threading.Barrier(8)
        got: list[DirectoryConfig | None] = []

        def read(lazy: Profile = lazy, start: threading.Barrier = start,
                 got: list[DirectoryConfig | None] = got) -> None:
            start.wait()
            got.append(directory_settings(lazy))

        threads = [threading.Thread(target=read) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 8 and all(g is got[0] for g in got)
        assert isinstance(got[0], DirectoryConfig)


def test_section_names_given_as_one_string_is_refused_by_name(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """`section_names="widgets"` (a plug-in author's slip for `("widgets",)`) would make
    the sections w, i, d, g, e, t, s: the profile's `widgets:` then reads as a typo in the
    user's file. The domain is named instead, for a lazy and a full load alike."""
    slip = Domain(name="widgets", sections=f"{HERE}:SECTIONS",
                  section_names="widgets")  # type: ignore[arg-type]
    monkeypatch.setattr(domains, "domains", lambda: {"widgets": slip})
    forget()
    (env.profiles / "acme.yaml").write_text("widgets:\n  owner: jan\n")
    try:
        for lazy in (True, False):
            with pytest.raises(ConfigError, match="domain widgets") as caught:
                load_profile("acme", lazy=lazy)
            assert "unknown setting" not in str(caught.value)
    finally:
        forget()
