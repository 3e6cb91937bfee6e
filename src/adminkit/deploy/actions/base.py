"""What host actions share: the host parameter, its backend, package lists as data."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field

from adminkit.core.action import Action, Params
from adminkit.core.context import Context
from adminkit.core.errors import ValidationError
from adminkit.deploy import hosts
from adminkit.deploy.backend import HostBackend, PackageSpec, parse_spec
from adminkit.deploy.settings import HOST_NAME


def _host(value: str) -> str:
    if not HOST_NAME.fullmatch(value):
        raise ValueError("not a host name (letters, digits, '.', '_', '-')")
    return value


def _spec(value: str) -> str:
    try:
        parse_spec(value)
    except ValidationError as exc:
        raise ValueError(exc.message) from None
    return value


def _name_only(value: str) -> str:
    if parse_spec(value).version is not None:
        raise ValueError(f"{value!r}: give the name only, no =VERSION")
    return value


HostName = Annotated[str, AfterValidator(_host)]
Spec = Annotated[str, AfterValidator(_spec)]
NameOnly = Annotated[str, AfterValidator(_spec), AfterValidator(_name_only)]


class HostParams(Params):
    host: HostName


class RestartParams(HostParams):
    reboot_if_needed: bool = False  # restart the host (and wait) if it wants it afterwards


class PackagesParams(RestartParams):
    packages: list[Spec] = Field(min_length=1, max_length=200)

    def specs(self) -> list[PackageSpec]:
        return [parse_spec(p) for p in self.packages]


P = TypeVar("P", bound=HostParams)


class HostAction(Action[P]):
    """An action on one host: its target is the host's name, as the inventory says it."""

    target_param = "host"

    def target(self) -> str:
        return self.params.host

    def backend(self, ctx: Context) -> HostBackend:
        return hosts.backend(ctx, self.params.host)

    def refresh_policy(self, ctx: Context) -> str:
        return hosts.inventory_of(ctx.require_profile()).refresh


def listing(specs: Any) -> str:
    return ", ".join(str(s) for s in specs)
