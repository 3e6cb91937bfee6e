"""The sub-commands of `adminkit`: their names, one line of help, and where each lives.

The one list of them. It imports nothing (not even `typing`): `adminkit --help` prints
it without importing typer (cli/roothelp.py), and the root group imports a sub-command
only when it is invoked (cli/lazy.py).
"""

from __future__ import annotations


class LazyCommand:
    """Where a sub-command lives, and what its parent's list of commands says of it."""

    __slots__ = ("help", "target")

    def __init__(self, target: str, help: str) -> None:
        self.target = target
        """`package.module:attribute`: a `typer.Typer` (a group) or a command function."""
        self.help = help
        """Shown in the parent's list of commands, shortened as click shortens help."""

    def __repr__(self) -> str:
        return f"LazyCommand({self.target!r}, {self.help!r})"


def sub_commands() -> dict[str, LazyCommand]:
    """The sub-commands of `adminkit`, in the order `--help` lists them: the built-in
    ones, then each domain plug-in's group (the `adminkit.commands` entry points)."""
    found = _built_in()
    for name, target in sorted(_plugins().items()):
        found.setdefault(name, LazyCommand(target, _plugin_help(target)))
    return found


def _plugins() -> dict[str, str]:
    from adminkit.core.entrypoints import entry_points

    return entry_points("adminkit.commands")


def _plugin_help(target: str) -> str:
    """A plug-in's one line of help, from its Typer app: the plug-in is imported for it,
    at the cost it has (the built-in groups are listed without importing them)."""
    from adminkit.core.entrypoints import load

    try:
        app = load(target)
    except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break --help
        return f"(cannot be loaded: {type(exc).__name__})"
    info = getattr(app, "info", None)
    text = getattr(info, "help", None) or getattr(app, "__doc__", None) or ""
    return str(text).strip().split("\n", 1)[0]


def _built_in() -> dict[str, LazyCommand]:
    return {
        "run": LazyCommand("adminkit.cli.run_cmd:run",
                           "Run a playbook; every step is journaled and noted on the ticket."),
        "profile": LazyCommand("adminkit.cli.profile_cmd:app",
                               "List, show and check customer profiles."),
        "journal": LazyCommand("adminkit.cli.journal_cmd:app",
                               "Read, verify and export the journal of runs and actions."),
        "lab": LazyCommand("adminkit.cli.lab_cmd:app",
                           "Install, start, check, reset and stop the lab: real Samba AD, "
                           "OpenLDAP, CUPS, SSH hosts, Request Tracker and an SMTP sink on "
                           "127.0.0.0/8, for tests and demos."),
        "account": LazyCommand("adminkit.cli.account_cmd:app",
                               "Create, block, unlock, delete accounts; passwords, groups, "
                               "reports."),
        "group": LazyCommand("adminkit.cli.group_cmd:app", "Show groups and their members."),
        "ticket": LazyCommand("adminkit.cli.ticket_cmd:app",
                              "Ticket notes waiting in the outbox; the local ticket store."),
        "printer": LazyCommand("adminkit.cli.print_cmd:printer_app",
                               "Print queues: list, show, pause, resume, add, remove, "
                               "defaults, test page."),
        "job": LazyCommand("adminkit.cli.print_cmd:job_app",
                           "Print jobs: list, cancel, hold, release, restart, move."),
        "queue": LazyCommand("adminkit.cli.print_cmd:queue_app",
                             "Clear a print queue in one request."),
        "spooler": LazyCommand("adminkit.cli.print_cmd:spooler_app",
                               "Restart a Windows print server's spooler."),
        "host": LazyCommand("adminkit.cli.host_cmd:app",
                            "The inventory's hosts: list, facts, check, patch; run a "
                            "command."),
        "app": LazyCommand("adminkit.cli.app_cmd:app",
                           "Install, upgrade, remove applications on hosts; versions per "
                           "host."),
        "playbook": LazyCommand("adminkit.cli.playbook_cmd:app",
                                "List, show and validate playbooks; print the schema for "
                                "editors."),
        "doctor": LazyCommand("adminkit.cli.doctor_cmd:doctor",
                              "Check this installation: extras, keyring, folders, journal, "
                              "outbox, clock."),
        "watch": LazyCommand("adminkit.cli.watch_cmd:watch",
                             "Poll the ticket system for new tickets and run what the "
                             "profile's rules say."),
        "approve": LazyCommand("adminkit.cli.watch_cmd:approve",
                               "Approve a run waiting for approval: it starts now."),
        "reject": LazyCommand("adminkit.cli.watch_cmd:reject",
                              "Reject a run waiting for approval: nothing is done."),
        "serve": LazyCommand("adminkit.cli.watch_cmd:serve",
                             "Receive ticket-system webhooks and run what the profile's "
                             "rules say."),
        "schedule": LazyCommand("adminkit.cli.schedule_cmd:app",
                                "Scheduled runs: list them, run one now, install their "
                                "systemd timers."),
        "report": LazyCommand("adminkit.cli.report_cmd:app",
                              "The monthly report of what was done for a customer."),
        "status": LazyCommand("adminkit.cli.status_cmd:status",
                              "Every run and action ever taken for a ticket, approvals "
                              "included, in order."),
        "warm": LazyCommand("adminkit.cli.warm_cmd:app",
                            "A warm process that starts commands in milliseconds: start, "
                            "stop, status."),
    }
