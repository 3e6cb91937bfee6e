"""`adminkit doctor`: is this machine ready to run adminkit, and is its state sound?"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from adminkit.cli.state import OutputFormat, state_of

if TYPE_CHECKING:
    from adminkit.cli.doctor import Finding

COLUMNS = ["check", "subject", "status", "detail", "fix"]
STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def doctor(
    ctx: typer.Context,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 1 on warnings too (a missing extra, a folder open to its "
                         "group, a clock a minute off).")] = False,
) -> None:
    """Check this installation: extras, keyring, folders, journal, outbox, clock.

    Each finding says what to do. With --profile, also compares this machine's clock with
    the profile's directory (Kerberos allows 5 minutes), and says whether `approve` would
    honour its console approver map, or why not. Exit 0 when nothing failed
    (warnings allowed unless --strict), 1 otherwise.

    \b
    Examples:
      adminkit doctor
      adminkit -p acme doctor             # and the clock against acme's directory
      adminkit doctor --strict -o json    # for monitoring: exit 1 on any warning
    """
    from adminkit.cli import doctor as checks
    from adminkit.cli.output import emit_rows
    from adminkit.cli.session import profile_of
    from adminkit.core import paths
    from adminkit.core.config import profiles_dir

    state = state_of(ctx)
    config = profiles_dir(state.config_dir).parent
    journal = state.journal_path or paths.default_journal_path()
    now = datetime.now(UTC)
    findings = [*checks.python_version(), *checks.installed_extras(), *checks.keyring_backend(),
                *checks.folder_modes(config, paths.state_home(), journal),
                *checks.journal_health(journal, now)]
    profile = profile_of(state, required=False)  # a bad profile file: exit 2, as anywhere
    if profile is None:
        findings.append(checks.Finding("clock", "-", "skip", "no profile given",
                                       "adminkit -p PROFILE doctor compares the clocks"))
    else:
        findings.extend(checks.clock_skew(profile, lambda: datetime.now(UTC)))
        findings.extend(checks.approver_map(profile))
    failing = {"fail", "warn"} if strict else {"fail"}
    code = 1 if any(f.status in failing for f in findings) else 0
    if state.output is OutputFormat.TABLE:
        _print(findings, code)
    else:
        emit_rows(state, [f.row() for f in findings], COLUMNS)
    if code:
        raise typer.Exit(code)


def _print(findings: list[Finding], code: int) -> None:
    """One line a finding (status, check, subject: detail), what to do on the next."""
    from rich.markup import escape

    from adminkit.cli.output import console

    out = console()
    for f in findings:
        subject = "" if f.subject in ("-", f.check) else f"{escape(f.subject)}: "
        out.print(f"[{STYLE[f.status]}]{f.status:<4}[/] {f.check:<8} {subject}"
                  f"{escape(f.detail)}")
        if f.fix and f.status != "ok":
            out.print(f"              -> {escape(f.fix)}")
    counts = {s: sum(f.status == s for f in findings) for s in STYLE}
    verdict = "problems found" if code else "ok"
    out.print(f"adminkit doctor: {verdict} ({', '.join(f'{n} {s}' for s, n in counts.items())})")
