"""The directory's clock, for `adminkit doctor`: Kerberos refuses tickets beyond five
minutes of skew, and password-expiry and inactivity reports count days from it.

Active Directory publishes its time in the root DSE (`currentTime`); OpenLDAP only
through the monitor backend (`cn=Time,cn=Monitor`), which many servers leave off.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adminkit.accounts.directory import Directory
from adminkit.accounts.ldapbase import LdapDirectory
from adminkit.core.errors import AdminkitError

# Where each kind of server says what time it is: (entry, attribute).
SOURCES = (("", "currentTime"), ("cn=Time,cn=Monitor", "monitorTimestamp"))


def server_time(directory: Directory) -> datetime | None:
    """The directory's current time (UTC), or None if it does not publish it."""
    if not isinstance(directory, LdapDirectory):
        return None
    for dn, attr in SOURCES:
        try:
            entry = directory.read(dn, [attr])
        except AdminkitError:
            continue  # no such entry (no monitor backend) or not readable by this account
        value = _first(entry.get(attr) if entry else None)
        if value is not None:
            return parse_generalized(value)
    return None


def _first(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def parse_generalized(value: Any) -> datetime:
    """An LDAP GeneralizedTime (`20261206215912.0Z`), or the datetime ldap3 made of it."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1]
    whole = text.split(".", 1)[0]
    return datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
