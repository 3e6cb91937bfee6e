"""A queue's lifecycle: add (or bring in line), remove, default options, the default queue.

A device URI may carry credentials (`smb://user:pass@host/queue`): such a URI is only
taken as a `Secret` (`--uri-secret env:NAME`), and every plan, note and journal row
shows it with the password masked.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, model_validator

from adminkit.core.action import Applied, Params, Plan
from adminkit.core.context import Context
from adminkit.core.errors import ActionFailed
from adminkit.core.result import Change
from adminkit.core.secrets import Secret
from adminkit.printing.actions.base import PrinterAction, PrinterParams, Reason
from adminkit.printing.server import hides_userinfo, mask_uri, uri_credentials

_URI = re.compile(r"^[a-z][a-z0-9+.-]*:[^\s\x00-\x1f\x7f]+\Z", re.IGNORECASE)
_DISCARD = ("///dev/null", "/dev/null")  # after `file:`
_DRIVER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:/._+ -]{0,254}\Z")
_OPTION = re.compile(r"^[a-z][a-z0-9-]{0,62}\Z")
# friendly names for the options a helpdesk changes most, and their values
ALIASES = {"duplex": "sides", "colour": "print-color-mode", "color": "print-color-mode"}
VALUES = {("sides", "on"): "two-sided-long-edge", ("sides", "off"): "one-sided",
          ("print-color-mode", "on"): "color", ("print-color-mode", "off"): "monochrome"}


def _uri_text(value: str) -> str:
    if not _URI.match(value) or hides_userinfo(value):
        raise ValueError("is not a device URI (like ipp://host/ipp/print or socket://host)")
    scheme, _, rest = value.partition(":")
    if scheme.lower() == "file" and rest not in _DISCARD:
        # every job would overwrite that file, as the spooler's user (often root)
        raise ValueError("is a file: a queue may print to file:///dev/null only")
    return value


def _driver(value: str) -> str:
    if not _DRIVER.match(value):
        raise ValueError("is not a driver name (everywhere, or a model from `lpinfo -m`)")
    return value


class AddParams(PrinterParams):
    uri: Annotated[str, AfterValidator(_uri_text)] | None = None
    uri_secret: Secret | None = None  # a URI with credentials in it
    driver: Annotated[str, AfterValidator(_driver)] = "everywhere"
    location: Reason | None = None
    shared: bool = False

    @model_validator(mode="after")
    def _one_uri(self) -> AddParams:
        if (self.uri is None) == (self.uri_secret is None):
            raise ValueError("give exactly one of uri and uri_secret")
        if self.uri is not None and uri_credentials(self.uri):
            raise ValueError("the device URI carries a password: pass it as a secret "
                             "(--uri-secret env:NAME, file:PATH, keyring:S/U or prompt)")
        if self.uri_secret is not None:
            text = self.uri_secret.reveal()
            _uri_text(text)
            for value in uri_credentials(text):
                Secret(value)  # known from now on: scrubbed from any text that echoes it
        return self

    def device(self) -> str:
        """The URI as the server needs it (credentials included): never print this."""
        return self.uri if self.uri is not None else self.uri_secret.reveal()  # type: ignore[union-attr]

    def shown(self) -> str | None:
        return mask_uri(self.device())


class AddPrinter(PrinterAction[AddParams]):
    """printer.add: create the queue, or bring an existing one in line with the given
    URI, location and sharing (the driver of an existing queue is left as it is)."""

    name = "printer.add"
    params_model: ClassVar[type[Params]] = AddParams
    creates_target = True

    def plan(self, ctx: Context) -> Plan:
        server = self.server(ctx)
        p = self.params
        found = server.printer(p.printer)
        if found is None:
            changes = [Change(op="create", field="printer", after=p.printer),
                       Change(op="set", field="device_uri", after=p.shown()),
                       Change(op="set", field="driver", after=p.driver),
                       Change(op="set", field="shared", after=p.shared)]
            if p.location is not None:
                changes.append(Change(op="set", field="location", after=p.location))
            return Plan(changes, summary=f"add printer {self.label()}", data={"new": True})
        self.current = found
        changes = []
        if not server.same_device(p.printer, p.device()):
            changes.append(Change(op="set", field="device_uri", before=found.device_uri,
                                  after=p.shown()))
        if p.location is not None and p.location != found.location:
            changes.append(Change(op="set", field="location", before=found.location,
                                  after=p.location))
        if p.shared != found.shared:
            changes.append(Change(op="set", field="shared", before=found.shared,
                                  after=p.shared))
        if not changes:
            return Plan(summary=f"{self.label()} is already there as asked")
        return Plan(changes, summary=f"change printer {self.label()}", data={"new": False})

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        server, p = self.server(ctx), self.params
        if plan.data.get("new"):
            server.add_printer(p.printer, p.device(), p.driver, p.location, p.shared)
            return Applied()
        fields = {c.field for c in plan.changes}
        server.update_printer(p.printer, p.device() if "device_uri" in fields else None,
                              p.location if "location" in fields else None,
                              p.shared if "shared" in fields else None)
        return Applied()


class RemovePrinter(PrinterAction[PrinterParams]):
    """printer.remove: delete the queue and any jobs still in it."""

    name = "printer.remove"
    params_model: ClassVar[type[Params]] = PrinterParams
    destructive = True

    def plan(self, ctx: Context) -> Plan:
        found = self.server(ctx).printer(self.params.printer)
        if found is None:
            return Plan(summary=f"{self.label()} does not exist: nothing to remove")
        self.current = found
        return Plan([Change(op="delete", field="printer", before=found.name)],
                    summary=f"remove printer {self.label()}"
                            + (f" and its {found.jobs} job(s)" if found.jobs else ""),
                    data={"device_uri": found.device_uri, "model": found.model,
                          "location": found.location, "jobs": found.jobs})

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        self.server(ctx).remove_printer(self.params.printer)
        return Applied()


def _option(name: str) -> str:
    key = ALIASES.get(name.lower(), name.lower())
    if not _OPTION.match(key):
        raise ValueError(f"{name!r} is not an option name (like sides, media, number-up)")
    return key


class OptionsParams(PrinterParams):
    options: dict[Annotated[str, AfterValidator(_option)],
                  Annotated[str, Field(min_length=1, max_length=255), AfterValidator(
                      lambda v: v if v.isprintable() else _bad_value())]]

    @model_validator(mode="after")
    def _some(self) -> OptionsParams:
        if not self.options:
            raise ValueError("give at least one OPTION=VALUE")
        return self

    def wanted(self) -> dict[str, str]:
        return {k: VALUES.get((k, v.lower()), v) for k, v in self.options.items()}


def _bad_value() -> Any:
    raise ValueError("contains a control character")


class SetPrinterOptions(PrinterAction[OptionsParams]):
    """printer.set: the queue's default options (sides/duplex, media, print-color-mode,
    number-up, …), read back afterwards: a driver that overrides one is reported."""

    name = "printer.set"
    params_model: ClassVar[type[Params]] = OptionsParams

    def plan(self, ctx: Context) -> Plan:
        found = self.lookup(ctx)
        changes = [Change(op="set", field=key, before=found.options.get(key), after=value)
                   for key, value in self.params.wanted().items()
                   if found.options.get(key) != value]
        if not changes:
            return Plan(summary=f"{self.label()} already has these defaults")
        return Plan(changes, summary=f"set defaults of {self.label()}")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        server = self.server(ctx)
        wanted = {c.field: str(c.after) for c in plan.changes}
        server.set_options(self.params.printer, wanted)
        after = server.printer(self.params.printer)
        ignored = sorted(k for k, v in wanted.items()
                         if after is None or after.options.get(k) != v)
        if ignored:
            raise ActionFailed(f"{self.label()}: the server kept its own default for "
                               f"{', '.join(ignored)}",
                               hint="the queue's driver (PPD) sets these; change them "
                                    "through the driver's options instead")
        return Applied()


class DefaultPrinter(PrinterAction[PrinterParams]):
    """printer.default: the server's default queue."""

    name = "printer.default"
    params_model: ClassVar[type[Params]] = PrinterParams

    def plan(self, ctx: Context) -> Plan:
        found = self.lookup(ctx)
        if found.default:
            return Plan(summary=f"{self.label()} already is the default")
        before = self.server(ctx).default_printer()
        return Plan([Change(op="set", field="default printer", before=before,
                            after=found.name)],
                    summary=f"make {self.label()} the default")

    def apply(self, ctx: Context, plan: Plan) -> Applied:
        self.server(ctx).set_default(self.params.printer)
        return Applied()
