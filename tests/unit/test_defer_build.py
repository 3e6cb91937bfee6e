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
