"""Check a context against the machine's contract before guards run.

The contract is the definition's ``context`` section, or a Pydantic model class given as
``context_model=`` (which takes precedence for the types; the definition's
``required_in_states`` still applies). Types are checked strictly: ``"5"`` is not an integer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from pystator.models.context import ContextField, ContextSpec, context_json_schema

_PY_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "object": dict[str, Any],
    "array": list[Any],
    "any": Any,
}


def _one_of(allowed: tuple[Any, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"must be one of {list(allowed)!r}")
        return value

    return check


def _annotation(field: ContextField) -> Any:
    from typing import Annotated

    base = _PY_TYPES[field.type]
    constraints: dict[str, Any] = {}
    if field.minimum is not None:
        constraints["ge"] = field.minimum
    if field.maximum is not None:
        constraints["le"] = field.maximum
    if field.min_length is not None:
        constraints["min_length"] = field.min_length
    if field.max_length is not None:
        constraints["max_length"] = field.max_length
    annotation: Any = Annotated[base, Field(**constraints)] if constraints else base
    if field.enum is not None:
        annotation = Annotated[annotation, AfterValidator(_one_of(field.enum))]
    if field.nullable:
        annotation = annotation | None
    return annotation


def model_from_spec(spec: ContextSpec) -> type[BaseModel]:
    """A strict Pydantic model equivalent to ``spec`` (state-independent part)."""
    fields: dict[str, Any] = {}
    # Context keys are data, not Python names: each field gets a neutral attribute name and
    # the key as its alias, so keys like "model_fields", "_x" or "order-id" validate too.
    for position, (key, field) in enumerate(spec.fields.items()):
        annotation = _annotation(field)
        default = ... if field.required else None
        fields[f"field_{position}"] = (annotation, Field(default, alias=key))
    config = ConfigDict(strict=True, extra="allow" if spec.additional_keys else "forbid")
    model: type[BaseModel] = create_model("MachineContext", __config__=config, **fields)
    return model


def _format(exc: ValidationError) -> list[str]:
    out: list[str] = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "context"
        if error["type"] == "missing":
            out.append(f"{where}: required key is missing")
        elif error["type"] == "extra_forbidden":
            out.append(f"{where}: key is not allowed by the context contract")
        else:
            out.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return out


class ContextContract:
    """Validates contexts; ``errors`` lists every problem as ``"field: message"``."""

    def __init__(self, spec: ContextSpec | None, model: type[BaseModel] | None) -> None:
        self.spec = spec
        self.model: type[BaseModel] | None = model or (
            model_from_spec(spec) if spec is not None and spec.fields else None
        )
        self.per_state: dict[str, tuple[str, ...]] = dict(spec.required_in_states) if spec else {}

    def errors(self, context: Mapping[str, Any], is_active: Callable[[str], bool]) -> list[str]:
        problems: list[str] = []
        if self.model is not None:
            try:
                self.model.model_validate(dict(context))
            except ValidationError as exc:
                problems.extend(_format(exc))
        for state, keys in self.per_state.items():
            if is_active(state):
                problems.extend(
                    f"{key}: required in state '{state}'" for key in keys if key not in context
                )
        return problems

    def json_schema(self) -> dict[str, Any]:
        if self.model is not None and (self.spec is None or not self.spec.fields):
            return self.model.model_json_schema()
        if self.spec is not None:
            return context_json_schema(self.spec)
        return {"type": "object"}
