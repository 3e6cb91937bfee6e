"""`schedule uninstall` of systemd units: only the files install marked as the profile's
go (a schedule since taken out of the profile too); a unit someone else wrote under a
like name, or another profile's, stays. Where systemd runs, the timers are disabled
first and the manager reloaded after (a recording `systemctl` stands in for systemd's,
which does not run in the test machine)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.automation import units
from adminkit.core.errors import ActionFailed
from tests.unit.test_schedule import profile  # noqa: F401 - the fixture: profile acme

INSTALLED = ["adminkit-acme-forced.service", "adminkit-acme-forced.timer",
             "adminkit-acme-nightly.service", "adminkit-acme-nightly.timer",
             "adminkit-acme-outbox.service", "adminkit-acme-outbox.timer"]


def install(cli: Any, folder: Path) -> None:
    r = cli("-p", "acme", "schedule", "install", "--dir", str(folder),
            "--adminkit", sys.executable)
    assert r.code == 0, r.err


def test_uninstall_removes_the_units_install_wrote_and_only_those(
        profile: Path, cli: Any, env: Any, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "units"
    install(cli, folder)
    assert sorted(p.name for p in folder.iterdir()) == INSTALLED
    foreign = folder / "adminkit-acme-backup.timer"  # a person's own unit, no mark
    foreign.write_text("[Timer]\nOnCalendar=daily\n")
    other = folder / "adminkit-acme-eu-nightly.timer"  # profile acme-eu's: its own mark
    other.write_text(units.mark("acme-eu") + "[Timer]\nOnCalendar=daily\n")
    unrelated = folder / "backup.timer"
    unrelated.write_text(units.mark("acme"))  # marked, but not a name install gives
    (folder / "timers.target.wants").mkdir()
    link = folder / "timers.target.wants" / "adminkit-acme-nightly.timer"
    link.symlink_to(folder / "adminkit-acme-nightly.timer")
    # the forced schedule leaves the profile: its units are still install's, and go
    data = yaml.safe_load((env.profiles / "acme.yaml").read_text())
    data["automation"]["schedules"] = data["automation"]["schedules"][:1]
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump(data))

    r = cli("-p", "acme", "schedule", "uninstall", "--dir", str(folder))
    assert r.code == 0, r.err
    assert "removed 6 unit(s) of profile acme" in r.out and "daemon-reload" in r.out
    assert sorted(p.name for p in folder.iterdir()) == [
        "adminkit-acme-backup.timer", "adminkit-acme-eu-nightly.timer", "backup.timer",
        "timers.target.wants"]
    r = cli("-p", "acme", "schedule", "uninstall", "--dir", str(folder))
    assert r.code == 0 and "no unit of profile acme" in r.out


def recorder(tmp_path: Path, *, fail: str | None = None) -> tuple[str, Path]:
    """A `systemctl` that records its arguments (and fails the verb `fail`)."""
    log = tmp_path / "systemctl.log"
    tool = tmp_path / "systemctl"
    tool.write_text(f"#!{sys.executable}\nimport sys\n"
                    f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
                    f"sys.exit(sys.stderr.write('Access denied\\n') and 1 "
                    f"if sys.argv[1] == {fail!r} else 0)\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return str(tool), log


def test_where_systemd_runs_timers_are_disabled_first_and_the_manager_reloaded(
        profile: Path, cli: Any, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "units"
    install(cli, folder)
    tool, log = recorder(tmp_path)
    removed = units.remove(folder, "acme", tool)
    assert sorted(removed) == INSTALLED and list(folder.iterdir()) == []
    timers = " ".join(n for n in INSTALLED if n.endswith(".timer"))
    assert log.read_text().splitlines() == [f"disable --now -- {timers}", "daemon-reload"]


def test_a_refused_disable_removes_nothing(profile: Path, cli: Any,  # noqa: F811
                                           tmp_path: Path) -> None:
    folder = tmp_path / "units"
    install(cli, folder)
    tool, log = recorder(tmp_path, fail="disable")
    with pytest.raises(ActionFailed, match="Access denied"):
        units.remove(folder, "acme", tool)
    assert sorted(p.name for p in folder.iterdir()) == INSTALLED
    assert "daemon-reload" not in log.read_text()
