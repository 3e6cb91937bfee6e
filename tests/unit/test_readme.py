"""The README's example profile stays a valid profile."""

from __future__ import annotations

from pathlib import Path

import yaml

from adminkit.core.config import Profile

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_profile_is_valid() -> None:
    blocks = [b.split("```", 1)[0] for b in README.read_text().split("```yaml\n")[1:]]
    block, *others = [b for b in blocks if b.startswith("description:")]
    profile = Profile.model_validate({"name": "acme", **yaml.safe_load(block)})
    assert profile.directory is not None and profile.directory.kind == "ad"
    assert profile.accounts.template.groups == ["Staff-All"]
    for other in others:  # the other directories' examples (Entra ID) are valid too
        Profile.model_validate({"name": "other", **yaml.safe_load(other)})


def test_readme_inventory_is_valid() -> None:
    blocks = [b.split("```", 1)[0] for b in README.read_text().split("```yaml\n")[1:]]
    [block] = [b for b in blocks if b.startswith("inventory:")]
    profile = Profile.model_validate({"name": "acme", **yaml.safe_load(block)})
    assert [h.name for h in profile.inventory.hosts] == ["bastion", "web1", "web3"]
