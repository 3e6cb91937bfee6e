"""Profile sections, action parameters and results build their pydantic validators at
first use, not at import (a command builds only the models it validates), and once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adminkit.core.result import Change

FRESH = """
from adminkit.deploy.settings import HostConfig
assert HostConfig.__pydantic_complete__ is False, "built at import"
host = HostConfig.model_validate({"name": "web1", "address": "10.0.0.1"})
assert HostConfig.__pydantic_complete__ is True
validator = HostConfig.__pydantic_validator__
for n in range(100):
    HostConfig.model_validate({"name": f"web{n}", "address": "10.0.0.1"})
assert HostConfig.__pydantic_validator__ is validator, "rebuilt per row"
print(host.port, host.transport)
"""


def test_a_section_is_built_at_its_first_validation_and_only_then() -> None:
    done = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "None ssh\n"


def test_a_deferred_model_refuses_as_before() -> None:
    from pydantic import ValidationError

    from adminkit.deploy.settings import HostConfig

    with pytest.raises(ValidationError) as caught:
        HostConfig.model_validate({"name": "web1", "address": "a", "port": 0, "colour": 1})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("port",), "greater_than_equal"), (("colour",), "extra_forbidden")]
    with pytest.raises(ValidationError) as caught:
        Change(op=5, field="mail")  # type: ignore[arg-type]
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("op",), "string_type")]


WARM = """
from pydantic import BaseModel
from adminkit.cli import warmstart
warmstart.preload()
def every(model):
    for sub in model.__subclasses__():
        yield sub
        yield from every(sub)
mine = {m for m in every(BaseModel) if m.__module__.startswith("adminkit.")}
left = sorted(f"{m.__module__}.{m.__qualname__}" for m in mine if not m.__pydantic_complete__)
from adminkit.deploy.settings import HostConfig
print(len(mine) > 50, HostConfig.__pydantic_complete__, left)
"""


def test_the_warm_process_builds_every_deferred_model_before_its_children_fork() -> None:
    done = subprocess.run([sys.executable, "-c", WARM], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "True True []\n"
