"""The suite's own guard (tests/conftest.py) catches a file a test writes into an existing
folder of the repository, not only at its top level (revspool)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LEAKY = '''
from pathlib import Path

def test_writes_into_an_existing_folder() -> None:
    Path("tests/leaked-secret.txt").write_text("Bind-Secret-4711\\n")
'''


def test_a_file_left_in_an_existing_folder_fails_the_session(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (repo / "tests" / "test_leaky.py").write_text(LEAKY)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "no:randomly", "tests"], cwd=repo, capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode != 0, r.stdout
    assert "left tests/leaked-secret.txt in the repository" in r.stdout, r.stdout
