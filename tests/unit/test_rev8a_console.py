"""rev8a: who approves at the command line. Each case runs in a forked child whose real
OS identity (uid, audit login uid) is set for real, as root can: nothing is mocked."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable

import pytest

from adminkit.automation.console import console_login
from adminkit.core.errors import PolicyRefused

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="sets uid/loginuid: needs root")


def _in_child(setup: Callable[[], None]) -> str:
    """console_login() in a forked child after `setup`: the login, or the error's type."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            setup()
            answer = "login:" + console_login()
        except PolicyRefused as exc:
            answer = "refused:" + exc.message
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            answer = "crash:" + type(exc).__name__
        os.write(w, answer.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        answer = f.read().decode()
    os.waitpid(pid, 0)
    return answer


def _two_users() -> tuple[pwd.struct_passwd, pwd.struct_passwd]:
    users = [u for u in pwd.getpwall() if 1000 <= u.pw_uid < 60000]
    if len(users) < 2:
        pytest.skip("needs two ordinary users in /etc/passwd")
    return users[0], users[1]


@root_only
def test_a_root_shell_cannot_claim_another_login_by_setting_sudo_user() -> None:
    """bob, logged in (audit login uid bob) and root by `su` (which keeps the
    environment), sets SUDO_USER=alice by hand: he must not approve as alice."""
    bob, alice = _two_users()

    def setup() -> None:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(bob.pw_uid))
        os.environ["SUDO_USER"] = alice.pw_name

    answer = _in_child(setup)
    assert answer.startswith("refused:"), answer


@root_only
def test_sudo_from_the_login_session_of_that_user_is_still_that_user() -> None:
    """The real `sudo` by alice in alice's session: loginuid is alice's, SUDO_USER alice."""
    _, alice = _two_users()

    def setup() -> None:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(alice.pw_uid))
        os.environ["SUDO_USER"] = alice.pw_name

    assert _in_child(setup) == f"login:{alice.pw_name}"


@root_only
def test_a_uid_without_a_passwd_entry_is_refused_not_a_traceback() -> None:
    """`docker run --user 54321`, or a deleted account's leftover process."""
    uid = 54321
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            break
        uid += 1

    def setup() -> None:
        os.environ.pop("SUDO_USER", None)
        os.setuid(uid)

    answer = _in_child(setup)
    assert answer.startswith("refused:"), answer
