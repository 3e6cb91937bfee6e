"""`schedule install --cron`: calendars in cron's words (or refused, saying why), the
profile's block in a real crontab (the `cron` package's `crontab`, for a user this test
makes and removes: never root's), the user's own lines kept, and words no path or
value can turn into a second command."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError as PydanticError

from adminkit.automation.crontab import block, cron_schedule, replace_block
from adminkit.automation.settings import Schedule
from adminkit.core.errors import UsageError, ValidationError

OWN = "# my own line\nMAILTO=me@example.test\n17 3 * * * /usr/local/bin/backup --all\n"


@pytest.mark.parametrize(("calendar", "cron"), [
    ("daily", "0 0 * * *"), ("hourly", "0 * * * *"), ("weekly", "0 0 * * 1"),
    ("*-*-* 02:30:00", "30 2 * * *"), ("Mon *-*-* 06:00", "0 6 * * 1"),
    ("Mon..Fri *-*-* 07:15", "15 7 * * 1-5"), ("Sat,Sun 12:00", "0 12 * * 6,0"),
    ("*:0/2", "0-59/2 * * * *"), ("*:*", "* * * * *"), ("*-*-01 00:00", "0 0 1 * *"),
    ("*-12-24 18:00", "0 18 24 12 *"), ("*-*-* 8..17:00", "0 8-17 * * *"),
    ("*-*-* 06,18:30", "30 6,18 * * *"), ("*:*/15", "*/15 * * * *"),
    # a range ending on Sunday (systemd: Sat..Sun, Mon..Sun) is cron's 7, not 0: "6-0"
    # is an empty or refused range in cron, and the schedule would never fire
    ("Sat..Sun 10:00", "0 10 * * 6-7"), ("Mon..Sun *-*-* 05:00", "0 5 * * 1-7"),
    ("Sun..Tue 05:00", "0 5 * * 0-2")])
def test_calendars_cron_can_express(calendar: str, cron: str) -> None:
    assert cron_schedule(calendar) == cron


@pytest.mark.parametrize(("calendar", "why"), [
    ("*-*-* 02:30:15", "seconds"), ("2027-*-* 00:00", "year"), ("*-*~01 00:00", "~"),
    ("Funday 06:00", "weekday"), ("*-*-* 25:00", "out of range"),
    ("*-*-* 1..5/2:00", "range with a step"), ("*-*-* 02:30 Europe/Prague", "more words")])
def test_calendars_cron_cannot_express_are_refused(calendar: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        cron_schedule(calendar)


def test_a_refused_calendar_names_its_schedule() -> None:
    with pytest.raises(ValidationError, match=r"schedule x: calendar '\*-\*-\* 02:30:15'"):
        block("acme", [("schedule x", "*-*-* 02:30:15", [])], ["adminkit"], {})


@pytest.mark.parametrize("name", ["a;b", "a\nb", "nightly%", "a b", "$(x)", "-x"])
def test_schedule_names_with_shell_or_cron_syntax_are_refused(name: str) -> None:
    with pytest.raises(PydanticError):
        Schedule.model_validate({"name": name, "calendar": "daily", "playbook": "p"})
    with pytest.raises(PydanticError):
        Schedule.model_validate({"name": "ok", "calendar": f"daily;{name}", "playbook": "p"})


def _as_cron_runs(line: str) -> str:
    """What cron hands /bin/sh for a line: the command after five fields, `\\%` made
    `%` (an unescaped `%` would end the command: none may be left)."""
    command = line.split(" ", 5)[5]
    assert "%" not in command.replace("\\%", ""), command
    return command.replace("\\%", "%")


def test_hostile_paths_and_values_stay_one_word_each(tmp_path: Path) -> None:
    folder = tmp_path / "a;b $(touch pwned) `id` 100%'x\"\\"
    folder.mkdir()
    out = tmp_path / "argv.json"
    tool = folder / "adminkit"
    tool.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                    f"open({str(out)!r}, 'w').write(json.dumps([sys.argv[1:], "
                    "os.environ.get('ADMINKIT_CONFIG')]))\n")
    tool.chmod(0o755)
    config = "/etc/x; rm -rf / %d `id` $HOME '"
    text = block("acme", [("schedule nightly", "daily", ["schedule", "run", "nightly"])],
                 [str(tool)], {"ADMINKIT_CONFIG": config})
    lines = text.splitlines()
    assert lines[0].startswith("# BEGIN adminkit profile acme") and lines[-1].startswith(
        "# END adminkit profile acme")
    [line] = [x for x in lines if not x.startswith("#")]
    assert line.startswith("0 0 * * * ")
    subprocess.run(["/bin/sh", "-c", _as_cron_runs(line)], cwd=tmp_path, check=True,
                   timeout=60)
    argv, seen_config = json.loads(out.read_text())
    assert argv == ["--profile", "acme", "schedule", "run", "nightly"]
    assert seen_config == config
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(ValidationError, match="newline"):
        block("acme", [("s", "daily", [])], ["adminkit"], {"ADMINKIT_CONFIG": "a\n* * * * * x"})


def test_the_block_is_replaced_and_the_users_lines_kept() -> None:
    first = block("acme", [("schedule a", "daily", ["schedule", "run", "a"])], ["ak"], {})
    other = block("beta", [("schedule b", "hourly", ["schedule", "run", "b"])], ["ak"], {})
    text = replace_block(replace_block(OWN, "acme", first), "beta", other)
    second = block("acme", [("schedule c", "weekly", ["schedule", "run", "c"])], ["ak"], {})
    again = replace_block(text, "acme", second)
    assert again.startswith(OWN) and other in again and second in again
    assert "schedule a" not in again
    assert replace_block(replace_block(again, "acme", None), "beta", None) == OWN
    damaged = OWN + first.rsplit("# END", 1)[0]
    with pytest.raises(UsageError, match="damaged"):
        replace_block(damaged, "acme", second)


# -- a real crontab ----------------------------------------------------------------------
@pytest.fixture
def cron_user() -> Iterator[str]:
    """A user of its own, made for this test and removed after it (its crontab too)."""
    if os.geteuid() != 0 or not shutil.which("crontab") or not shutil.which("useradd"):
        pytest.skip("needs root, useradd and the cron package's crontab")
    name = "akcron" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, timeout=60)
    try:
        pwd.getpwnam(name)
        yield name
    finally:
        subprocess.run(["crontab", "-u", name, "-r"], capture_output=True, timeout=60,
                       check=False)
        _remove_user(name)


def _remove_user(name: str) -> None:
    """userdel refuses a user some process still runs as (a uid freed by an earlier
    test and given to this user may still have one): stop those first, then remove."""
    for _ in range(20):
        subprocess.run(["pkill", "-KILL", "-U", name], capture_output=True, timeout=60,
                       check=False)
        done = subprocess.run(["userdel", name], capture_output=True, text=True,
                              timeout=60, check=False)
        if done.returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"userdel {name}: {done.stderr.strip()}")


def crontab_of(user: str) -> str:
    done = subprocess.run(["crontab", "-u", user, "-l"], capture_output=True, text=True,
                          timeout=60, check=False)
    return done.stdout if done.returncode == 0 else ""


def test_install_and_uninstall_in_a_real_crontab(cron_user: str, env: Any, cli: Any) -> None:
    subprocess.run(["crontab", "-u", cron_user, "-"], input=OWN, text=True, check=True,
                   timeout=60)
    schedules = [{"name": "nightly", "calendar": "*-*-* 02:30:00", "playbook": "onboard-user"}]
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local"},
        "automation": {"schedules": schedules}}))
    r = cli("-p", "acme", "schedule", "install", "--cron", "--user", cron_user,
            "--adminkit", "/opt/admin kit/bin/adminkit")
    assert r.code == 0, r.err
    text = crontab_of(cron_user)
    assert text.startswith(OWN)
    assert "30 2 * * * /usr/bin/env ADMINKIT_CONFIG=" in text
    assert "'/opt/admin kit/bin/adminkit' --profile acme schedule run nightly" in text
    assert "0-59/2 * * * * " in text and "ticket flush --deadline 100" in text

    schedules.append({"name": "weekly", "calendar": "Mon 06:00", "playbook": "onboard-user"})
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local"},
        "automation": {"schedules": schedules}}))
    assert cli("-p", "acme", "schedule", "install", "--cron", "--user", cron_user).code == 0
    text = crontab_of(cron_user)
    assert text.count("# BEGIN adminkit profile acme") == 1
    assert "0 6 * * 1 " in text and text.startswith(OWN)

    schedules.append({"name": "bad", "calendar": "*-*-* 02:30:15", "playbook": "p"})
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "tickets": {"kind": "local"},
        "automation": {"schedules": schedules}}))
    r = cli("-p", "acme", "schedule", "install", "--cron", "--user", cron_user)
    assert r.code == 2 and "seconds have no cron equivalent" in r.err, r.err
    assert crontab_of(cron_user) == text  # refused before anything was written

    assert cli("-p", "acme", "schedule", "uninstall", "--user", cron_user).code == 0
    assert crontab_of(cron_user) == OWN
