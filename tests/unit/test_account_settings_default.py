"""A profile without an `accounts` section gets the default settings, one shared frozen
object (a bulk import asks for them several times per row)."""

from __future__ import annotations

import pydantic
import pytest

from adminkit.accounts.settings import AccountsConfig, account_settings
from adminkit.core.config import Profile


def test_a_profile_without_the_section_gets_the_defaults_once() -> None:
    profile = Profile.of(name="bare")
    first = account_settings(profile)
    assert first == AccountsConfig()
    assert account_settings(profile) is first
    assert account_settings(Profile.of(name="other")) is first
    with pytest.raises(pydantic.ValidationError):  # frozen: nobody changes the shared one
        first.password_length = 30  # type: ignore[misc]


def test_a_profile_with_the_section_gets_its_own() -> None:
    profile = Profile.of(name="own", accounts={"password_length": 20})
    assert account_settings(profile).password_length == 20
    assert account_settings(Profile.of(name="bare")).password_length == 16
