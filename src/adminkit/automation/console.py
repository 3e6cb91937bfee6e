"""`adminkit approve|reject` at the command line: who typed it, and as whom.

A ticket comment is signed by the ticket system; a command line by nothing but the OS
login that runs it. So `--as` is not taken on the operator's word: the login (the real
user's, never ADMINKIT_OPERATOR or LOGNAME, which anyone sets) must be one the profile
maps to an approver (`automation.console_approvers`), and where the ticket system keeps
user records (`person()`: ServiceNow, Zammad, Jira) it must still know that person, active.
The approval is recorded under the system's name for them, with the login that typed
it and the machine it was typed on: what an auditor reads back.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adminkit.core.errors import PolicyRefused

if TYPE_CHECKING:
    from adminkit.automation.settings import AutomationConfig
    from adminkit.tickets.base import TicketSystem

# A ticket system that keeps user records: person(id) -> (name, active), None if unknown.
PersonLookup = Callable[[str], "tuple[str, bool] | None"]


@dataclass(frozen=True)
class ConsoleApprover:
    login: str  # the OS user who typed the command
    ident: str  # the approver, as automation.approvers names them
    name: str  # as the ticket system shows them (the id where it keeps no records)

    def via(self, verb: str) -> str:
        return f"adminkit {verb} by OS user {self.login} on {socket.gethostname()}"


def console_login() -> str:
    """The real user's login; behind sudo (run as root), the user who ran sudo."""
    import pwd

    from adminkit.automation.trusted import host_uids

    host_uids()  # in a user namespace of the caller's own, any uid is theirs to pick
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:  # a container's bare --user, a deleted account's leftover process
        raise PolicyRefused(f"OS user id {uid} has no login name: nobody to approve as",
                            hint="run it under a login of your own") from None
    sudo = os.environ.get("SUDO_USER") if uid == 0 else None
    if sudo:
        _same_session(sudo)
    return sudo or user


def _same_session(sudo: str) -> None:
    """SUDO_USER is only an environment variable, which a root shell (`su` keeps the
    environment) sets to anyone; the kernel's audit login uid, set once at login and
    kept through su and sudo, must agree with it where the system records one."""
    import pwd

    try:
        with open("/proc/self/loginuid", encoding="ascii") as f:
            session = int(f.read().strip())
    except (OSError, ValueError):
        return  # no audit login uid on this system (not Linux): SUDO_USER as it is
    if session == 0xFFFFFFFF:  # unset: no PAM login (a container, a daemon)
        return
    try:
        claimed = pwd.getpwnam(sudo).pw_uid
    except KeyError:
        claimed = None
    if claimed != session:
        raise PolicyRefused(f"SUDO_USER says {sudo}, but this session was logged in as "
                            f"uid {session}: a root shell cannot approve as someone else",
                            hint="approve through sudo from your own login")


def console_approver(cfg: AutomationConfig, system: TicketSystem,
                     claimed: str | None, *, source: Path | None) -> ConsoleApprover:
    """Who approves at this command line; PolicyRefused (exit 4) when the login may
    not, `--as` names someone else, the ticket system no longer knows the person, or
    the profile file `source` (None: a profile built in code) is not one that only
    root or its named owner can have written (automation/trusted.py)."""
    if source is not None and cfg.console_approvers:  # no map: the login check refuses
        from adminkit.automation.trusted import check_map_file

        check_map_file(source, cfg.console_approvers_owner, cfg.console_approvers)
    login = console_login()
    ident = cfg.console_approvers.get(login)
    if ident is None:
        raise PolicyRefused(f"OS user {login} may not approve or reject at the command "
                            "line: automation.console_approvers does not name this login",
                            hint="map the login to an approver in the profile "
                                 f"(automation.console_approvers: {{{login}: ID}}), or "
                                 "answer /approve on the ticket")
    ident = ident.strip()
    if claimed is not None and claimed.strip().casefold() != ident.casefold():
        raise PolicyRefused(f"OS user {login} approves as {ident}, not as {claimed.strip()}",
                            hint="leave out --as, or give the id the profile maps the "
                                 "login to")
    lookup: PersonLookup | None = getattr(system, "person", None)
    if lookup is None:
        return ConsoleApprover(login, ident, ident)
    found = lookup(ident)
    if found is None:
        raise PolicyRefused(f"{ident}: {system.kind} has no such user (deleted, or not "
                            "readable by the integration account)")
    name, active = found
    if not active:
        raise PolicyRefused(f"{name} ({ident}) is inactive in {system.kind}: an approver "
                            "who has left approves nothing")
    return ConsoleApprover(login, ident, name)
