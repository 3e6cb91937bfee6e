"""The profile sections the accounts domain owns: `directory` and `accounts`."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from adminkit.core.config import Profile, SecretRef, Settings, kind_of


def _directory_kind(kind: str) -> str:
    return kind_of("adminkit.directories", kind)


class DirectoryConfig(Settings):
    kind: Annotated[str, AfterValidator(_directory_kind)] = Field(
        description="a backend under the adminkit.directories entry points: ad, openldap, ...")
    url: str = Field(description="ldaps://host:636, or ldap://host:389 with starttls")
    base_dn: str
    bind_user: str = Field(description="DN, UPN or DOMAIN\\user of the service account")
    password: SecretRef
    ca_file: Path | None = None
    starttls: bool = False
    insecure: bool = Field(False, description="allow a password bind without TLS (logged)")
    timeout: float = 10.0
    users_ou: str | None = None
    groups_ou: str | None = None
    quarantine_ou: str | None = None
    upn_suffix: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class AccountTemplate(Settings):
    """What a new account gets unless the CLI or a CSV row says otherwise."""

    ou: str | None = None
    groups: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(
        default_factory=dict, description="values may use {login}, {given_name}, {surname}, "
                                          "{display_name}, {mail}, {mail_local} (given.surname "
                                          "in ASCII, as naming.transliteration says)")
    home_directory: str | None = Field(None, description=r"e.g. \\fs1\home\{login}")
    home_drive: str | None = None
    expires_after_days: int | None = Field(None, ge=1)
    must_change: bool = True


class NamingRules(Settings):
    login: Literal["first-initial-surname", "given.surname", "surname"] = "first-initial-surname"
    max_length: int = Field(20, ge=3, le=64)
    german_umlauts: bool = Field(False, description="ä -> ae (Müller -> mueller)")
    upn: Literal["login", "given.surname"] = "login"
    transliteration: Literal["auto", "latin", "uk", "ru", "bg", "sr", "el"] = Field(
        "auto", description="how names in other scripts become logins and mail local parts "
        "({mail_local} in template attributes). auto: every script through anyascii (Ганна -> "
        "ganna, 王小明 -> wang.xiaoming); latin: Latin letters only, other scripts refused; or a "
        "national scheme for its script, the rest as auto: uk (Ukrainian 2010: Ганна -> hanna, "
        "Олександр Шевченко -> oshevchenko), ru (Russian passports, ICAO 9303), bg (Bulgarian "
        "2009), sr (Serbian Latin, Ђ -> dj), el (Greek ELOT 743). Scripts that leave vowels "
        "unwritten (Arabic, Hebrew, Indic, Thai) are refused under every scheme: give a login")


# Attributes that hold a password or its hashes: a password is set by `account password`
# (policy checked, delivered, never journaled), never through `account set`.
PASSWORD_ATTRIBUTES = frozenset(a.lower() for a in (
    "userPassword", "unicodePwd", "clearTextPassword", "authPassword", "dBCSPwd", "ntPwdHistory",
    "lmPwdHistory", "supplementalCredentials", "sambaNTPassword", "sambaLMPassword",
    "sambaPasswordHistory", "krb5Key", "pwdHistory", "msDS-ManagedPassword",
    "ms-Mcs-AdmPwd", "msLAPS-Password", "msLAPS-EncryptedPassword"))


# an attribute's name (RFC 4512 descr): not its OID (2.5.4.35 is userPassword) nor a name
# with options (userPassword;binary), which would slip past the list above
ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")  # _: Entra extension_APP_name


def _no_password_attributes(names: list[str]) -> list[str]:
    odd = [n for n in names if not ATTRIBUTE_NAME.match(n)]
    if odd:
        raise ValueError(f"{', '.join(map(repr, odd))}: give attributes by name (letters, "
                         "digits, hyphens, underscores), not by OID or with options")
    refused = [n for n in names if n.lower() in PASSWORD_ATTRIBUTES]
    if refused:
        raise ValueError(f"{', '.join(refused)} hold(s) a password: set passwords with "
                         "`account password`, never with `account set`")
    return names


class AccountsConfig(Settings):
    template: AccountTemplate = Field(default_factory=AccountTemplate)
    naming: NamingRules = Field(default_factory=NamingRules)
    settable_attributes: Annotated[list[str], AfterValidator(_no_password_attributes)] = Field(
        default_factory=lambda: ["title", "department", "telephoneNumber", "mobile",
                                 "physicalDeliveryOfficeName", "description", "company"],
        description="attributes `account set` may change")
    password_length: int = Field(16, ge=12, le=128)
    workers: int = Field(4, ge=1, le=32, description="connections for bulk runs")


SECTIONS: dict[str, Any] = {"directory": DirectoryConfig, "accounts": AccountsConfig}


def directory_settings(profile: Profile) -> DirectoryConfig | None:
    return profile.section("directory", DirectoryConfig)


def account_settings(profile: Profile) -> AccountsConfig:
    return profile.section("accounts", AccountsConfig) or _default_accounts()


@functools.cache
def _default_accounts() -> AccountsConfig:
    """The settings of a profile without an `accounts` section: one frozen object, not
    a new one per call (a bulk import asks several times per row, ~10 us each)."""
    return AccountsConfig()
