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

    uid = os.getuid()
    user = pwd.getpwuid(uid).pw_name
    sudo = os.environ.get("SUDO_USER") if uid == 0 else None
    return sudo or user


def console_approver(cfg: AutomationConfig, system: TicketSystem,
                     claimed: str | None) -> ConsoleApprover:
    """Who approves at this command line; PolicyRefused (exit 4) when the login may
    not, `--as` names someone else, or the ticket system no longer knows the person."""
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
