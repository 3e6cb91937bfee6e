"""Schedules as crontab lines, where systemd is absent (or with `schedule install --cron`).

A profile's lines live in one block of the user's crontab, between a BEGIN and an END
line naming the profile; installing replaces that block and leaves every other line
as it was, and the whole crontab is handed to `crontab -` at once (which installs it
by a rename: never half written). Each command word is quoted for /bin/sh and every
`%` escaped (cron turns a bare one into a newline): no schedule name, path or
environment value can add a command. A systemd calendar expression is translated
where cron can say the same, and refused with the reason where it cannot (seconds,
years, `~`, ranges of days with steps).
"""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from adminkit.core.errors import UsageError, ValidationError

SHORTHANDS = {"minutely": "* * * * *", "hourly": "0 * * * *", "daily": "0 0 * * *",
              "weekly": "0 0 * * 1", "monthly": "0 0 1 * *", "yearly": "0 0 1 1 *",
              "annually": "0 0 1 1 *"}
DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 0}
DAY_NAMES = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
             "friday": "fri", "saturday": "sat", "sunday": "sun"}
NUMBER_LIST = re.compile(r"(\*|\d{1,2}(\.\.\d{1,2})?)(/\d{1,2})?(,(\d{1,2}(\.\.\d{1,2})?)"
                         r"(/\d{1,2})?)*\Z")


def _field(text: str, low: int, high: int, what: str) -> str:
    """One systemd time or date component (`*`, `5`, `0/15`, `1,15`, `8..17`) in cron's
    words (`*`, `5`, `0-59/15`, `1,15`, `8-17`)."""
    if not NUMBER_LIST.match(text):
        raise ValueError(f"{what} {text!r} has no cron equivalent")
    out = []
    for part in text.split(","):
        value, _, step = part.partition("/")
        if value == "*":
            out.append(f"*/{step}" if step else "*")
            continue
        first, _, last = value.partition("..")
        for number in (first, last):
            if number and not low <= int(number) <= high:
                raise ValueError(f"{what} {number} is out of range ({low}-{high})")
        if step:
            if last:
                raise ValueError(f"{what} {part!r}: a range with a step has no cron "
                                 "equivalent here")
            out.append(f"{int(first)}-{high}/{int(step)}")
        else:
            out.append(f"{int(first)}-{int(last)}" if last else str(int(first)))
    return ",".join(out)


def _weekdays(text: str) -> str:
    out = []
    for part in text.lower().split(","):
        first, _, last = part.partition("..")
        names = [DAY_NAMES.get(n, n) for n in (first, last) if n]
        if any(n not in DAYS for n in names):
            raise ValueError(f"weekday {part!r} is not one cron knows")
        numbers = [DAYS[n] for n in names]
        if len(numbers) == 2 and numbers[1] == 0 and numbers[0] > 0:
            numbers[1] = 7  # ..Sun ends a week: cron's 7 (its "6-0" is an empty range)
        out.append("-".join(str(n) for n in numbers))
    return ",".join(out)


def cron_schedule(calendar: str) -> str:
    """The five cron fields for a systemd calendar expression; ValueError saying why
    where cron cannot express it."""
    text = " ".join(calendar.split())
    if text.lower() in SHORTHANDS:
        return SHORTHANDS[text.lower()]
    words = text.split(" ")
    weekday = "*"
    if words and re.fullmatch(r"[A-Za-z][A-Za-z.,]*", words[0]):
        weekday = _weekdays(words.pop(0))
    date, clock = "*-*-*", "00:00:00"
    if len(words) == 2:
        date, clock = words
    elif len(words) == 1:
        date, clock = (words[0], "00:00:00") if "-" in words[0] else ("*-*-*", words[0])
    elif words:
        raise ValueError(f"{calendar!r}: not a calendar expression cron can follow "
                         "(time zones and more words are not translated)")
    if "~" in date:
        raise ValueError("a day counted from the month's end (~) has no cron equivalent")
    parts = date.split("-")
    if len(parts) == 2:
        parts = ["*", *parts]
    if len(parts) != 3:
        raise ValueError(f"date {date!r} is not YEAR-MONTH-DAY")
    year, month, day = parts
    if year != "*":
        raise ValueError("a year has no cron equivalent")
    units = clock.split(":")
    if len(units) == 2:
        units.append("00")
    if len(units) != 3:
        raise ValueError(f"time {clock!r} is not HOUR:MINUTE[:SECOND]")
    hour, minute, second = units
    if second not in ("0", "00"):
        raise ValueError("seconds have no cron equivalent (cron runs on the minute)")
    return " ".join([_field(minute, 0, 59, "minute"), _field(hour, 0, 23, "hour"),
                     _field(day, 1, 31, "day"), _field(month, 1, 12, "month"), weekday])


def _word(text: str) -> str:
    """A word for /bin/sh as cron hands it over: quoted, every `%` escaped."""
    if "\n" in text or "\r" in text or "\0" in text:
        raise ValidationError(f"{text[:60]!r}: a crontab line cannot carry a newline")
    # Quoted piece by piece around each escaped percent sign: cron takes a backslash as
    # escaping the character after it, so one at the end of a quoted piece (a path
    # ending in a backslash before a percent sign) would eat the escape and cron would
    # cut the command there. Between the pieces, the escape stands outside any quotes.
    return "\\%".join(shlex.quote(piece) for piece in text.split("%"))


def begin(profile: str) -> str:
    return f"# BEGIN adminkit profile {profile} (adminkit schedule install; edits are lost)"


def end(profile: str) -> str:
    return f"# END adminkit profile {profile}"


def block(profile: str, entries: list[tuple[str, str, list[str]]], command: list[str],
          environment: dict[str, str]) -> str:
    """The profile's block: per entry (what, calendar, adminkit arguments) a comment and
    a line. Environment goes on the line (`env K=V …`), never as crontab variables
    that would change the user's own lines too."""
    prefix = [_word("/usr/bin/env"), *(_word(f"{k}={v}") for k, v in sorted(environment.items()))]
    lines = [begin(profile)]
    for what, calendar, args in entries:
        try:
            when = cron_schedule(calendar)
        except ValueError as exc:
            raise ValidationError(f"{what}: calendar {calendar!r}: {exc}",
                                  hint="use a systemd timer (schedule install without "
                                       "--cron), or a calendar cron can express") from None
        words = [*prefix, *(_word(w) for w in [*command, "--profile", profile, *args])]
        lines += [f"# {what}", f"{when} {' '.join(words)}"]
    lines.append(end(profile))
    return "\n".join(lines) + "\n"


def replace_block(current: str, profile: str, new: str | None) -> str:
    """The crontab with the profile's block replaced by `new` (or removed with None);
    every other line kept as it was, a missing END refused (never guess what to drop)."""
    lines = current.splitlines(keepends=True)
    starts = [n for n, line in enumerate(lines) if line.rstrip("\n") == begin(profile)]
    ends = [n for n, line in enumerate(lines) if line.rstrip("\n") == end(profile)]
    if len(starts) > 1 or len(ends) != len(starts) or (starts and ends[0] < starts[0]):
        raise UsageError(f"the crontab's adminkit block of profile {profile} is damaged "
                         "(BEGIN and END lines do not pair)",
                         hint="fix it with `crontab -e`, then install again")
    kept = lines[:starts[0]] + lines[ends[0] + 1:] if starts else lines
    text = "".join(kept)
    if text and not text.endswith("\n"):
        text += "\n"
    return text + (new or "")


def _crontab(user: str | None) -> list[str]:
    tool = shutil.which("crontab")
    if tool is None:
        raise UsageError("no crontab command here", hint="install cron (apt-get install "
                                                         "cron), or use systemd timers")
    return [tool, *(["-u", user] if user else [])]


def read(user: str | None) -> str:
    done = subprocess.run([*_crontab(user), "-l"], capture_output=True, text=True,
                          timeout=30, check=False)
    if done.returncode != 0:
        if "no crontab for" in done.stderr:
            return ""
        raise UsageError(f"crontab -l failed: {done.stderr.strip()[:200]}")
    return done.stdout


def write(text: str, user: str | None) -> None:
    done = subprocess.run([*_crontab(user), "-"], input=text, capture_output=True, text=True,
                          timeout=30, check=False)
    if done.returncode != 0:
        raise UsageError(f"crontab - refused the new crontab: {done.stderr.strip()[:300]}")


def install(profile: str, new: str | None, user: str | None = None) -> str:
    """Put the profile's block in (or, with None, take it out of) the crontab; the
    crontab as written."""
    with _locked(user):  # two installs at once: each would write back what it read
        text = replace_block(read(user), profile, new)
        write(text, user)
    return text


@contextlib.contextmanager
def _locked(user: str | None) -> Iterator[None]:
    """One read-edit-write of a crontab at a time among this account's processes (a
    lock file of its own uid in the temporary folder, never followed as a symlink)."""
    import fcntl
    import os
    import tempfile
    import time

    whose = re.sub(r"[^A-Za-z0-9_.-]", "_", user) if user else "self"
    name = f"adminkit-crontab-{os.geteuid()}-{whose}.lock"
    fd = os.open(Path(tempfile.gettempdir()) / name,
                 os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        give_up = time.monotonic() + 60
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > give_up:
                    raise UsageError("another adminkit has been writing this crontab for a "
                                     "minute", hint="try again when it is done") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def systemd_present() -> bool:
    """systemd runs this machine (its runtime folder exists): timers will fire."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None
