"""`adminkit report`: the monthly report each customer receives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adminkit.cli.state import state_of

app = typer.Typer(help="The monthly report of what was done for a customer.",
                  no_args_is_help=True)


@app.command("monthly")
def monthly(
    ctx: typer.Context,
    month: Annotated[str, typer.Option(help="The month, YYYY-MM (UTC).")],
    mail: Annotated[bool, typer.Option(
        "--mail", help="Send it to automation.report.contacts through the profile's SMTP "
                       "(STARTTLS, verified).")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Write the HTML here (a .csv beside it holds the numbers).")] = None,
) -> None:
    """What was done for the profile's customer in a month, from the journal: actions
    by kind, runs by technician or trigger, per ticket, failures, approvals waited for.

    Examples:

      adminkit -p acme report monthly --month 2026-11 --out acme-2026-11.html

      adminkit -p acme report monthly --month 2026-11 --mail
    """
    from adminkit.automation.report import message, monthly, to_csv, to_html
    from adminkit.automation.settings import automation_settings
    from adminkit.cli.output import console, write_json
    from adminkit.cli.session import open_journal, profile_of
    from adminkit.cli.state import OutputFormat
    from adminkit.core.errors import UsageError

    state = state_of(ctx)
    profile = profile_of(state)
    assert profile is not None
    journal = open_journal(state)
    try:
        report = monthly(journal, profile.name, month)
    finally:
        journal.close()
    _ticket_counts(report, profile)
    if out is not None:  # 0600, never through a link, a FIFO or a device (journal export's rule)
        from adminkit.core.files import written

        for path, text in ((out, to_html(report)), (out.with_suffix(".csv"), to_csv(report))):
            with written(path) as stream:
                stream.write(text)
    contacts: list[str] = []
    if mail:
        cfg = automation_settings(profile)
        contacts = list(cfg.report.contacts) if cfg else []
        if not contacts or profile.mail is None:
            raise UsageError(f"profile {profile.name}: --mail needs mail: and "
                             "automation.report.contacts")
        from adminkit.core import mail as smtp

        smtp.send(profile, message(report, profile.mail.sender, contacts))
    summary = {"profile": profile.name, "month": month, "actions": report.total,
               "runs": report.runs, "failed": len(report.failures),
               "approvals": len(report.approvals), "opened": report.opened,
               "resolved": report.resolved, "mailed_to": contacts,
               "out": str(out) if out else None}
    if state.output is OutputFormat.JSON:
        write_json(summary)
    else:
        console().print(f"{profile.name} {month}: {report.total} action(s) in {report.runs} "
                        f"run(s), {len(report.failures)} failed"
                        + (f"; written to {out}" if out else "")
                        + (f"; mailed to {', '.join(contacts)}" if mail else ""),
                        markup=False, highlight=False)


def _ticket_counts(report: object, profile: object) -> None:
    """Opened and resolved requests, where the profile's ticket system can count them."""
    from adminkit.automation.report import Monthly, ticket_counts
    from adminkit.core.config import Profile
    from adminkit.tickets.settings import ticket_settings
    from adminkit.tickets.systems import open_system

    assert isinstance(report, Monthly) and isinstance(profile, Profile)
    cfg = ticket_settings(profile)
    if cfg is None or cfg.kind == "local" or not cfg.queue:
        return
    system = open_system(profile, cfg.kind)
    try:
        ticket_counts(report, system, cfg.queue)
    finally:
        system.close()
