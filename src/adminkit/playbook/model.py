"""The playbook format, as pydantic models (also the JSON Schema editors use)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

InputType = Literal["string", "int", "bool", "date", "email", "enum", "list", "secret"]
NAME = r"^[a-z][a-z0-9_]{0,63}$"


def _input_name(name: str) -> str:
    if not re.fullmatch(NAME, name):
        raise ValueError(f"input names must be lower_case identifiers: {name}")
    return name


# validated per key, so a bad name is reported at the name itself
InputName = Annotated[str, AfterValidator(_input_name),
                      WithJsonSchema({"type": "string", "pattern": NAME})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InputSpec(_Strict):
    type: InputType = "string"
    description: str = ""
    required: bool = True
    default: Any = None
    pattern: str | None = Field(None, description="a regular expression the value must match")
    choices: list[str] | None = Field(None, description="for type enum")
    max_length: int = Field(256, ge=1, le=65536)

    @field_validator("default")
    @classmethod
    def _no_secret_default(cls, value: Any, info: Any) -> Any:
        if value is not None and info.data.get("type") == "secret":
            raise ValueError("a secret input has no default: it is given on each run")
        return value

    @field_validator("choices")
    @classmethod
    def _choices(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("an enum needs at least one choice")
        return value


class ForEachCsv(_Strict):
    csv: str = Field(description="path of a CSV file (may be templated); rows become `item`")


class Step(_Strict):
    name: str | None = None
    uses: str = Field(description="the action, e.g. account.create")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with",
                                  description="the action's parameters; strings may be templates")
    when: str | None = Field(None, description="a condition (a Jinja expression, no braces)")
    loop: str | list[Any] | None = Field(
        None, description="a list, or a template that gives one; each value is `item`")
    for_each: ForEachCsv | None = None
    register_: str | None = Field(None, pattern=NAME, alias="register",
                                 description="name the result for later steps: steps.NAME")
    on_error: Literal["stop", "continue", "rollback"] = "stop"
    check: bool = Field(False, description="always a dry run, even when the playbook applies")
    tags: list[str] = Field(default_factory=list)

    def label(self, index: int) -> str:
        return self.name or f"step {index + 1} ({self.uses})"


class Playbook(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str = ""
    inputs: dict[InputName, InputSpec] = Field(default_factory=dict)
    requires_approval: bool = False
    steps: list[Step] = Field(min_length=1)

