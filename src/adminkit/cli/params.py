"""Building an action's parameters from CLI values, with errors that name the option."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from adminkit.core.errors import ValidationError

M = TypeVar("M", bound=BaseModel)


def build(model: type[M], **values: Any) -> M:
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except PydanticValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            option = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else "input"
            problems.append(f"{option}: {err['msg']}")
        raise ValidationError("; ".join(problems)) from None
