"""Active Directory over LDAPS: users are `user` objects keyed by sAMAccountName."""

from __future__ import annotations

from adminkit.accounts.directory import NewUser, UserEntry
from adminkit.accounts.ldapbase import LdapDirectory, first

UF_ACCOUNTDISABLE = 0x2
UF_NORMAL_ACCOUNT = 0x200
USER_ATTRS = ["sAMAccountName", "givenName", "sn", "displayName", "mail", "userAccountControl",
              "userPrincipalName", "whenCreated"]


def unicode_pwd(password: str) -> bytes:
    """AD takes a password only as the quoted string in UTF-16-LE."""
    return f'"{password}"'.encode("utf-16-le")


class ActiveDirectory(LdapDirectory):
    login_attr = "sAMAccountName"
    user_filter = "(&(objectCategory=person)(objectClass=user))"

    def find_user(self, login: str) -> UserEntry | None:
        attrs = self.read_user(login, USER_ATTRS)
        if attrs is None:
            return None
        uac = int(first(attrs, "userAccountControl") or 0)
        return UserEntry(dn=attrs["dn"], login=first(attrs, "sAMAccountName"),
                         given_name=first(attrs, "givenName"), surname=first(attrs, "sn"),
                         display_name=first(attrs, "displayName"), mail=first(attrs, "mail"),
                         enabled=not uac & UF_ACCOUNTDISABLE,
                         attributes={"userAccountControl": uac,
                                     "userPrincipalName": first(attrs, "userPrincipalName")})

    def create_user(self, user: NewUser) -> str:
        """One add with password and enable flag: Samba hashes once, no extra round trips."""
        from ldap3.utils.dn import escape_rdn

        dn = f"CN={escape_rdn(user.display_name)},{user.ou}"
        uac = UF_NORMAL_ACCOUNT | (0 if user.enabled else UF_ACCOUNTDISABLE)
        suffix = self.config.upn_suffix
        attrs = {
            "sAMAccountName": user.login,
            "givenName": user.given_name,
            "sn": user.surname,
            "displayName": user.display_name,
            "unicodePwd": unicode_pwd(user.password.reveal()),
            "userAccountControl": uac,
            **({"userPrincipalName": f"{user.login}@{suffix}"} if suffix else {}),
            **({"mail": user.mail} if user.mail else {}),
            **user.attributes,
        }
        # pwdLastSet=0 ("must change") goes in the same add, after the password value;
        # a later password write would clear it again.
        if user.must_change:
            attrs["pwdLastSet"] = 0
        self.add(dn, ["top", "person", "organizationalPerson", "user"], attrs,
                 f"create {user.login}")
        return dn
