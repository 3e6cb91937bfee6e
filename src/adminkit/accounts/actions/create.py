"""account.create: a new account from the profile's template and naming rules.

Re-running it for the same person changes nothing: an existing account with the
computed login and the same given name and surname is that person. For a bulk
import (create or update), an existing account gets the groups it lacks and, with
`update_password: always`, a new password.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import BeforeValidator, Field

from adminkit.accounts import naming
from adminkit.accounts.actions.base import Text, fill, refuse_protected, same_twice
from adminkit.accounts.actions.groups import (
    group_cache,
    membership_changes,
    refuse_protected_groups,
    resolve_groups,
)
from adminkit.accounts.actions.password import (
    check_given,
    deliver_then_set,
    new_password,
    not_set,
)
from adminkit.accounts.actions.state import LastDay, expiry_instant
from adminkit.accounts.directory import (
    Directory,
    GroupEntry,
    NewUser,
    UserEntry,
    directory_of,
    each,
)
from adminkit.accounts.settings import NamingRules, account_settings, directory_settings
from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.delivery import Delivery
from adminkit.core.errors import ActionFailed, AdminkitError, ValidationError
from adminkit.core.result import Change, row_change, share_fields_set, shared_change
from adminkit.core.secrets import Secret, redact

MAIL = r"^[^@\s,;<>()\\\"]+@[^@\s,;<>()\\\"]+\.[^@\s,;<>()\\\"]+$"


def split_groups(value: Any) -> Any:
    """Groups written in one text, as a CSV cell holds them, separated by ; or |."""
    if isinstance(value, str):
        return [g.strip() for g in value.replace("|", ";").split(";") if g.strip()]
    return value


class _Values(dict[str, str]):
    """A template's placeholders; {mail_local} is computed only for a template that uses it.

    An account with a login given explicitly may have a name that gives no mail local part;
    that is an error only where a template asks for one.
    """

    def __init__(self, rules: NamingRules, **values: str) -> None:
        super().__init__(values)
        self.rules = rules

    def __missing__(self, key: str) -> str:
        if key != "mail_local":
            raise KeyError(key)
        self[key] = naming.local_part(self["given_name"], self["surname"],
                                      german=self.rules.german_umlauts,
                                      scheme=self.rules.transliteration)
        return self[key]


class CreateParams(Params):
    given_name: Text
    surname: Text
    login: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    display_name: Text | None = None
    mail: str | None = Field(None, max_length=254, pattern=MAIL)
    ou: Text | None = None
    # None: the template's groups; a CSV cell or a ticket field "A;B|C" names three
    groups: Annotated[list[Text] | None, BeforeValidator(split_groups)] = None
    expires: LastDay | None = None  # last working day
    password: Secret | None = None
    must_change: bool | None = None  # None: the template's setting
    enabled: bool = True
    update_password: Literal["on_create", "always"] = "on_create"  # noqa: S105


class CreateAccount(Action[CreateParams]):
    name = "account.create"
    params_model: ClassVar[type[Params]] = CreateParams
    together = 25  # rows per apply_many: a group's new members go in one modify

    delivers_secret = True
    creates_target = True
    target_param = "login"

    @classmethod
    def batch_problems(cls, actions: Sequence[Action[Any]], labels: Sequence[str]) -> list[str]:
        """One person twice (the same login, or the same names without one) would make
        two accounts for them."""
        keys = [(p.login,) if p.login else (p.given_name.casefold(), p.surname.casefold())
                for p in (a.params for a in actions if isinstance(a, CreateAccount))]
        return same_twice(keys, labels, lambda label, first: f"{label}: the same person as "
                                                              f"{first}")

    def __init__(self, params: CreateParams, deliver: Delivery | None = None) -> None:
        super().__init__(params, deliver)
        share_fields_set(params)  # frozen; an import holds one per row
        self.login: str | None = params.login
        self.existing: UserEntry | None = None
        self.chosen: tuple[str, UserEntry | None] | None = None  # by `prepare`
        # the account to create, from the plan; let go of once it is written (an import
        # of 20,000 rows keeps its actions to the end)
        self.new: NewUser | None = None

    def target(self) -> str:
        p = self.params
        return self.login or f"{p.given_name} {p.surname}"

    def _same_person(self, entry: UserEntry) -> bool:
        p = self.params
        return ((entry.given_name or "").casefold() == p.given_name.casefold()
                and (entry.surname or "").casefold() == p.surname.casefold())

    def _wanted(self, ctx: Context) -> str:
        p = self.params
        rules = account_settings(ctx.require_profile()).naming
        return p.login or naming.login_for(p.given_name, p.surname, style=rules.login,
                                           german=rules.german_umlauts, limit=rules.max_length,
                                           scheme=rules.transliteration)

    def _choose(self, ctx: Context, find: Callable[[str], UserEntry | None],
                taken: Callable[[str], bool],
                claimed: Callable[[str], bool] = lambda _login: False,
                ) -> tuple[str, UserEntry | None]:
        """The login and, if this person has an account already, that account.

        Candidates go login, login2, login3, ...: the first that is this person's
        account (a re-run after a suffix was given) or that is free wins. A login given
        explicitly has no other candidates.
        """
        p = self.params
        wanted = self._wanted(ctx)
        limit = account_settings(ctx.require_profile()).naming.max_length
        for candidate in ([wanted] if p.login else naming.candidates(wanted, limit=limit)):
            if not p.login and claimed(candidate):  # an earlier row of the file has it
                continue
            entry = find(candidate)
            if entry is not None and self._same_person(entry):
                return candidate, entry
            if not (entry is not None or taken(candidate)):
                return candidate, None
            if p.login:
                where = f" by {entry.dn}" if entry is not None else ""
                raise ValidationError(f"login {p.login} is taken{where}",
                                      hint="choose another login, or leave it out to get a "
                                           "free one")
        raise ValidationError(f"no free login left for {wanted!r}; give a login")

    @classmethod
    def prepare(cls, ctx: Context, actions: Sequence[Action[Any]]) -> None:
        """Every row's login in file order, from a few searches for the whole file.

        Two people who would get the same login (Jan and Jana Nováková) get jnovakova
        and jnovakova2 by their order in the file, not by which worker is faster.
        """
        creates = [a for a in actions if isinstance(a, CreateAccount)]
        directory = directory_of(ctx)
        wanted: list[str] = []
        for action in creates:
            with contextlib.suppress(ValidationError):  # the row's plan reports it
                wanted.append(action._wanted(ctx))
        lookup = directory.lookup_logins(wanted)
        users, taken = lookup.users, lookup.taken
        asked = set(users)  # whose taken-ness the lookup answered
        claimed: set[str] = set()  # by an earlier row of this file

        def find(login: str) -> UserEntry | None:
            key = login.casefold()
            if key not in users:  # a suffixed candidate: asked once, then remembered
                users[key] = directory.find_user(login)
            return users[key]

        def is_claimed(login: str) -> bool:
            return login.casefold() in claimed

        def is_taken(login: str) -> bool:
            key = login.casefold()
            if key in claimed:
                return True
            if key not in asked:
                asked.add(key)
                if directory.login_taken(login):
                    taken.add(key)
            return key in taken

        # rows that name their login claim it first; computed ones fit around them
        for action in sorted(creates, key=lambda a: a.params.login is None):
            with contextlib.suppress(ValidationError):
                login, entry = action._choose(ctx, find, is_taken, is_claimed)
                claimed.add(login.casefold())
                action.chosen = (login, entry)

    def plan(self, ctx: Context) -> Plan:
        p = self.params
        profile = ctx.require_profile()
        template = account_settings(profile).template
        directory = directory_of(ctx)
        group_names = template.groups if p.groups is None else p.groups
        login, existing = self.chosen or self._choose(ctx, directory.find_user,
                                                      directory.login_taken)
        if existing is not None:
            return self._plan_update(ctx, existing, group_names)
        if p.password is not None:
            check_given(directory, p.password)
        if p.password is None and self.deliver is None:
            raise ValidationError("a generated password needs a delivery (--deliver)")
        if p.password is None and self.deliver is not None:
            self.deliver.check(login)
        self.groups = resolve_groups(directory, group_names, group_cache(ctx))
        self.login = login
        values = _Values(account_settings(profile).naming, login=login, mail=p.mail or "",
                         given_name=p.given_name, surname=p.surname,
                         display_name=p.display_name or f"{p.given_name} {p.surname}")
        attrs = {k: fill(v, values) for k, v in template.attributes.items()}
        if template.home_directory:
            attrs["homeDirectory"] = fill(template.home_directory, values)
        if template.home_drive:
            attrs["homeDrive"] = template.home_drive
        last_day = p.expires or (date.today() + timedelta(days=template.expires_after_days)
                                 if template.expires_after_days else None)
        cfg = directory_settings(profile)
        assert cfg is not None
        self.new = new = NewUser(
            login=login, given_name=p.given_name, surname=p.surname,
            display_name=values["display_name"], password=Secret(""), mail=p.mail,
            ou=p.ou or template.ou or cfg.users_ou or cfg.base_dn, enabled=p.enabled,
            must_change=template.must_change if p.must_change is None else p.must_change,
            expires=expiry_instant(last_day), attributes=attrs)
        # what many rows of a file share is one object (shared_change), the rest per row
        changes = [row_change("create", "account", login),
                   row_change("set", "displayName", new.display_name),
                   shared_change("set", "ou", new.ou),
                   shared_change("set", "enabled", p.enabled),
                   shared_change("set", "password", "(given)" if p.password else "(generated)"),
                   shared_change("set", "must_change_password", new.must_change)]
        if p.mail:
            changes.append(row_change("set", "mail", p.mail))
        if last_day:
            changes.append(shared_change("set", "expires", f"after {last_day}"))
        changes += [row_change("set", k, v) for k, v in attrs.items()]
        changes += [shared_change("add", "group", g.name) for g in self.groups]
        return Plan(changes, summary=f"create account {login} ({new.display_name})",
                    data={"login": login, "ou": new.ou})

    def _plan_update(self, ctx: Context, entry: UserEntry, group_names: list[str]) -> Plan:
        self.existing, self.login = entry, entry.login
        directory = directory_of(ctx)
        self.groups, _ = membership_changes(directory, directory.user_groups(entry),
                                            add=group_names, remove=[], exact=None,
                                            cache=group_cache(ctx))
        changes = [Change(op="add", field="group", after=g.name) for g in self.groups]
        if self.params.update_password == "always":  # noqa: S105
            changes.append(Change(op="set", field="password",
                                  after="(given)" if self.params.password else "(generated)"))
        data = {"login": entry.login, "dn": entry.dn}
        if not changes:
            return Plan(summary=f"account {entry.login} already exists ({entry.dn})", data=data)
        return Plan(changes, summary=f"update existing account {entry.login}", data=data)

    def still_to_do(self, plan: Plan) -> bool:
        """A new password (`update_password: always`) is planned whether it was set or
        not: only the other changes (an account missing, groups it lacks) count."""
        return any(change.field != "password" for change in plan.changes)

    def guard(self, ctx: Context, plan: Plan) -> None:
        refuse_protected(ctx, self.existing)
        refuse_protected_groups(ctx, self.groups)

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        outcome = self.apply_many(ctx, [(self, plan)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @classmethod
    def apply_many(cls, ctx: Context, items: Sequence[tuple[Action[Any], Plan]]
                   ) -> list[Applied | Exception]:
        """The generated passwords handed over together, then the accounts one by one,
        then each group's new members in one modify."""
        directory = directory_of(ctx)
        handed = cls._hand_over(ctx, directory, [a for a, _ in items])
        written: dict[int, tuple[CreateAccount, UserEntry, str | None]] = {}
        outcomes: list[Applied | Exception] = []
        joining: dict[str, tuple[GroupEntry, list[UserEntry]]] = {}

        def write(k: int, action: CreateAccount) -> tuple[UserEntry, str | None]:
            given = handed.get(k)
            if isinstance(given, Exception):
                raise given
            return action._write_account(ctx, directory, given)

        together = cls._create_together(ctx, directory, [a for a, _ in items], handed)
        rest = [k for k in range(len(items)) if k not in together]
        each_done = each(directory, [functools.partial(write, k, cast(CreateAccount,
                                                                      items[k][0]))
                                     for k in rest])
        results = {**together, **dict(zip(rest, each_done, strict=True))}
        for k, (action, _plan) in enumerate(items):
            assert isinstance(action, CreateAccount)
            result = results[k]
            if isinstance(result, Exception):  # this row's outcome
                outcomes.append(result)
                continue
            entry, how = result
            outcomes.append(Applied())  # replaced below
            written[k] = (action, entry, how)
            action.new = None  # written: `entry` says what it is
            for group in action.groups:
                joining.setdefault(group.dn.lower(), (group, []))[1].append(entry)
        refused: dict[tuple[str, str], AdminkitError] = {}
        add_members_many = getattr(directory, "add_members_many", None)
        if add_members_many is not None and joining:  # the groups' modifies together
            try:
                refused = add_members_many(list(joining.values()))
            except Exception as exc:  # noqa: BLE001 - the connection broke: each row says so
                error = _broken(exc)
                refused = {(group.dn.lower(), member.dn): error
                           for group, members in joining.values() for member in members}
            joining = {}
        for group, members in joining.values():
            try:
                failed = directory.add_members(group, members)
            except Exception as exc:  # noqa: BLE001 - the connection broke: each row says so
                error = _broken(exc)
                failed = {member.dn: error for member in members}
            for dn, error in failed.items():
                refused[(group.dn.lower(), dn)] = error
        for k, (action, entry, how) in written.items():
            errors = [(g, refused[(g.dn.lower(), entry.dn)]) for g in action.groups
                      if (g.dn.lower(), entry.dn) in refused]
            outcomes[k] = (action._applied(entry, how) if not errors
                           else action._partly(entry, errors))
        return outcomes

    @classmethod
    def _create_together(cls, ctx: Context, directory: Directory,
                         actions: Sequence[Action[Any]],
                         handed: dict[int, tuple[Secret, str] | Exception]
                         ) -> dict[int, tuple[UserEntry, str | None] | Exception]:
        """The new accounts of the unit whose passwords are at hand (given, or delivered
        with the unit's), made in one go where the directory pipelines its adds
        (`create_users`); by row. The other rows are written one by one."""
        create_users = getattr(directory, "create_users", None)
        out: dict[int, tuple[UserEntry, str | None] | Exception] = {}
        if create_users is None:
            return out
        batch: list[tuple[int, CreateAccount, NewUser, str]] = []
        for k, action in enumerate(actions):
            assert isinstance(action, CreateAccount)
            given = handed.get(k)
            if action.existing is not None or (given is None and action.params.password is None):
                continue
            if isinstance(given, Exception):
                out[k] = given
                continue
            password = action.params.password or cast(tuple[Secret, str], given)[0]
            how = "set as given" if action.params.password is not None else \
                cast(tuple[Secret, str], given)[1]
            batch.append((k, action, NewUser(**{**action._new.__dict__, "password": password}),
                          how))
        if not batch:
            return out
        made: list[str | Exception] = create_users([new for _, _, new, _ in batch])
        for (k, action, new, how), dn in zip(batch, made, strict=True):
            if isinstance(dn, Exception):
                if action.params.password is None and action.deliver is not None:
                    not_set(action.deliver, new.login, how, dn)
                out[k] = dn
                continue
            p = action.params
            out[k] = (UserEntry(dn=dn, login=new.login, given_name=p.given_name,
                                surname=p.surname, display_name=new.display_name, mail=p.mail,
                                enabled=p.enabled), how)
        return out

    @property
    def _new(self) -> NewUser:
        if self.new is None:
            raise AssertionError("account.create applied without a plan")
        return self.new

    def _sets_password(self) -> bool:
        """Whether applying sets a password (a new account's, or `update_password: always`)."""
        return self.existing is None or self.params.update_password == "always"  # noqa: S105

    @classmethod
    def _hand_over(cls, ctx: Context, directory: Directory, actions: Sequence[Action[Any]]
                   ) -> dict[int, tuple[Secret, str] | Exception]:
        """The unit's generated passwords, each delivered (or why not), by row: files
        are made durable together, before any password is set."""
        wanted: dict[int, list[tuple[int, str, Secret]]] = {}  # by delivery (id)
        sinks: dict[int, Delivery] = {}
        out: dict[int, tuple[Secret, str] | Exception] = {}
        for k, action in enumerate(actions):
            assert isinstance(action, CreateAccount)
            if (action.params.password is not None or action.deliver is None
                    or not action._sets_password()):
                continue
            login = action.existing.login if action.existing is not None else action._new.login
            try:
                password = new_password(ctx, directory)
            except Exception as exc:  # noqa: BLE001 - this row's outcome
                out[k] = exc
                continue
            sinks[id(action.deliver)] = action.deliver
            wanted.setdefault(id(action.deliver), []).append((k, login, password))
        for key, rows in wanted.items():
            results = sinks[key].many([(login, password) for _, login, password in rows])
            for (k, _, password), how in zip(rows, results, strict=True):
                out[k] = how if isinstance(how, Exception) else (password, how)
        return out

    def _write_account(self, ctx: Context, directory: Directory,
                       handed: tuple[Secret, str] | None = None
                       ) -> tuple[UserEntry, str | None]:
        """Create the account, or give the existing one its new password: all but groups.
        `handed`: the generated password and how it was delivered already."""
        p = self.params
        how: str | None = None
        delivered = handed[1] if handed else None
        if self.existing is not None:
            entry = self.existing
        else:
            password = p.password or (handed[0] if handed else new_password(ctx, directory))
            new = NewUser(**{**self._new.__dict__, "password": password})
            # what we just wrote; no need to read it back
            dn, how = deliver_then_set(self.deliver, new.login, password,
                                       given=p.password is not None,
                                       write=lambda: directory.create_user(new),
                                       delivered=delivered)
            entry = UserEntry(dn=dn, login=new.login, given_name=p.given_name,
                              surname=p.surname, display_name=new.display_name, mail=p.mail,
                              enabled=p.enabled)
        if self.existing is not None and p.update_password == "always":  # noqa: S105
            password = p.password or (handed[0] if handed else new_password(ctx, directory))
            must = account_settings(ctx.require_profile()).template.must_change \
                if p.must_change is None else p.must_change
            existing = entry
            _, how = deliver_then_set(
                self.deliver, entry.login, password, given=p.password is not None,
                write=lambda: directory.set_password(existing, password, must_change=must),
                delivered=delivered)
        return entry, how

    def _applied(self, entry: UserEntry, how: str | None) -> Applied:
        data = {"dn": entry.dn, **({"password_delivery": how} if how else {})}
        verb = "created account" if self.existing is None else "updated account"
        tail = f"; password {how}" if how else ""
        return Applied(summary=f"{verb} {entry.login} ({entry.dn}){tail}", data=data)

    def _partly(self, entry: UserEntry, errors: list[tuple[GroupEntry, AdminkitError]]
                ) -> AdminkitError:
        """The account is written but some groups refused it: the row failed, saying so."""
        verb = "created" if self.existing is None else "updated"
        first = errors[0][1]
        names = ", ".join(g.name for g, _ in errors)
        return type(first)(f"{verb} account {entry.login} ({entry.dn}), but could not add it "
                           f"to {names}: {first.message}", hint=first.hint)

    def undo(self) -> Action[Any] | None:
        # the undo's module only when an undo is asked for: an import never needs it
        from adminkit.accounts.actions.delete import DeleteParams, UndoCreate
        from adminkit.accounts.actions.groups import AccountGroups, GroupsParams

        if self.existing is None and self.login:
            generated = self.params.password is None
            return UndoCreate(DeleteParams(login=self.login, hard=True),
                              self.deliver if generated else None)
        if self.existing is not None and self.groups:
            return AccountGroups(GroupsParams(login=self.existing.login,
                                              remove=[g.dn for g in self.groups]))
        return None


def _broken(exc: Exception) -> AdminkitError:
    """What a group's rows say when adding them broke off (a lost connection, say)."""
    return exc if isinstance(exc, AdminkitError) else ActionFailed(
        redact(str(exc)) or type(exc).__name__)
