"""Profile YAML that the C (libyaml) and pure-Python parsers must both refuse clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adminkit.core.errors import ConfigError
from adminkit.core.yamlsource import loads


@pytest.mark.parametrize("parser", ["C", "pure"])
@pytest.mark.parametrize("text", ["z:\n  <<: 1\n", "z:\n  <<: [1, 2]\n", "<<: *a\n",
                                  "a: &a x\nz:\n  <<: *a\n"])
def test_a_bad_merge_key_is_a_config_error_with_its_place(
        text: str, parser: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if parser == "pure":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    with pytest.raises(ConfigError) as err:
        loads(text, Path("p.yaml"))
    assert err.value.message.startswith("p.yaml:")
