"""Who the notes of the `cli` fixture's runs name (conftest: ADMINKIT_OPERATOR=pytest)."""

from __future__ import annotations


def by_pytest() -> str:
    """The operator those runs record: the name claimed and this process's OS login (and
    sudo's user), as docs/journal.md "Who acted" says; the children inherit both."""
    from adminkit.core.run import current_operator

    return current_operator("pytest")
