"""The context contract a definition may declare: keys, types, defaults, per-state needs.

```yaml
context:
  fields:
    order_id: {type: string, required: true}
    order_qty: {type: integer, required: true, minimum: 1}
    fill_qty: {type: number, default: 0}
  required_in_states:
    OPEN: [order_id]
```

With ``meta.validate_context: true`` the context is checked before guards run; a bad context
is a failed result (``ErrorCode.VALIDATION_FAILED``). ``context_json_schema`` gives the same
contract as a JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from pystator.models.data import JSONValue, json_data
from pystator.models.names import NAME_PATTERN

ContextType = Literal["string", "integer", "number", "boolean", "object", "array", "any"]

_JSON_TYPES: dict[str, Any] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "object": {"type": "object"},
    "array": {"type": "array"},
    "any": {},
}


class ContextField(BaseModel):
    """One key of the context: its type and constraints."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="ContextField")

    type: ContextType = Field(default="any", description="JSON type of the value.")
    required: bool = Field(default=False, description="The key must always be present.")
    default: JSONValue = Field(
        default=None, description="Documented default (the engine never writes it)."
    )
    nullable: bool = Field(default=False, description="null is allowed as a value.")
    description: str | None = Field(default=None, description="What the key means.")
    enum: Annotated[tuple[Any, ...], AfterValidator(json_data)] | None = Field(
        default=None, description="The allowed values.", examples=[["buy", "sell"]]
    )
    minimum: float | None = Field(default=None, description="Smallest allowed number.")
    maximum: float | None = Field(default=None, description="Largest allowed number.")
    min_length: int | None = Field(
        default=None, ge=0, description="Shortest allowed string or array."
    )
    max_length: int | None = Field(
        default=None, ge=0, description="Longest allowed string or array."
    )

    @model_validator(mode="after")
    def _coherent(self) -> ContextField:
        if (self.minimum is not None or self.maximum is not None) and self.type not in {
            "integer",
            "number",
            "any",
        }:
            raise ValueError("minimum/maximum apply to integer and number fields")
        if (self.min_length is not None or self.max_length is not None) and self.type not in {
            "string",
            "array",
            "any",
        }:
            raise ValueError("min_length/max_length apply to string and array fields")
        return self


class ContextSpec(BaseModel):
    """What the context of an entity must hold."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="Context")

    fields: dict[str, ContextField] = Field(
        default_factory=dict,
        description="Known keys of the context and their types.",
        examples=[
            {
                "order_id": {"type": "string", "required": True},
                "order_qty": {"type": "integer", "required": True, "minimum": 1},
                "filled_qty": {"type": "integer", "default": 0},
            }
        ],
    )
    required_in_states: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="State -> keys that must be present while that state is active.",
        examples=[{"OPEN": ["order_id"]}],
    )
    additional_keys: bool = Field(
        default=True, description="Keys not listed in fields are allowed."
    )

    @model_validator(mode="after")
    def _names(self) -> ContextSpec:
        import re

        for key in self.fields:
            if not key or len(key) > 200:
                raise ValueError(f"context field name {key!r} must have 1 to 200 characters")
        for state in self.required_in_states:
            if not re.match(NAME_PATTERN, state):
                raise ValueError(f"required_in_states: {state!r} is not a state name")
        return self


class EventSpec(BaseModel):
    """The payload one trigger carries: its keys and their types (same form as the context)."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="Event")

    fields: dict[str, ContextField] = Field(
        default_factory=dict,
        description="Keys of the payload and their types.",
        examples=[{"qty": {"type": "integer", "required": True, "minimum": 1}}],
    )
    additional_keys: bool = Field(
        default=True, description="Keys not listed in fields are allowed."
    )
    description: str | None = Field(default=None, description="What the event means.")

    @model_validator(mode="after")
    def _names(self) -> EventSpec:
        for key in self.fields:
            if not key or len(key) > 200:
                raise ValueError(f"event field name {key!r} must have 1 to 200 characters")
        return self


def context_json_schema(spec: ContextSpec | EventSpec) -> dict[str, Any]:
    """The JSON Schema of a context (or event payload) that satisfies ``spec``
    (state-independent part)."""
    properties: dict[str, Any] = {}
    for key, field in spec.fields.items():
        schema = dict(_JSON_TYPES[field.type])
        if field.nullable and "type" in schema:
            schema["type"] = [schema["type"], "null"]
        for attr, name in (
            ("description", "description"),
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("min_length", "minLength" if field.type == "string" else "minItems"),
            ("max_length", "maxLength" if field.type == "string" else "maxItems"),
        ):
            value = getattr(field, attr)
            if value is not None:
                schema[name] = value
        if field.enum is not None:
            schema["enum"] = list(field.enum)
        if field.default is not None:
            schema["default"] = field.default
        properties[key] = schema
    return {
        "type": "object",
        "properties": properties,
        "required": [k for k, f in spec.fields.items() if f.required],
        "additionalProperties": spec.additional_keys,
    }
