"""As a new user: pipx install the built wheel, `profile new` for the lab's AD and RT, and
a first `account show`, with nothing from this repository on the path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from adminkit.lab.base import LabServer

ROOT = Path(__file__).resolve().parents[2]


def run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout, check=False)


def test_pipx_install_profile_new_and_a_first_account_show(
        samba: LabServer, rt: LabServer, lab_config_dir: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                env={**_base(tmp_path)}, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    [wheel] = dist.glob("adminkit-*.whl")

    home = tmp_path / "home"
    env = {**_base(tmp_path), "HOME": str(home), "PIPX_HOME": str(tmp_path / "pipx"),
           "PIPX_BIN_DIR": str(tmp_path / "bin"), "PIPX_MAN_DIR": str(tmp_path / "man"),
           "ADMINKIT_SYSLOG": "off"}
    installed = run([sys.executable, "-m", "pipx", "install", "--python", sys.executable,
                     str(wheel)], env=env, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    adminkit = str(tmp_path / "bin" / "adminkit")

    version = run([adminkit, "--version"], env=env, cwd=home)
    assert version.stdout.startswith("adminkit "), version.stderr

    lab: dict[str, Any] = yaml.safe_load((lab_config_dir / "profiles" / "lab.yaml").read_text())
    d, t = lab["directory"], lab["tickets"]
    made = run([adminkit, "-o", "json", "profile", "new", "acme", "--no-input",
                "--directory-kind", "ad", "--directory-url", "localhost",
                "--base-dn", d["base_dn"], "--bind-user", d["bind_user"],
                "--bind-password", d["password"], "--ca-file", d["ca_file"],
                "--tickets-kind", "rt", "--tickets-url", t["url"],
                "--tickets-token", t["token"], "--queue", "Helpdesk"], env=env, cwd=home)
    assert made.returncode == 0, made.stdout + made.stderr
    assert {row["status"] for row in json.loads(made.stdout)} == {"ok"}
    assert (home / ".config" / "adminkit" / "profiles" / "acme.yaml").exists()

    shown = run([adminkit, "-p", "acme", "-o", "json", "account", "show", "Administrator"],
                env=env, cwd=home)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["login"] == "Administrator"
    where = run([str(tmp_path / "pipx" / "venvs" / "adminkit" / "bin" / "python"), "-c",
                 "import adminkit; print(adminkit.__file__)"], env=env, cwd=home)
    assert where.stdout.startswith(str(tmp_path / "pipx")), where.stdout


def _base(tmp_path: Path) -> dict[str, str]:
    """An environment with nothing of this shell's: no PYTHONPATH to the repository."""
    import os

    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "LANG", "PIP_FIND_LINKS", "PIP_CERT", "PIP_DEFAULT_TIMEOUT",
                     "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
                     "XDG_CACHE_HOME")}
    return {**keep, "HOME": str(tmp_path / "home"), "PIP_CACHE_DIR": _pip_cache()}


def _pip_cache() -> str:
    """The machine's pip cache: the dependencies are downloaded once, not per run."""
    out = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True,
                         text=True, check=False).stdout.strip()
    return out or str(Path.home() / ".cache" / "pip")
