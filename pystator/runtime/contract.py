"""Check a context against the machine's contract before guards run.

The contract is the definition's ``context`` section, or a Pydantic model class given as
``context_model=`` (which takes precedence for the types; the definition's
``required_in_states`` still applies). Types are checked strictly: ``"5"`` is not an integer.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Mapping
from typing import Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from pystator.models.context import ContextField, ContextSpec, EventSpec, context_json_schema

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


def model_from_spec(spec: ContextSpec | EventSpec, name: str = "MachineContext") -> type[BaseModel]:
    """A strict Pydantic model equivalent to ``spec`` (state-independent part)."""
    fields: dict[str, Any] = {}
    # Context keys are data, not Python names: each field gets a neutral attribute name and
    # the key as its alias, so keys like "model_fields", "_x" or "order-id" validate too.
    for position, (key, field) in enumerate(spec.fields.items()):
        annotation = _annotation(field)
        default = ... if field.required else None
        fields[f"field_{position}"] = (annotation, Field(default, alias=key))
    config = ConfigDict(strict=True, extra="allow" if spec.additional_keys else "forbid")
    model: type[BaseModel] = create_model(name, __config__=config, **fields)
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
    """Validates contexts; ``errors`` lists every problem as ``"field: message"``.

    The definition's ``context:`` section is checked strictly (``"5"`` is not an integer); a
    model given as ``context_model=`` with Pydantic's own rules (it coerces unless strict).
    """

    def __init__(self, spec: ContextSpec | None, model: type[BaseModel] | None) -> None:
        self.spec = spec
        self.model: type[BaseModel] | None = model or (
            model_from_spec(spec) if spec is not None and spec.fields else None
        )
        self.per_state: dict[str, tuple[str, ...]] = dict(spec.required_in_states) if spec else {}
        self.typed = TypedContext(model) if model is not None else None
        """A given model coerces (Pydantic's rules); the ``context:`` section is strict."""

    def errors(self, context: Any, is_active: Callable[[str], bool]) -> list[str]:
        problems: list[str] = []
        if self.typed is not None:
            try:
                self.typed.coerce(context)
            except ValidationError as exc:
                problems.extend(_format(exc))
        elif self.model is not None:
            try:
                self.model.model_validate(dict(context))
            except ValidationError as exc:
                problems.extend(_format(exc))
        problems.extend(self.state_errors(context, is_active))
        return problems

    def state_errors(self, context: Any, is_active: Callable[[str], bool]) -> list[str]:
        """Keys required in an active state that ``context`` lacks (a model's fields are
        always there)."""
        problems: list[str] = []
        if isinstance(context, BaseModel):
            context = instance_fields(context)
        for state, keys in self.per_state.items():
            if is_active(state):
                problems.extend(
                    f"{key}: required in state '{state}'" for key in keys if key not in context
                )
        return problems

    def json_schema(self) -> dict[str, Any]:
        if self.typed is not None:
            return self.typed.model.model_json_schema()
        if self.model is not None and (self.spec is None or not self.spec.fields):
            return self.model.model_json_schema()
        if self.spec is not None:
            return context_json_schema(self.spec)
        return {"type": "object"}


# ----------------------------------------------------------------------------- typed context
def validation_errors(exc: ValidationError) -> list[str]:
    """A Pydantic ``ValidationError`` as ``["field: message", ...]``."""
    return _format(exc)


def _viewed(value: Any) -> Any:
    """A model instance read by an expression: a mapping view of it (``a.b`` reads fields)."""
    if isinstance(value, BaseModel):
        return ModelView(value)
    if (type(value) is list or type(value) is tuple) and any(
        isinstance(item, BaseModel) for item in value
    ):
        return [_viewed(item) for item in value]
    return value


class ModelView(Mapping[str, Any]):
    """A read-only mapping of a model instance's fields (by name), with payload keys laid
    over them: what ``expr`` guards and ``assign`` expressions read. Nested models read as
    views too, so ``a.b`` works; nothing but declared fields (and extras) is ever read."""

    __slots__ = ("_instance", "_overlay")

    def __init__(self, instance: BaseModel, overlay: Mapping[str, Any] | None = None) -> None:
        self._instance = instance
        self._overlay = overlay

    @property
    def overlay(self) -> Mapping[str, Any] | None:
        """The payload keys laid over the instance's fields during the step."""
        return self._overlay

    def _fields(self) -> dict[str, Any]:
        instance = self._instance
        names = type(instance).model_fields
        values = {name: value for name, value in instance.__dict__.items() if name in names}
        extra = instance.__pydantic_extra__
        if extra:
            values.update(extra)
        if self._overlay:
            values.update(self._overlay)
        return values

    def get(self, key: str, default: Any = None) -> Any:
        overlay = self._overlay
        if overlay is not None and key in overlay:
            return _viewed(overlay[key])
        instance = self._instance
        if key in type(instance).model_fields:
            return _viewed(instance.__dict__[key])
        extra = instance.__pydantic_extra__
        if extra is not None and key in extra:
            return _viewed(extra[key])
        return default

    def __getitem__(self, key: str) -> Any:
        marker = _ABSENT
        value = self.get(key, marker)
        if value is marker:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _ABSENT) is not _ABSENT

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    def __repr__(self) -> str:
        return f"ModelView({self._fields()!r})"


_ABSENT: Any = object()


def instance_fields(instance: BaseModel) -> dict[str, Any]:
    """The fields (by name) and extras of a model instance, shallow (nested models kept)."""
    values = dict(instance.__dict__)
    extra = instance.__pydantic_extra__
    if extra:
        values.update(extra)
    return values


class TypedContext:
    """The machine's context model: coerces contexts into validated instances."""

    __slots__ = ("fields", "model", "names", "open")

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self.fields = frozenset(model.model_fields)
        """Field names: the payload keys that update the context."""
        self.names = {name: name for name in model.model_fields} | {
            f.alias: name for name, f in model.model_fields.items() if f.alias
        }
        """Key of a dict context or payload -> the model's field (names and aliases)."""
        self.open = model.model_config.get("extra") == "allow"
        """Every payload key updates the context (the model keeps extra keys)."""

    def coerce(self, data: Any) -> BaseModel:
        """A validated instance of the model (an instance is kept as it is, as Pydantic
        does); raises ``ValidationError``.

        A dict that fails as Python data is tried once more as the JSON it stands for: a
        context read back from a store or a snapshot is the model's JSON, and a strict model
        accepts, for example, an ISO date string only from JSON.
        """
        model = self.model
        if isinstance(data, model):
            return data
        if isinstance(data, BaseModel):
            data = instance_fields(data)
        elif data is None:
            data = {}
        try:
            return model.model_validate(data, by_alias=True, by_name=True)
        except ValidationError as exc_python:
            if type(data) is not dict:
                raise
            import json  # only this fallback needs it: not imported with pystator

            try:
                text = json.dumps(data)
            except (TypeError, ValueError):
                raise exc_python from None
            try:
                return model.model_validate_json(text, by_alias=True, by_name=True)
            except ValidationError:
                raise exc_python from None

    def coerce_known(self, data: Any) -> tuple[BaseModel, dict[str, Any] | None]:
        """(the instance, the other keys) of a context given to ``process``: there, keys that
        are not the model's are the event's payload (the seed merges a payload into the
        context), so a model that forbids extra keys still accepts them."""
        if self.open or type(data) is not dict:
            return self.coerce(data), None
        names = self.names  # the model's keys: field names and aliases
        known = {k: v for k, v in data.items() if k in names}
        other = {k: v for k, v in data.items() if k not in names}
        return self.coerce(known), other or None

    def update(self, instance: BaseModel, updates: Mapping[str, Any]) -> BaseModel:
        """A new, validated instance: ``instance`` with ``updates`` (field names) applied."""
        return self.model.model_validate(
            {**instance_fields(instance), **updates}, by_alias=True, by_name=True
        )

    def split(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(keys that update the context, by field name; keys only visible during the
        step). A field's alias counts as the field."""
        if self.open:
            return dict(payload), {}
        names = self.names
        into: dict[str, Any] = {}
        other: dict[str, Any] = {}
        for key, value in payload.items():
            name = names.get(key)
            if name is None:
                other[key] = value
            else:
                into[name] = value
        return into, other


# ----------------------------------------------------------------------------- typed events
class EventContract:
    """The declared payload of one trigger: a Pydantic model (given, or generated from the
    definition's ``events:`` entry)."""

    __slots__ = ("generated", "keys", "model", "names", "spec", "trigger")

    def __init__(self, trigger: str, model: type[BaseModel], spec: EventSpec | None = None) -> None:
        self.trigger = trigger
        self.model = model
        self.spec = spec
        self.generated = spec is not None
        # Field name -> payload key (the alias of a generated model's field).
        self.names = {name: field.alias or name for name, field in model.model_fields.items()}
        keys = dict.fromkeys(self.names.values())
        if not self.generated:
            keys.update(dict.fromkeys(self.names))
        self.keys = tuple(keys)
        """The keys ``process`` reads from the context it is given."""

    @classmethod
    def from_spec(cls, trigger: str, spec: EventSpec) -> EventContract:
        return cls(trigger, model_from_spec(spec, f"{trigger}_payload"), spec)

    def validate(self, payload: Mapping[str, Any], context: Container[str] = ()) -> dict[str, Any]:
        """The payload with its values coerced; raises ``ValidationError``.

        A generated model gives back the keys that were sent (it writes no defaults); a
        given model also gives the defaults of the fields that were not sent, except where
        ``context`` already holds the key (a default never overwrites the context), and its
        extras.
        """
        instance = self.model.model_validate(payload, by_alias=True, by_name=True)
        values = instance.__dict__
        sent = instance.model_fields_set
        names = self.names
        if self.generated:
            out = {names[name]: values[name] for name in sent}
        else:
            out = {
                key: values[name]
                for name, key in names.items()
                if name in sent or key not in context
            }
        extra = instance.__pydantic_extra__
        if extra:
            out.update(extra)
        return out

    def read(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The declared keys present in ``context`` (what stateless ``process`` validates)."""
        return {key: context[key] for key in self.keys if key in context}

    def json_schema(self) -> dict[str, Any]:
        if self.spec is not None:
            return context_json_schema(self.spec)
        return self.model.model_json_schema()
