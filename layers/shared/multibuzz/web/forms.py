"""Form fields → the JSON API's own input models, so a page validates exactly as the API does."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from multibuzz.errors import InvalidInputError

M = TypeVar("M", bound=BaseModel)
CHECKED = "on"


def validated(model: type[M], data: dict[str, object]) -> M:
    """``data`` with blank fields dropped (the model's default applies), validated by ``model``."""
    cleaned = {k: v for k, v in data.items() if not (isinstance(v, str) and v.strip() == "")}
    try:
        return model.model_validate(cleaned)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidInputError(f"{field}: {first['msg']}", field=field) from exc


def pick(form: dict[str, str], *names: str) -> dict[str, object]:
    return {name: form.get(name, "").strip() for name in names}


def checkbox(form: dict[str, str], name: str) -> bool:
    return form.get(name) == CHECKED
