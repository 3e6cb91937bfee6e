"""Hostile review of queue ids in their own form (`id:N`, `name:X`, bare).

An `id:` value that no system can ever give (a sign, a leading zero, a space inside,
Arabic-Indic digits, a zero-width character) used to load and then match no ticket, so
every run was refused as "outside the queues" with nothing saying the profile was wrong.
It is refused at load (exit 2) instead. GLPI names a ticket's category by its id too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from adminkit.core.config import Profile, load_profile
from adminkit.core.errors import ConfigError, ExitCode
from adminkit.tickets.glpi import Glpi
from adminkit.tickets.settings import TicketsConfig, allowed_queues
from tests.fakes.glpi import FakeGlpi
from tests.fakes.ticketfake import SECRET_ENV


def write(env: Any, queues: list[str]) -> None:
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump(
        {"name": "acme", "tickets": {"kind": "rt", "url": "https://rt.example.test",
                                     "token": "env:X", "queues": queues}}))


@pytest.mark.parametrize("value", ["id:03", "id:+3", "id:-3", "id:\u0663", "id:3 4",
                                   "id:3\u200b", "id:x3", "id:1e3", "id:" + "9" * 40])
def test_an_id_no_system_gives_is_refused_at_load(env: Any, value: str) -> None:
    write(env, ["General", value])
    with pytest.raises(ConfigError) as err:
        load_profile("acme")
    assert err.value.exit_code == ExitCode.USAGE
    assert "id: takes the queue's id as the system gives it" in err.value.message


@pytest.mark.parametrize("value", ["id:3", "ID:3", "id: 3", "id:0",
                                   "id:" + "0123456789abcdef" * 2])
def test_an_id_as_systems_give_it_loads(env: Any, value: str) -> None:
    write(env, [value])
    assert load_profile("acme").name == "acme"


def test_a_default_queue_in_other_digits_is_not_taken_for_an_id() -> None:
    """`tickets.queue: "٣"` is a name (an RT queue may be called so), not `id:٣`."""
    cfg = TicketsConfig(kind="rt", url="https://rt.example.test", token="env:X",
                        queue="\u0663")
    assert allowed_queues(cfg, "rt") == ("\u0663",)


@pytest.fixture
def glpi(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGlpi]:
    fake = FakeGlpi()
    fake.start()
    monkeypatch.setenv(SECRET_ENV, fake.secret)
    try:
        yield fake
    finally:
        fake.stop()


def test_glpi_a_category_named_by_its_id_matches(glpi: FakeGlpi) -> None:
    """`tickets.queues: [id:7]` loads on GLPI; a ticket in category 7 must be in it (it
    was refused as outside: the category was read as its name alone)."""
    ticket = glpi.add_ticket(category="Printing")  # the fake's category id is 7
    settings = glpi.tickets_config(f"env:{SECRET_ENV}").model_dump(mode="json",
                                                                   exclude_defaults=True)
    profile = Profile.model_validate({"name": "acme",
                                      "tickets": {**settings, "queues": ["id:7"]}})
    system = Glpi(profile)
    try:
        found = system.get(str(ticket))
    finally:
        system.close()
    assert found.in_queue(["id:7"])
    assert found.in_queue(["Printing"])
    assert not found.in_queue(["id:8"])
