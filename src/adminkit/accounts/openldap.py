"""OpenLDAP: inetOrgPerson + posixAccount, ppolicy for locks and forced changes."""

from __future__ import annotations

from typing import Any

from adminkit.accounts.directory import NewUser, UserEntry
from adminkit.accounts.ldapbase import LdapDirectory, first

USER_ATTRS = ["uid", "givenName", "sn", "displayName", "cn", "mail", "pwdAccountLockedTime",
              "uidNumber"]
LOCKED_FOREVER = "000001010000Z"  # ppolicy: an administrative lock with no expiry


class OpenLdapDirectory(LdapDirectory):
    login_attr = "uid"
    user_filter = "(objectClass=inetOrgPerson)"

    def find_user(self, login: str) -> UserEntry | None:
        attrs = self.read_user(login, USER_ATTRS)
        if attrs is None:
            return None
        return UserEntry(dn=attrs["dn"], login=first(attrs, "uid"),
                         given_name=first(attrs, "givenName"), surname=first(attrs, "sn"),
                         display_name=first(attrs, "displayName") or first(attrs, "cn"),
                         mail=first(attrs, "mail"),
                         enabled=first(attrs, "pwdAccountLockedTime") is None,
                         attributes={"uidNumber": first(attrs, "uidNumber")})

    def next_uid_number(self) -> int:
        """Compare-and-swap on a counter entry: two racing creators never share a number."""
        import ldap3

        counter = self.config.options.get("uid_counter_dn")
        if not counter:
            raise ValueError("directory.options.uid_counter_dn is needed for posix accounts")
        while True:
            self.conn.search(counter, "(objectClass=*)", ldap3.BASE, attributes=["uidNumber"])
            number = int(first(self.conn.response[0]["attributes"], "uidNumber"))
            if self.conn.modify(counter, {"uidNumber": [(ldap3.MODIFY_DELETE, [number]),
                                                        (ldap3.MODIFY_ADD, [number + 1])]}):
                return number

    def create_user(self, user: NewUser) -> str:
        from ldap3.utils.dn import escape_rdn

        dn = f"uid={escape_rdn(user.login)},{user.ou}"
        attrs: dict[str, Any] = {
            "uid": user.login, "cn": user.display_name, "givenName": user.given_name,
            "sn": user.surname, "displayName": user.display_name,
            "userPassword": user.password.reveal(),
            **({"mail": user.mail} if user.mail else {}),
        }
        classes = ["inetOrgPerson"]
        if self.config.options.get("uid_counter_dn"):
            classes.append("posixAccount")
            attrs.update(uidNumber=self.next_uid_number(),
                         gidNumber=int(self.config.options.get("default_gid", 100)),
                         homeDirectory=f"/home/{user.login}", loginShell="/bin/bash")
        if not user.enabled:
            attrs["pwdAccountLockedTime"] = LOCKED_FOREVER
        if user.must_change:
            attrs["pwdReset"] = "TRUE"
        attrs.update(user.attributes)
        self.add(dn, classes, attrs, f"create {user.login}")
        return dn
