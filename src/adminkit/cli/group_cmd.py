"""`adminkit group`: look at groups (membership changes go through `account groups`)."""

from __future__ import annotations

from typing import Annotated

import typer

from adminkit.cli.state import state_of

app = typer.Typer(help="Show groups and their members.", no_args_is_help=True)
Name = Annotated[str, typer.Argument(help="Group name (cn / sAMAccountName) or DN.")]


@app.command("show")
def show(ctx: typer.Context, name: Name) -> None:
    """Show a group: DN, description, number of direct members."""
    from adminkit.cli.output import emit_rows
    from adminkit.cli.session import bound_directory
    from adminkit.core.errors import ValidationError

    state = state_of(ctx)
    with bound_directory(state) as (_, directory):
        group = directory.find_group(name)
    if group is None:
        raise ValidationError(f"no group named {name!r}")
    row = {"name": group.name, "dn": group.dn, "description": group.description,
           "direct_members": len(group.members)}
    emit_rows(state, [row], list(row), json_data=row, title=group.name)


@app.command("members")
def members(ctx: typer.Context, name: Name,
            nested: Annotated[bool, typer.Option(help="Include members of member groups.")
                              ] = False) -> None:
    """List a group's member accounts.

    Example: adminkit -p acme group members "Domain Admins" --nested -o csv
    """
    from adminkit.cli.account_cmd import USER_COLUMNS
    from adminkit.cli.output import emit_rows
    from adminkit.cli.session import bound_directory
    from adminkit.core.errors import ValidationError

    state = state_of(ctx)
    with bound_directory(state) as (_, directory):
        group = directory.find_group(name)
        if group is None:
            raise ValidationError(f"no group named {name!r}")
        found = directory.group_members(group, nested=nested)
    emit_rows(state, [u.row() for u in found], USER_COLUMNS, title=f"{group.name} ({len(found)})")
