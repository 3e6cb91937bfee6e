"""tools/check_package.py's `--out`: earlier builds are replaced, nothing else is touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "check_package.py"


def test_an_out_folder_holding_other_files_is_refused_before_anything_is_built(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("three years of work\n")
    (out / "adminkit-0.0.1-py3-none-any.whl").write_bytes(b"old build")
    done = subprocess.run([sys.executable, str(TOOL), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "holds more than built packages (thesis.tex)" in done.stderr
    assert "build sdist" not in done.stderr
    assert (out / "thesis.tex").read_text() == "three years of work\n"
    assert (out / "adminkit-0.0.1-py3-none-any.whl").exists()
