"""CI: build the sdist and the wheel, check them, and run the wheel away from the repository.

    python tools/check_package.py [--out DIR]

1. `python -m build` makes both (in an isolated build environment, as pip would);
2. the README renders as PyPI renders it (readme_renderer), and `twine check --strict`
   checks both files' metadata;
3. the wheel's own metadata: the version is `adminkit.__version__`, the `adminkit`
   script, the extras, the shipped playbooks;
4. the wheel goes into a fresh venv (with its dependencies, no extras) and, run from an
   empty folder with a clean environment, `adminkit --version`, `adminkit --help` and
   `adminkit playbook list` and `adminkit doctor` (exit 0 in a fresh home) must work
   and import adminkit from that venv, not from here.

Prints how long each step took. Exit 1 on the first failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def step(name: str, cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run(cmd, text=True, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
    print(f"  {name}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        sys.exit(f"check_package: {name} failed (exit {done.returncode})")
    return done


def fail(text: str) -> None:
    sys.exit(f"check_package: {text}")


def version() -> str:
    found = re.search(r'^__version__ = "([^"]+)"', (ROOT / "src/adminkit/__init__.py").read_text(),
                      re.M)
    if not found:
        fail("no __version__ in src/adminkit/__init__.py")
    assert found
    return found.group(1)


def readme_renders() -> None:
    """twine passes a Markdown README it cannot render (no Markdown renderer installed)
    with a mere warning: render it as PyPI will, and fail if that gives nothing."""
    import warnings

    from readme_renderer.markdown import render

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            html = render((ROOT / "README.md").read_text(encoding="utf-8"))
        except UserWarning as exc:
            fail(f"the README cannot be rendered: {exc}")
    if not html:
        fail("the README renders to nothing (as PyPI would show it)")


def check_wheel(wheel: Path, want: str) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = whl.read(info).decode()
        entry = whl.read(info.replace("METADATA", "entry_points.txt")).decode()
    if f"\nVersion: {want}\n" not in meta:
        fail(f"the wheel's METADATA does not say Version: {want}")
    if "Description-Content-Type: text/markdown" not in meta:
        fail("the README is not the wheel's long description (text/markdown)")
    for extra in ("all", "cups", "keyring"):
        if f"Provides-Extra: {extra}\n" not in meta:
            fail(f"the wheel has no extra {extra!r}")
    if "adminkit = adminkit.cli.main:main" not in entry:
        fail("the wheel has no `adminkit` console script")
    if not any(n.startswith("adminkit/playbooks/") and n.endswith(".yaml") for n in names):
        fail("the wheel ships no playbooks")


def try_installed(wheel: Path, work: Path, want: str) -> None:
    venv = work / "venv"
    # No pip of its own (ensurepip is most of a venv's cost): this pip installs into it.
    step("fresh venv", [sys.executable, "-m", "venv", "--without-pip", str(venv)])
    step("pip install the wheel", [sys.executable, "-m", "pip", "--python",
                                   str(venv / "bin/python"), "install", "-q", str(wheel)])
    empty = work / "elsewhere"
    empty.mkdir()
    # Nothing from this shell: no PYTHONPATH to the repository, a home of its own.
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(work / "home"), "LANG": "C.UTF-8"}
    exe = str(venv / "bin/adminkit")
    out = step("adminkit --version", [exe, "--version"], cwd=empty, env=env).stdout
    if not out.startswith(f"adminkit {want}\nextras: "):
        fail(f"adminkit --version said {out!r}")
    if "Commands:" not in step("adminkit --help", [exe, "--help"], cwd=empty, env=env).stdout:
        fail("adminkit --help lists no commands")
    listed = step("adminkit playbook list",
                  [exe, "-o", "json", "playbook", "list"], cwd=empty, env=env).stdout
    if "onboard-user" not in {row.get("name") for row in json.loads(listed)}:
        fail("the installed wheel does not list its shipped playbook onboard-user")
    found = json.loads(step("adminkit doctor", [exe, "-o", "json", "doctor"], cwd=empty,
                            env=env).stdout)
    if {"python", "extra", "journal"} - {row["check"] for row in found}:
        fail(f"adminkit doctor from the wheel reported {found}")
    where = step("import location", [str(venv / "bin/python"), "-c",
                                     "import adminkit; print(adminkit.__file__)"],
                 cwd=empty, env=env).stdout.strip()
    if not where.startswith(str(venv)):
        fail(f"the installed adminkit imported from {where}, not from the venv")


def clear_out(dist: Path) -> None:
    """Empty `--out` of earlier builds, and of nothing else: `--out .` or `--out ~` is a
    slip of the hand, not a request to delete a folder."""
    if not dist.exists():
        return
    if not dist.is_dir():
        fail(f"--out {dist} is not a folder")
    built = [p for p in dist.iterdir() if p.is_file() and not p.is_symlink()
             and (p.suffix == ".whl" or p.name.endswith(".tar.gz"))]
    others = sorted(p.name for p in dist.iterdir() if p not in built)
    if others:
        fail(f"--out {dist} holds more than built packages ({', '.join(others[:5])}"
             f"{', ...' if len(others) > 5 else ''}): name an empty or new folder")
    for old in built:
        old.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, help="where the sdist and wheel go (kept)")
    args = parser.parse_args()
    started = time.monotonic()
    want = version()
    with tempfile.TemporaryDirectory(prefix="adminkit-package-") as tmp:
        work = Path(tmp)
        dist = args.out or work / "dist"
        clear_out(dist)
        step("build sdist + wheel", [sys.executable, "-m", "build", "--outdir", str(dist),
                                     str(ROOT)])
        built = sorted(dist.iterdir())
        wheels = [p for p in built if p.suffix == ".whl"]
        sdists = [p for p in built if p.name.endswith(".tar.gz")]
        if len(wheels) != 1 or len(sdists) != 1:
            fail(f"expected one wheel and one sdist, got {[p.name for p in built]}")
        if f"-{want}-" not in wheels[0].name or f"-{want}." not in sdists[0].name:
            fail(f"built {[p.name for p in built]}, expected version {want}")
        readme_renders()
        step("twine check --strict", [sys.executable, "-m", "twine", "check", "--strict",
                                      *map(str, built)])
        check_wheel(wheels[0], want)
        try_installed(wheels[0], work, want)
    print(f"package ok: adminkit {want}, sdist and wheel checked in "
          f"{time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    os.umask(0o022)
    main()
