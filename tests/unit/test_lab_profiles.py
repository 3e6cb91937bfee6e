"""The profiles `adminkit lab up` writes: a second ticket system gets a profile of its own."""

from __future__ import annotations

from pathlib import Path

from adminkit.lab.lab import Lab


def set_up(lab_dir: Path, *files: str) -> None:
    """What a server's `is_set_up` looks for, as its setup leaves it."""
    for name in files:
        path = lab_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_redmine_makes_lab_redmine_and_leaves_labs_tickets_alone(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    set_up(lab_dir, "rt/golden.sqlite", "rt/secrets/tech1-token",
           "redmine/golden.sqlite3", "redmine/secrets/bot-key")
    profiles = Lab(lab_dir, tmp_path / "config").profile_data()
    assert profiles["lab"]["tickets"]["kind"] == "rt"
    assert profiles["lab-openldap"]["tickets"]["kind"] == "rt"
    redmine = profiles["lab-redmine"]
    assert redmine["tickets"] == {"kind": "redmine", "url": "http://127.0.0.1:8087",
                                  "token": f"file:{lab_dir / 'redmine/secrets/bot-key'}"}
    assert {k: v for k, v in redmine.items() if k not in ("tickets", "description")} == \
        {k: v for k, v in profiles["lab"].items() if k not in ("tickets", "description")}


def test_no_lab_redmine_profile_before_redmine_is_set_up(tmp_path: Path) -> None:
    set_up(tmp_path / "lab", "rt/golden.sqlite", "rt/secrets/tech1-token")
    assert "lab-redmine" not in Lab(tmp_path / "lab", tmp_path / "config").profile_data()


def test_the_profiles_are_private_as_doctor_wants_them(tmp_path: Path) -> None:
    """The lab profiles name secret files and servers: 0600 in a 0700 folder, so that
    `adminkit doctor` on a lab machine finds nothing to fix."""
    set_up(tmp_path / "lab", "rt/golden.sqlite", "rt/secrets/tech1-token")
    written = Lab(tmp_path / "lab", tmp_path / "config").write_profiles()
    assert written
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (tmp_path / "config" / "profiles").stat().st_mode & 0o777 == 0o700
