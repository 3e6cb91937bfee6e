"""app.install, app.upgrade, app.remove: planned from the versions the host reports.

Each reads the installed version and what the host's sources offer first, plans one
change per package that is not yet as asked, applies the versions it planned (pinned,
so a source that changes in between cannot slip another version in), and reads the
versions back afterwards: what the journal and the note say is what the host says.

With --reboot-if-needed (these and host.patch), the host's boot id goes into the
journal's intent row before the write, so that a resume of a run killed during the
restart waits for the host instead of failing on it; and a host with nothing left to
write that still wants a restart is restarted where the option promises a host that no
longer wants one: by host.patch, and by an app write resuming its own attempt killed
before the restart (never, on a fresh run, for a reboot another change left pending).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import Field

from adminkit.core.action import Action, Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ActionFailed, AdminkitError, Interrupted, ValidationError
from adminkit.core.result import Change
from adminkit.deploy.actions.base import HostAction, NameOnly, PackagesParams, RestartParams
from adminkit.deploy.actions.reboot import boot_id_now, rebooted_data, restart
from adminkit.deploy.backend import HostBackend, PackageOutcome, PackageSpec, PackageState
from adminkit.deploy.reboot import DEFAULT_TIMEOUT


class RemoveParams(PackagesParams):
    packages: list[NameOnly] = Field(min_length=1, max_length=200)
    purge: bool = False


R = TypeVar("R", bound=RestartParams)


class _Restarting(HostAction[R]):
    """A package write that may restart its host afterwards (`reboot_if_needed`)."""

    # A host with nothing to write that wants a restart gets one on a fresh run too:
    # host.patch (patching is what leaves hosts so); an app write only when resuming its
    # own interrupted attempt: `app install X --reboot-if-needed --hosts all` must not
    # restart every host where X already is for a reboot some other change left pending.
    restarts_a_pending_reboot: ClassVar[bool] = False

    def restart_too(self, ctx: Context, plan: Plan) -> Plan:
        """The plan with the boot id in its intent row and, where nothing is left to
        write but the host wants a restart, that restart (see the module's docstring)."""
        if not self.params.reboot_if_needed:
            return plan
        backend = self.backend(ctx)
        if not plan and backend.reboot_pending():
            # `resuming` (the runner's): its own attempt planned a write; a restart
            # still wanted is that attempt's
            if not (self.restarts_a_pending_reboot or self.resuming):
                plan.summary += ("; a reboot is pending from another change, left to "
                                 "`host reboot --if-needed` (this run changes nothing here)")
                return plan
            plan = Plan([restart()], summary=f"restart {self.params.host} (a reboot is pending)",
                        data=plan.data)
        if plan and not ctx.check:
            plan.intent = {"boot_id": backend.boot_id()}
        return plan

    def settle(self, ctx: Context, intent: dict[str, Any]) -> Plan | None:
        """A host that a killed attempt left restarting is waited for; then planned afresh
        (a write done shows as nothing to do, a restart still wanted as one)."""
        before = intent.get("boot_id")
        if isinstance(before, str) and before:
            boot_id_now(self, ctx, before, timeout=DEFAULT_TIMEOUT)
        return None


def _restart_only(backend: HostBackend, plan: Plan) -> Applied:
    done = backend.reboot(timeout=DEFAULT_TIMEOUT)
    return Applied(summary=f"{plan.summary}: {done.summary()}",
                   data={"reboot_required": False, "rebooted": rebooted_data(done)})


def _pinned_write(backend: HostBackend, plan: Plan, host: str, *, upgrade: bool,
                  reboot: bool) -> Applied:
    """Install (or upgrade to) exactly the versions planned, then read them back."""
    if plan.changes == [restart()]:
        return _restart_only(backend, plan)
    pinned = [PackageSpec(c.field, str(c.after)) for c in plan.changes]
    outcome = backend.upgrade(pinned) if upgrade else backend.install(pinned)
    found = _check_all(_read_back(backend, outcome, plan), plan, host)
    return _rebooted(backend, host, _applied(plan, outcome, found), outcome, reboot)


def _rebooted(backend: HostBackend, host: str, applied: Applied, outcome: PackageOutcome,
              reboot: bool) -> Applied:
    """With --reboot-if-needed, a host the write left wanting a reboot is restarted and
    waited for (host.reboot's way); a restart that fails fails the action, saying the
    packages are in place."""
    if not (reboot and outcome.reboot_required):
        return applied
    try:
        done = backend.reboot(timeout=DEFAULT_TIMEOUT)
    except Interrupted:
        raise
    except AdminkitError as exc:
        raise ActionFailed(f"host {host}: done ({applied.summary}), then the restart "
                           f"failed: {exc.message}", hint=exc.hint) from None
    return Applied(summary=f"{applied.summary}; restarted: {done.summary()}",
                   data={**applied.data, "reboot_required": False,
                         "rebooted": rebooted_data(done)})


def _read_back(backend: HostBackend, outcome: PackageOutcome, plan: Plan
               ) -> dict[str, PackageState]:
    """The states after the write: as the backend read them back, else asked now."""
    names = [c.field for c in plan.changes]
    if all(n in outcome.states for n in names):
        return outcome.states
    return backend.package_states(names, refresh="never")


def _check_all(after: dict[str, PackageState], plan: Plan, host: str) -> dict[str, str | None]:
    found = {c.field: after[c.field].installed for c in plan.changes}
    wrong = [f"{c.field} is {found[c.field] or 'not installed'}, not {c.after or 'removed'}"
             for c in plan.changes if found[c.field] != c.after]
    if wrong:
        raise ActionFailed(f"host {host}: the package manager said yes, but "
                           + "; ".join(wrong))
    return found


def _applied(plan: Plan, outcome: PackageOutcome, found: dict[str, str | None]) -> Applied:
    reboot = " (reboot required)" if outcome.reboot_required else ""
    return Applied(summary=f"{plan.summary}{reboot}",
                   data={"versions": found, "reboot_required": outcome.reboot_required})


class _VersionedWrite(_Restarting[PackagesParams]):
    """Install or upgrade: a version wanted per package, or none (leave it)."""

    params_model: ClassVar[type[Params]] = PackagesParams
    verb: ClassVar[str]

    def wanted(self, spec: PackageSpec, state: PackageState) -> str | None:
        raise NotImplementedError

    def plan(self, ctx: Context) -> Plan:
        specs = self.params.specs()
        backend = self.backend(ctx)
        states = backend.package_states([s.name for s in specs],
                                        refresh=self.refresh_policy(ctx))
        for spec in specs:
            backend.check(spec)
        changes = []
        for spec in specs:
            state = states[spec.name]
            want = self.wanted(spec, state)
            if want is None or want == state.installed:
                continue
            _offered(self.params.host, spec, state, want)
            changes.append(Change(op="set", field=spec.name, before=state.installed, after=want))
        plan = _plan(self.verb, self.params.host, changes, states)
        absent = [s.name for s in specs if states[s.name].installed is None]
        if self.verb == "upgrade" and absent and not changes:
            plan.summary += f" (not installed: {', '.join(absent)})"
        return self.restart_too(ctx, plan)

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        return _pinned_write(self.backend(ctx), plan, self.params.host,
                             upgrade=self.verb == "upgrade",
                             reboot=self.params.reboot_if_needed)


class InstallApp(_VersionedWrite):
    """app.install: NAME or NAME=VERSION; an installed package without a version asked
    for is left as it is."""

    name = "app.install"
    verb = "install"

    def wanted(self, spec: PackageSpec, state: PackageState) -> str | None:
        if state.installed and spec.version is None:
            return None
        return spec.version or state.candidate or ""  # "": not offered, refused by _offered

    def undo(self) -> Action[Any] | None:
        names = [s.name for s in self.params.specs()]
        return RemoveApp(RemoveParams(host=self.params.host, packages=names))


class UpgradeApp(_VersionedWrite):
    """app.upgrade: only where installed; to VERSION, or to the newest the sources offer."""

    name = "app.upgrade"
    verb = "upgrade"

    def wanted(self, spec: PackageSpec, state: PackageState) -> str | None:
        if state.installed is None:
            return None
        return spec.version or state.candidate


class RemoveApp(_Restarting[RemoveParams]):
    """app.remove: only where installed; --purge also takes configuration files left."""

    name = "app.remove"
    params_model: ClassVar[type[Params]] = RemoveParams
    destructive = True

    def plan(self, ctx: Context) -> Plan:
        names = list(self.params.packages)
        states = self.backend(ctx).package_states(names, refresh="never")
        changes = [Change(op="set", field=n, before=states[n].installed, after=None)
                   for n in names
                   if states[n].installed or (self.params.purge and states[n].leftovers)]
        return self.restart_too(ctx, _plan("purge" if self.params.purge else "remove",
                                           self.params.host, changes, states))

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        backend = self.backend(ctx)
        if plan.changes == [restart()]:
            return _restart_only(backend, plan)
        names = [c.field for c in plan.changes]
        outcome = backend.remove(names, purge=self.params.purge)
        after = _read_back(backend, outcome, plan)
        left = [n for n in names if self.params.purge and after[n].leftovers]
        if left:
            raise ActionFailed(f"host {self.params.host}: configuration of "
                               f"{', '.join(left)} is still there after the purge")
        return _rebooted(backend, self.params.host,
                         _applied(plan, outcome, _check_all(after, plan, self.params.host)),
                         outcome, self.params.reboot_if_needed)


def _offered(host: str, spec: PackageSpec, state: PackageState, want: str) -> None:
    if not want:
        raise ValidationError(f"host {host}: no package {spec.name!r} in its sources",
                              hint="check the name; `app list` shows what is installed")
    if spec.version is not None and state.available and spec.version not in state.available:
        raise ValidationError(f"host {host}: {spec.name} {spec.version} is not offered "
                              f"(offered: {', '.join(state.available)})")


def _plan(verb: str, host: str, changes: Sequence[Change],
          states: dict[str, PackageState]) -> Plan:
    data = {"before": {n: s.installed for n, s in states.items()}}
    if not changes:
        return Plan(summary=f"{host}: nothing to {verb}", data=data)
    what = ", ".join(f"{c.field} {c.after}" if c.after else str(c.field) for c in changes)
    return Plan(list(changes), summary=f"{verb} {what} on {host}", data=data)


class PatchParams(RestartParams):
    security_only: bool = False


class PatchHost(_Restarting[PatchParams]):
    """host.patch: every pending update (or only those from a security source), each to
    the version the simulation showed, read back afterwards. A reboot the host then
    wants is reported (`reboot_required`), and done only with `reboot_if_needed`."""

    restarts_a_pending_reboot = True

    name = "host.patch"
    params_model: ClassVar[type[Params]] = PatchParams
    destructive = True  # many hosts at once: the profile's blast-radius limit counts it

    def plan(self, ctx: Context) -> Plan:
        updates = self.backend(ctx).outdated(security_only=self.params.security_only)
        changes = [Change(op="set", field=u.name, before=u.installed, after=u.newest)
                   for u in sorted(updates.values(), key=lambda u: u.name)]
        which = "security updates" if self.params.security_only else "updates"
        if not changes:
            return self.restart_too(ctx, Plan(summary=f"{self.params.host}: no pending {which}"))
        return self.restart_too(ctx, Plan(
            changes, summary=f"patch {self.params.host}: {len(changes)} {which}",
            data={"updates": {u.name: u.origin for u in updates.values()}}))

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        return _pinned_write(self.backend(ctx), plan, self.params.host, upgrade=True,
                             reboot=self.params.reboot_if_needed)
