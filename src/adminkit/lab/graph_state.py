"""The lab Graph fake's tenant: users, groups, directory roles, licences, deleted items.

Plain dicts shaped as Graph v1.0 returns them; properties starting with `_` are the
fake's own (a password, member sets, when a new object reaches every replica) and are
never sent. `seed()` makes the small tenant of the lab and the tests.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# roleTemplateId of the built-in directory roles the seed activates (documented, fixed)
ROLE_TEMPLATES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "Privileged Authentication Administrator": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    "Directory Readers": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
}
# roles that are not administrator roles (reading only): holding one is not sensitive
READER_ROLES = frozenset({"88d8e3e3-8f55-4a1e-953a-9b9898b8876b"})
# what an app must hold to delete or restore an administrator ("Who can perform sensitive
# actions": a higher privileged administrator role than User.ReadWrite.All gives)
HIGHER_ADMINS = frozenset({"62e90394-69f5-4237-9190-012177145e10",
                            "e8611ab8-c189-46e8-94e1-60213ab1f814",
                            "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"})
USER_DEFAULT = ("businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
                "mobilePhone", "officeLocation", "preferredLanguage", "surname",
                "userPrincipalName")
USER_PROPS = frozenset({*USER_DEFAULT, "accountEnabled", "mailNickname", "usageLocation",
                        "department", "employeeId", "companyName", "createdDateTime",
                        "onPremisesSyncEnabled", "assignedLicenses", "signInActivity",
                        "lastPasswordChangeDateTime", "deletedDateTime", "passwordPolicies",
                        "userType", "otherMails", "proxyAddresses", "streetAddress", "city",
                        "country", "state", "postalCode", "employeeType"})
WRITABLE_USER = frozenset({"accountEnabled", "displayName", "givenName", "surname",
                           "mailNickname", "userPrincipalName", "usageLocation", "department",
                           "jobTitle", "employeeId", "companyName", "mail", "passwordProfile",
                           "officeLocation", "mobilePhone", "businessPhones",
                           "preferredLanguage", "passwordPolicies", "otherMails",
                           "streetAddress", "city", "country", "state", "postalCode",
                           "employeeType"})
GROUP_DEFAULT = ("id", "displayName", "description", "mail", "mailEnabled", "mailNickname",
                 "securityEnabled", "groupTypes", "isAssignableToRole",
                 "onPremisesSyncEnabled", "createdDateTime")
ROLE_PROPS = ("id", "displayName", "description", "roleTemplateId")
SP_PROPS = ("id", "appId", "displayName", "servicePrincipalType")


def now_iso(moment: float | None = None) -> str:
    when = datetime.fromtimestamp(time.time() if moment is None else moment, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Tenant:
    tenant_id: str
    domains: list[str]
    premium: bool = True  # Entra ID P1: signInActivity can be read
    lag: float = 0.0  # seconds a new user stays invisible to reads (another replica)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    skus: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_principals: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- lookups -----------------------------------------------------------------------
    def visible(self, user: dict[str, Any]) -> bool:
        return float(user.get("_visible_at", 0.0)) <= time.time()

    def user(self, key: str, *, replica: bool = True) -> dict[str, Any] | None:
        """By id or userPrincipalName (case-insensitive); None if absent or, on a read
        replica, not there yet."""
        found = self.users.get(key) or self.users.get(key.lower())  # an id in any case
        if found is None and key.isascii():  # a UPN is ASCII: KELVIN SIGN is no k
            folded = key.casefold()
            found = next((u for u in self.users.values()
                          if u["userPrincipalName"].casefold() == folded), None)
        if found is not None and replica and not self.visible(found):
            return None
        return found

    def upn_taken(self, upn: str, but: str | None = None) -> bool:
        folded = upn.casefold()
        return any(u["userPrincipalName"].casefold() == folded and u["id"] != but
                   for u in self.users.values())

    def member_of(self, object_id: str) -> list[dict[str, Any]]:
        """Groups and directory roles with `object_id` as a direct member (a deleted
        user's memberships are kept, for its restore, but reached through no route)."""
        return [g for g in [*self.groups.values(), *self.roles.values()]
                if object_id in g["_members"]]

    def transitive_member_of(self, object_id: str) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        todo = [object_id]
        while todo:
            for holder in self.member_of(todo.pop()):
                if holder["id"] not in seen:
                    seen[holder["id"]] = holder
                    todo.append(holder["id"])
        return list(seen.values())

    def object(self, object_id: str) -> dict[str, Any] | None:
        return (self.users.get(object_id) or self.groups.get(object_id)
                or self.roles.get(object_id) or self.service_principals.get(object_id))

    def administrator(self, object_id: str) -> str | None:
        """Why `object_id` counts as an administrator: a role other than a reader's, held
        directly or through groups, or membership of a role-assignable group."""
        for holder in self.transitive_member_of(object_id):
            if holder.get("@odata.type") == "#microsoft.graph.directoryRole" and \
                    holder["roleTemplateId"] not in READER_ROLES:
                return f"holds {holder['displayName']}"
            if holder.get("isAssignableToRole"):
                return f"is in the role-assignable group {holder['displayName']}"
        return None

    def app_outranks_admins(self, app_id: str) -> bool:
        """Whether the app's own service principal holds a role that may delete or restore
        an administrator: an application permission alone never does."""
        sp = next((s for s in self.service_principals.values() if s["appId"] == app_id),
                  None)
        return sp is not None and any(
            h.get("roleTemplateId") in HIGHER_ADMINS for h in
            self.transitive_member_of(sp["id"]))

    # -- deleting -----------------------------------------------------------------------
    def soft_delete(self, user: dict[str, Any]) -> None:
        """Into deleted items, as Entra does it: memberships, roles and licences are kept
        (hidden until a restore), and the UPN gets the object id (no hyphens) put in
        front of it, so the original UPN is free; mail, mailNickname and proxyAddresses
        stay as they were."""
        del self.users[user["id"]]
        user["_upn"] = user["userPrincipalName"]
        user["userPrincipalName"] = user["id"].replace("-", "") + user["userPrincipalName"]
        user["deletedDateTime"] = now_iso()
        self.deleted[user["id"]] = user

    # -- making -----------------------------------------------------------------------
    def add_user(self, upn: str, display: str, *, given: str | None = None,
                 surname: str | None = None, password: str = "Seed-Pa55word!",  # noqa: S107
                 enabled: bool = True, **extra: Any) -> dict[str, Any]:
        uid = new_id()
        user: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.user", "id": uid, "userPrincipalName": upn,
            "displayName": display, "givenName": given, "surname": surname, "mail": None,
            "mailNickname": upn.split("@")[0], "accountEnabled": enabled,
            "businessPhones": [], "jobTitle": None, "mobilePhone": None,
            "officeLocation": None, "preferredLanguage": None, "usageLocation": None,
            "department": None, "employeeId": None, "companyName": None,
            "createdDateTime": now_iso(), "onPremisesSyncEnabled": None,
            "assignedLicenses": [], "lastPasswordChangeDateTime": now_iso(),
            "userType": "Member", "otherMails": [], "proxyAddresses": [],
            "signInActivity": {"lastSignInDateTime": None,
                               "lastNonInteractiveSignInDateTime": None},
            "_password": password, "_must_change": False, "_sessions_revoked": None,
            "_manager": None, "_visible_at": 0.0,
        }
        user.update(extra)
        if user["mail"] and not user["proxyAddresses"]:  # Exchange stamps the primary one
            user["proxyAddresses"] = [f"SMTP:{user['mail']}"]
        self.users[uid] = user
        return user

    def add_group(self, name: str, *, role_assignable: bool = False, synced: bool = False,
                  description: str | None = None) -> dict[str, Any]:
        gid = new_id()
        group: dict[str, Any] = {
                 "@odata.type": "#microsoft.graph.group", "id": gid, "displayName": name,
                 "description": description, "mail": None, "mailEnabled": False,
                 "mailNickname": "".join(ch for ch in name if ch.isalnum()) or gid[:8],
                 "securityEnabled": True, "groupTypes": [],
                 "isAssignableToRole": role_assignable,
                 "onPremisesSyncEnabled": True if synced else None,
                 "createdDateTime": now_iso(), "_members": set()}
        self.groups[gid] = group
        return group

    def add_role(self, name: str) -> dict[str, Any]:
        rid = new_id()
        role: dict[str, Any] = {"@odata.type": "#microsoft.graph.directoryRole", "id": rid,
                "displayName": name, "description": f"{name} (built-in)",
                "roleTemplateId": ROLE_TEMPLATES[name], "_members": set()}
        self.roles[rid] = role
        return role

    def add_service_principal(self, app_id: str, name: str) -> dict[str, Any]:
        sp: dict[str, Any] = {"@odata.type": "#microsoft.graph.servicePrincipal",
                              "id": new_id(), "appId": app_id, "displayName": name,
                              "servicePrincipalType": "Application"}
        self.service_principals[sp["id"]] = sp
        return sp

    def add_sku(self, part: str, total: int) -> dict[str, Any]:
        sku_id = new_id()
        sku: dict[str, Any] = {
               "id": f"{self.tenant_id}_{sku_id}", "skuId": sku_id, "skuPartNumber": part,
               "appliesTo": "User", "capabilityStatus": "Enabled", "consumedUnits": 0,
               "prepaidUnits": {"enabled": total, "suspended": 0, "warning": 0,
                                "lockedOut": 0},
               "servicePlans": [{"servicePlanId": new_id(), "servicePlanName": f"{part}_PLAN",
                                 "provisioningStatus": "Success", "appliesTo": "User"}]}
        self.skus[sku_id] = sku
        return sku

    def consumed(self, sku_id: str) -> int:
        return sum(1 for u in self.users.values()
                   for lic in u["assignedLicenses"] if lic["skuId"] == sku_id)


LAB_TENANT_ID = "8d6c1f2e-3b4a-4c5d-9e8f-0a1b2c3d4e5f"


def seed(tenant_id: str = LAB_TENANT_ID,
         domain: str = "contoso.example") -> Tenant:
    """A small tenant: staff, an administrator in Global Administrator, a synced user,
    groups (one role-assignable, one synced, nested ones), two licences."""
    t = Tenant(tenant_id=tenant_id, domains=[domain, "contoso.onmicrosoft.com"])
    long_ago = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    jn = t.add_user(f"jnovak@{domain}", "Jan Novák", given="Jan", surname="Novák",
                    mail=f"jan.novak@{domain}", department="Sales", usageLocation="CZ",
                    signInActivity={"lastSignInDateTime": recent,
                                    "lastNonInteractiveSignInDateTime": recent})
    ps = t.add_user(f"psvoboda@{domain}", "Petra Svobodová", given="Petra",
                    surname="Svobodová", mail=f"petra.svobodova@{domain}",
                    signInActivity={"lastSignInDateTime": long_ago,
                                    "lastNonInteractiveSignInDateTime": None})
    t.add_user(f"kdvorak@{domain}", "Karel Dvořák", given="Karel", surname="Dvořák",
               enabled=False)
    admin = t.add_user(f"admin@{domain}", "Tenant Admin", given="Tenant", surname="Admin")
    t.add_user(f"syncd@{domain}", "Synced User", given="Synced", surname="User",
               onPremisesSyncEnabled=True)
    ga = t.add_role("Global Administrator")
    ga["_members"].add(admin["id"])
    t.add_role("User Administrator")
    t.add_role("Directory Readers")
    staff = t.add_group("Staff", description="everyone")
    sales = t.add_group("Sales")
    sales["_members"].add(jn["id"])
    staff["_members"].update({jn["id"], ps["id"], sales["id"]})
    t.add_group("Helpdesk Operators", role_assignable=True)
    t.add_group("OnPrem Finance", synced=True)
    t.add_group("Admins Nested")
    e3 = t.add_sku("ENTERPRISEPACK", 25)
    t.add_sku("EMS", 1)
    jn["assignedLicenses"] = [{"skuId": e3["skuId"], "disabledPlans": []}]
    return t
