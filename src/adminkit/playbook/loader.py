"""Loading a playbook: YAML with positions, the schema, then what only we can check.

Every problem is reported at once with file, line and column: bad YAML, unknown keys,
wrong types, unknown actions, unknown or missing action parameters, literal values of
the wrong type, template syntax, undefined variables and steps referred to before
they are registered.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from adminkit.core import yamlsource
from adminkit.core.action import Action
from adminkit.core.errors import ConfigError
from adminkit.playbook import render
from adminkit.playbook.inputs import convert
from adminkit.playbook.model import InputName, InputSpec, Playbook, Step

# parameters a step may give that are not the action's own (how to deliver a password)
EXTRA_PARAMS = {"deliver"}


@dataclass
class LoadedPlaybook:
    playbook: Playbook
    source: yamlsource.Sourced

    @property
    def path(self) -> Path:
        return self.source.file


def registry() -> dict[str, type[Action[Any]]]:
    from adminkit.core.domains import actions

    return actions()


def load(path: Path) -> LoadedPlaybook:
    return _checked(yamlsource.load(path))


# load_cached: per path, the newest content's playbook (bounded by the playbooks in use)
_LOADED: dict[Path, LoadedPlaybook] = {}
_LOADED_LOCK = threading.Lock()


def load_cached(path: Path) -> LoadedPlaybook:
    """`load`, parsed and checked once per content of the file: serve's workers take
    the same few playbooks for every trigger, and parsing the YAML and checking its
    templates was most of a decision's CPU. The file is read and hashed every time, so
    an edit is seen at once (and a resume's digest check sees the bytes on disk)."""
    from adminkit.core.files import read_small

    raw = read_small(path, yamlsource.MAX_BYTES, error=ConfigError)
    digest = hashlib.sha256(raw).hexdigest()
    with _LOADED_LOCK:
        known = _LOADED.get(path)
    if known is not None and known.source.digest == digest:
        return known
    loaded = _checked(yamlsource.loads(raw, path))
    with _LOADED_LOCK:
        _LOADED[path] = loaded
    return loaded


def _checked(source: yamlsource.Sourced) -> LoadedPlaybook:
    path = source.file
    if not isinstance(source.data, dict):
        raise ConfigError(f"{path}:1:1: a playbook is a mapping (name, inputs, steps)")
    try:
        playbook = Playbook.model_validate(source.data)
    except PydanticValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = [str(p).rstrip("_") if p in ("with_", "register_") else p for p in err["loc"]
                   if p != "[key]"]
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{source.where(loc)}: {'.'.join(map(str, loc))}: {msg}")
        # the parts that passed the schema are still checked, so every problem shows at once
        problems += Checker(source, *_valid_parts(source.data)).problems()
        raise ConfigError(_join(path, problems)) from None
    problems = Checker(source, dict(playbook.inputs), list(playbook.steps)).problems()
    if problems:
        raise ConfigError(_join(path, problems))
    return LoadedPlaybook(playbook, source)


def _join(path: Path, problems: list[str]) -> str:
    return f"{path}: {len(problems)} problem(s)\n  " + "\n  ".join(problems)


def _valid_parts(data: dict[str, Any]) -> tuple[dict[str, InputSpec | None], list[Step | None]]:
    """Each input and step validated on its own; None marks one that fails the schema."""
    def valid(kind: Any, value: Any) -> Any:
        try:
            return TypeAdapter(kind).validate_python(value)
        except PydanticValidationError:
            return None

    inputs = data.get("inputs")
    steps = data.get("steps")
    return ({str(k): valid(InputSpec, v) if valid(InputName, k) is not None else None
             for k, v in inputs.items()} if isinstance(inputs, dict) else {},
            [valid(Step, s) for s in steps] if isinstance(steps, list) else [])


class Checker:
    """What the schema cannot see: actions, parameters, templates, names.

    Only parts that passed the schema are checked; one that failed (None) still lends its
    name (an input, a step's `register`) so that references to it are not reported too.
    """

    def __init__(self, source: yamlsource.Sourced, inputs: dict[str, InputSpec | None],
                 steps: list[Step | None]) -> None:
        self.source, self.inputs, self.steps = source, inputs, steps
        self.found: list[str] = []
        self.actions = registry()

    def problem(self, loc: list[str | int], text: str) -> None:
        self.found.append(f"{self.source.where(loc)}: {text}")

    def problems(self) -> list[str]:
        for name, spec in self.inputs.items():
            if spec is not None:
                self.input(name, spec)
        registered: set[str] = set()
        for i, step in enumerate(self.steps):
            if step is None:
                raw = self.source.data["steps"][i]
                register = raw.get("register") if isinstance(raw, dict) else None
                registered.update([register] if isinstance(register, str) else [])
                continue
            self.step(i, step, registered)
            if step.register_:
                if step.register_ in registered:
                    self.problem(["steps", i, "register"],
                                 f"{step.register_!r} is already registered by an earlier step")
                registered.add(step.register_)
        return self.found

    def input(self, name: str, spec: InputSpec) -> None:
        if spec.type == "enum" and not spec.choices:
            self.problem(["inputs", name, "type"], f"input {name}: an enum needs choices")
        if spec.pattern is not None:
            import re

            try:
                re.compile(spec.pattern)
            except re.error as exc:
                self.problem(["inputs", name, "pattern"], f"bad pattern: {exc}")
                return
        if spec.default is not None:
            try:
                convert(spec, spec.default)
            except ValueError as exc:
                self.problem(["inputs", name, "default"], f"input {name} default: {exc}")

    def step(self, i: int, step: Step, registered: set[str]) -> None:
        here: list[str | int] = ["steps", i]
        looping = step.loop is not None or step.for_each is not None
        if step.loop is not None and step.for_each is not None:
            self.problem([*here, "loop"], "give loop or for_each, not both")
        cls = self.actions.get(step.uses)
        if cls is None:
            known = ", ".join(sorted(self.actions))
            self.problem([*here, "uses"], f"unknown action {step.uses!r} (known: {known})")
        else:
            self.params(here, step, cls)
        if step.when is not None:
            self.template([*here, "when"], step.when, registered, looping, expression=True)
        if isinstance(step.loop, str):
            self.template([*here, "loop"], step.loop, registered, False)
        if step.for_each is not None:
            self.template([*here, "for_each", "csv"], step.for_each.csv, registered, False)
        for key, value in step.with_.items():
            self.walk([*here, "with", key], value, registered, looping)

    def params(self, here: list[str | int], step: Step, cls: type[Action[Any]]) -> None:
        fields = cls.params_model.model_fields
        for key, value in step.with_.items():
            if key in EXTRA_PARAMS:
                continue
            if key not in fields:
                self.problem([*here, "with", key],
                             f"{step.uses} has no parameter {key!r} "
                             f"(it takes: {', '.join(fields) or 'none'})")
                continue
            if not _has_template(value):
                try:
                    field = fields[key]  # keep the field's constraints (min_length, pattern)
                    kind: Any = Annotated[(field.annotation or Any, *field.metadata)] \
                        if field.metadata else (field.annotation or Any)
                    TypeAdapter(kind).validate_python(value)
                except PydanticValidationError as exc:
                    msg = exc.errors(include_url=False, include_input=False)[0]["msg"]
                    self.problem([*here, "with", key], f"{step.uses} {key}: {msg}")
        missing = [n for n, f in fields.items() if f.is_required() and n not in step.with_]
        if missing:
            self.problem([*here, "uses"], f"{step.uses} needs {', '.join(missing)}")

    def walk(self, loc: list[str | int], value: Any, registered: set[str],
             looping: bool) -> None:
        if isinstance(value, str):
            self.template(loc, value, registered, looping)
        elif isinstance(value, dict):
            for k, v in value.items():
                self.walk([*loc, k], v, registered, looping)
        elif isinstance(value, list):
            for n, v in enumerate(value):
                self.walk([*loc, n], v, registered, looping)

    def template(self, loc: list[str | int], text: str, registered: set[str], looping: bool,
                 *, expression: bool = False) -> None:
        if not expression and not render.is_template(text):
            return
        error = render.syntax_error(text, expression=expression)
        if error:
            refused = error.startswith(("refused", "cannot be computed"))
            self.problem(loc, error if refused else f"template syntax: {error}")
            return
        for name in sorted(render.variables_used(text, expression=expression)):
            if name == "item" and not looping:
                self.problem(loc, "`item` is only defined in a step with loop or for_each")
            elif name not in render.ROOTS:
                self.problem(loc, f"undefined variable {name!r} (use inputs., ticket., "
                                  "steps., profile. or item)")
        pairs = render.attributes_used(text, expression=expression)
        for root, attr in pairs:
            if root == "inputs" and attr not in self.inputs:
                self.problem(loc, f"undefined input {attr!r} "
                                  f"(inputs: {', '.join(self.inputs) or 'none'})")
            if root == "steps" and attr not in registered:
                self.problem(loc, f"steps.{attr} is not registered by an earlier step")
        secrets = {n for n, spec in self.inputs.items() if spec and spec.type == "secret"}
        if any(root == "inputs" and attr in secrets for root, attr in pairs):
            misuse = render.secret_misuse(text, secrets, expression=expression)
            if misuse:
                self.problem(loc, misuse)


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return render.is_template(value)
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False
