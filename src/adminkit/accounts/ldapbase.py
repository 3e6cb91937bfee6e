"""What the AD and OpenLDAP backends share: the bound connection and entry reading."""

from __future__ import annotations

from typing import Any

from adminkit.accounts.connection import connect, search_one
from adminkit.accounts.ldaperrors import write_error
from adminkit.core.config import DirectoryConfig
from adminkit.core.secrets import Secret


def first(attrs: dict[str, Any], name: str) -> Any:
    value = attrs.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


class LdapDirectory:
    login_attr = "uid"
    user_filter = "(objectClass=person)"

    def __init__(self, config: DirectoryConfig, password: Secret) -> None:
        self.config = config
        self.conn = connect(config, password)

    def close(self) -> None:
        self.conn.unbind()

    def ping(self) -> str:
        import ldap3

        base = self.config.base_dn
        if not self.conn.search(base, "(objectClass=*)", ldap3.BASE, attributes=["1.1"]):
            raise write_error(dict(self.conn.result), f"read {base}")
        return f"bound as {self.config.bind_user}, read {base}"

    def read_user(self, login: str, attributes: list[str]) -> dict[str, Any] | None:
        from ldap3.utils.conv import escape_filter_chars

        flt = f"(&{self.user_filter}({self.login_attr}={escape_filter_chars(login)}))"
        return search_one(self.conn, self.config.base_dn, flt, attributes)

    def login_taken(self, login: str) -> bool:
        return self.read_user(login, ["1.1"]) is not None

    def add(self, dn: str, object_classes: list[str], attrs: dict[str, Any], what: str) -> None:
        if not self.conn.add(dn, object_classes, attrs):
            raise write_error(dict(self.conn.result), what)
