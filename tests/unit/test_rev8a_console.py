"""rev8a: who approves at the command line. Each case runs in a forked child whose real
OS identity (uid, audit login uid) is set for real, as root can: nothing is mocked. The
logins are made for the test and removed after it (conftest `two_logins`)."""

from __future__ import annotations

import codecs
import os
import pwd
from collections.abc import Callable

import pytest

from adminkit.automation.console import console_login
from adminkit.core.errors import PolicyRefused
from tests.unit.forked import in_forked_child, unused_uid

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="sets uid/loginuid: needs root")


def _ready_for_another_uid() -> None:
    """What console_login loads lazily, loaded while still root: once `setup` drops to
    another uid, an interpreter whose standard library that uid cannot read (pyenv under
    /root, here) finds no module it had not imported yet. `open(..., encoding="ascii")`
    looks up the ascii codec, whose module only an earlier test had happened to import:
    run alone, the child failed with LookupError instead of being refused."""
    import adminkit.automation.trusted  # noqa: F401 - imported for the child

    codecs.lookup("ascii")


def _in_child(setup: Callable[[], None]) -> str:
    """console_login() in a forked child after `setup`: `login:NAME`, `refused:WHY`, or
    `error:TYPE: MESSAGE` for anything else."""
    _ready_for_another_uid()

    def work() -> str:
        setup()
        try:
            return "login:" + console_login()
        except PolicyRefused as exc:
            return "refused:" + exc.message

    return in_forked_child(work)


Logins = tuple[pwd.struct_passwd, pwd.struct_passwd]


@root_only
def test_a_root_shell_cannot_claim_another_login_by_setting_sudo_user(
        two_logins: Logins) -> None:
    """bob, logged in (audit login uid bob) and root by `su` (which keeps the
    environment), sets SUDO_USER=alice by hand: he must not approve as alice."""
    bob, alice = two_logins

    def setup() -> None:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(bob.pw_uid))
        os.environ["SUDO_USER"] = alice.pw_name

    answer = _in_child(setup)
    assert answer.startswith("refused:"), answer


@root_only
def test_sudo_from_the_login_session_of_that_user_is_still_that_user(
        two_logins: Logins) -> None:
    """The real `sudo` by alice in alice's session: loginuid is alice's, SUDO_USER alice."""
    _, alice = two_logins

    def setup() -> None:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(alice.pw_uid))
        os.environ["SUDO_USER"] = alice.pw_name

    assert _in_child(setup) == f"login:{alice.pw_name}"


@root_only
def test_a_uid_without_a_passwd_entry_is_refused_not_a_traceback() -> None:
    """`docker run --user 54321`, or a deleted account's leftover process."""
    uid = unused_uid()

    def setup() -> None:
        os.environ.pop("SUDO_USER", None)
        os.setuid(uid)

    answer = _in_child(setup)
    assert answer.startswith("refused:"), answer
