"""Hostile review of `schedule install --cron`: what cron itself does to a line (its
`%` and backslash rule, as in vixie/ISC cron's do_command), and two installs at once."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.automation import crontab
from adminkit.automation.crontab import block

from .test_schedule_cron import OWN, cron_user, crontab_of  # noqa: F401 - the fixture


def _cron_hands_sh(line: str) -> tuple[str, str]:
    """The command cron runs for a line and what it feeds its stdin: a backslash escapes
    the next character (only `\\%` loses its backslash), a bare `%` ends the command."""
    text = line.split(" ", 5)[5]
    out: list[str] = []
    escaped = False
    for n, ch in enumerate(text):
        if escaped:
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
            escaped = False
            continue
        if ch == "%":
            return "".join(out), text[n + 1:]
        out.append(ch)
        escaped = ch == "\\"
    return "".join(out), ""


@pytest.mark.parametrize("config", ["/srv/a\\%b", "/srv/x\\", "%", "\\%\\%%", "/a\\\\%d"])
def test_a_backslash_before_a_percent_sign_is_still_one_word(tmp_path: Path,
                                                            config: str) -> None:
    out = tmp_path / "seen.json"
    tool = tmp_path / "adminkit"
    tool.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                    f"open({str(out)!r}, 'w').write(json.dumps([sys.argv[1:], "
                    "os.environ.get('ADMINKIT_CONFIG')]))\n")
    tool.chmod(0o755)
    text = block("acme", [("schedule n", "daily", ["schedule", "run", "n"])], [str(tool)],
                 {"ADMINKIT_CONFIG": config})
    [line] = [x for x in text.splitlines() if not x.startswith("#")]
    command, stdin = _cron_hands_sh(line)
    assert stdin == "", f"cron cuts the command at a % : {command!r}"
    subprocess.run(["/bin/sh", "-c", command], cwd=tmp_path, check=True, timeout=60)
    argv, seen = json.loads(out.read_text())
    assert argv == ["--profile", "acme", "schedule", "run", "n"]
    assert seen == config


def test_two_profiles_installed_at_once_keep_both_blocks(
        cron_user: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """A careless operator (or two configuration runs) installs two profiles together:
    each reads the crontab, edits, writes; without a lock the second write drops the
    first block. The real crontab, slowed by a shim between its read and its output."""
    real = shutil.which("crontab")
    assert real
    shim = tmp_path / "bin" / "crontab"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\ncase " $* " in *" -l "*) out=$({real} "$@"); rc=$?; '
                    f'sleep 1; [ -n "$out" ] && printf "%s\\n" "$out"; exit $rc;; esac\n'
                    f'exec {real} "$@"\n')
    shim.chmod(0o755)
    subprocess.run([real, "-u", cron_user, "-"], input=OWN, text=True, check=True,
                   timeout=60)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    blocks = {p: block(p, [(f"schedule {p}", "daily", ["schedule", "run", p])], ["ak"], {})
              for p in ("acme", "beta")}
    errors: list[BaseException] = []

    def install(profile: str) -> None:
        try:
            crontab.install(profile, blocks[profile], cron_user)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=install, args=(p,)) for p in blocks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    text = crontab_of(cron_user)
    assert text.startswith(OWN)
    assert blocks["acme"] in text and blocks["beta"] in text, text


def test_installed_from_python_m_the_line_starts_something_runnable(
        cron_user: str, env: Any, tmp_path: Path) -> None:  # noqa: F811
    """`python -m adminkit.cli.main schedule install --cron` (how adminkit starts its own
    detached delivery, and how a careless operator runs it from a checkout): the line
    used to start `.../adminkit/cli/main.py` itself, a file that is not executable, so
    every firing failed where nobody looks (cron's mail)."""
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local"}, "automation": {"schedules": [
            {"name": "nightly", "calendar": "daily", "playbook": "onboard-user"}]}}))
    done = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "-p", "acme",
                           "schedule", "install", "--cron", "--user", cron_user],
                          capture_output=True, text=True, timeout=120, check=False,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [line] = [x for x in crontab_of(cron_user).splitlines()
              if x and not x.startswith("#") and "schedule run nightly" in x]
    command, _ = _cron_hands_sh(line)
    words = shlex.split(command)
    first = next(w for w in words[1:] if "=" not in w)  # after /usr/bin/env K=V …
    assert os.access(first, os.X_OK), f"cron would start {first!r}, not executable"
    listing = subprocess.run([*words[words.index(first):words.index("--profile")],
                              "--help"], capture_output=True, text=True, timeout=120,
                             check=False)
    assert listing.returncode == 0 and "schedule" in listing.stdout
