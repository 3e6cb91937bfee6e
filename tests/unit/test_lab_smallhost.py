"""A lab host's dpkg database is a small server's: the closure of what it needs, cut
from a status file (here a made-up one, and the machine's own)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adminkit.lab import smallhost

STATUS = """\
Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Version: 12

Package: libc6
Status: install ok installed
Priority: optional
Version: 2.36
Description: the C library
 a continued line: stays with its stanza

Package: sshd-like
Status: install ok installed
Priority: optional
Pre-Depends: libc6 (>= 2.36)
Depends: mail-transport-agent | exim4 (>= 4), perl:any, adduser [amd64]
Version: 1

Package: postfix-like
Status: install ok installed
Priority: optional
Provides: mail-transport-agent
Version: 3

Package: exim4
Status: install ok installed
Priority: optional
Version: 4

Package: perl
Status: install ok installed
Priority: standard
Version: 5

Package: compiler
Status: install ok installed
Priority: optional
Depends: libc6
Version: 12

Package: gone
Status: deinstall ok config-files
Priority: required
Version: 1
"""


def test_the_closure_of_the_priorities_and_the_wanted() -> None:
    text, kept = smallhost.small_status(STATUS, ["sshd-like", "not-installed"])
    # Essential, standard, the wanted one, its pre-depends, the first installed
    # provider of a virtual alternative; not what nothing needs, nor a removed one
    assert kept == {"base-files", "perl", "sshd-like", "libc6", "postfix-like"}
    assert "Package: compiler" not in text and "Package: exim4" not in text
    assert " a continued line: stays with its stanza" in text
    assert text.endswith("\n") and "\n\n\n" not in text


def test_file_triggers_of_kept_packages_only() -> None:
    interests = ("/usr/share/a perl/noawait\n/usr/lib/b compiler\n"
                 "/etc/c libc6:amd64\nmalformed\n")
    assert smallhost.file_triggers(interests, {"perl", "libc6"}) == (
        "/usr/share/a perl/noawait\n/etc/c libc6:amd64\n")


@pytest.mark.skipif(not Path(smallhost.STATUS).exists(), reason="no dpkg on this machine")
def test_the_machines_database_cut_is_consistent(tmp_path: Path) -> None:
    """dpkg itself finds nothing missing in the cut database (`dpkg --audit` and the
    dependency check of `dpkg -C`), and sshd and sudo are in it."""
    text, kept = smallhost.small_status(Path(smallhost.STATUS).read_text(),
                                        ["openssh-server", "sudo", "python3"])
    assert {"openssh-server", "sudo", "python3", "dpkg", "apt"} <= kept
    admin = tmp_path / "dpkg"
    (admin / "updates").mkdir(parents=True)
    (admin / "info").symlink_to("/var/lib/dpkg/info")
    (admin / "status").write_text(text)
    (admin / "available").write_text("")
    audit = subprocess.run(["dpkg", f"--admindir={admin}", "--audit"], capture_output=True,
                           text=True, check=False)
    assert audit.returncode == 0 and audit.stdout == "", audit.stdout
    # every Depends of every kept package is met inside the cut database
    check = subprocess.run(["apt-get", "check", "-o", f"Dir::State::status={admin}/status",
                            "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache="],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
