"""A third party's broken plug-in (its module gone) is named as such, exit 2: not an
"internal error" of adminkit with exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_domain_that_cannot_be_imported_is_named(tmp_path: Path) -> None:
    info = tmp_path / "site" / "broken-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[adminkit.domains]\nbroken = gone_module:DOMAIN\n")
    profiles = tmp_path / "config" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / "acme.yaml").write_text("description: plain\n")
    env = {**os.environ, "ADMINKIT_CONFIG": str(tmp_path / "config"),
           "ADMINKIT_JOURNAL": str(tmp_path / "journal.db"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"),
                                          os.environ.get("PYTHONPATH", "")])}
    env.pop("ADMINKIT_PROFILE", None)
    r = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "-p", "acme", "account",
                        "show", "jnovak"], env=env, capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 2, r.stderr
    assert "the plug-in broken" in r.stderr
    assert "gone_module" in r.stderr
    assert "internal error" not in r.stderr
