"""The SQL tables of ``SQLStateStore``: SQLModel classes generated from the record models.

Each persisted shape is defined once, as a Pydantic model of ``pystator.models.entity``
(``EntityRecord``, ``TransitionRecord``, ``OutboxItem``, ``IdempotencyRecord``,
``MachineRecord``). This module makes a SQLModel table class from each of them: one column
per field, in the field's order, named as the field, typed from its annotation (``str`` and
string literals: ``VARCHAR`` with the field's ``max_length``; ``int``: ``BIGINT``; ``float``;
``bool``; anything structured (dicts, lists, models): ``JSON``), ``NULL`` allowed exactly when
the field may be ``None``. What a model cannot say about storage (the table's name, primary
key and indexes) is a ``TableSpec`` beside it. A field added to a record is a column of its
table, and every statement (``pystator.stores.sql.statements``) follows.

The models stay free of SQLAlchemy (``models`` may import Pydantic only, and SQLModel is the
``sql`` extra): the table classes live here, owned by the SQL adapter, one SQLAlchemy registry
per table prefix (two stores with different prefixes in one process get distinct tables, and
nothing lands in SQLModel's global metadata).
"""

from __future__ import annotations

import threading
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import sqlalchemy as sa
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from sqlalchemy.orm import registry as sa_registry
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import AutoString

from pystator.models.entity import (
    EntityRecord,
    IdempotencyRecord,
    MachineRecord,
    OutboxItem,
    TransitionRecord,
)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """How one record model is stored: what its fields cannot say.

    Attributes:
        record: the model whose fields are the table's columns.
        name: the table's name after the store's prefix.
        primary_key: the key's columns, in order.
        indexes: more indexes, by name suffix (``ix_<table>_<suffix>``), with their columns.
        clustered: SQLite: store the rows in the key's order (``WITHOUT ROWID``), for tables
            read by their key only: no rowid and no second B-tree for the key, one page
            less to write per commit. Other dialects ignore it.
    """

    record: type[BaseModel]
    name: str
    primary_key: tuple[str, ...]
    indexes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    clustered: bool = False


ENTITIES = TableSpec(
    EntityRecord,
    "entities",
    ("machine_name", "entity_id"),
    {"state": ("machine_name", "state", "entity_id")},
    clustered=True,
)
# The key (machine, entity, version) orders the history.
TRANSITIONS = TableSpec(
    TransitionRecord, "transitions", ("machine_name", "entity_id", "version"), clustered=True
)
OUTBOX = TableSpec(
    OutboxItem,
    "outbox",
    ("id",),
    {"pending": ("status", "created_at"), "entity": ("machine_name", "entity_id")},
)
# The key makes an idempotency key unique per entity.
IDEMPOTENCY = TableSpec(
    IdempotencyRecord, "idempotency", ("machine_name", "entity_id", "key"), clustered=True
)
# The API's machine catalogue: with the default prefix, ``pystator_api_machines``.
MACHINES = TableSpec(MachineRecord, "api_machines", ("id",))

STORE_SPECS = (ENTITIES, TRANSITIONS, OUTBOX, IDEMPOTENCY)
"""The store's own tables, created on its first use; the catalogue's on the catalogue's."""


def column_for(name: str, info: FieldInfo, *, primary_key: bool = False) -> sa.Column[Any]:
    """The column that stores the field ``name`` described by ``info``."""
    annotation, optional = _without_none(info.annotation)
    column_type: Any
    if annotation is bool:
        column_type = sa.Boolean()
    elif annotation is int:
        column_type = sa.BigInteger()
    elif annotation is float:
        column_type = sa.Float()
    elif annotation is str or _is_string_literal(annotation):
        column_type = AutoString(length=_max_length(info))
    else:
        # Plain JSON, never PostgreSQL's JSONB: JSONB reorders keys, and a store must read
        # back exactly what it wrote (key order included).
        column_type = sa.JSON()
    return sa.Column(
        name, column_type, primary_key=primary_key, nullable=optional and not primary_key
    )


def row_class(spec: TableSpec, prefix: str, base: type[SQLModel]) -> type[SQLModel]:
    """The SQLModel table class of ``spec.record``, named ``<prefix><spec.name>``, in
    ``base``'s registry: the record's fields, each with the column ``column_for`` makes."""
    fields = spec.record.model_fields
    unknown = [n for n in (*spec.primary_key, *_indexed(spec)) if n not in fields]
    if unknown:
        raise ValueError(f"{spec.record.__name__} has no field {unknown[0]!r}")
    table_name = prefix + spec.name
    indexes = tuple(
        sa.Index(f"ix_{table_name}_{suffix}", *columns) for suffix, columns in spec.indexes.items()
    )
    options = {"sqlite_with_rowid": False} if spec.clustered else {}
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": f"The rows of ``{spec.record.__name__}``.",
        "__tablename__": table_name,
        "__table_args__": (*indexes, options),
        "__annotations__": {name: info.annotation for name, info in fields.items()},
    }
    for name, info in fields.items():
        column = column_for(name, info, primary_key=name in spec.primary_key)
        namespace[name] = Field(sa_column=column)
    return types.new_class(
        f"{spec.record.__name__}Row", (base,), {"table": True}, lambda ns: ns.update(namespace)
    )


def table_of(row: type[SQLModel]) -> sa.Table:
    """The ``sa.Table`` of a SQLModel table class."""
    table = getattr(row, "__table__", None)
    if not isinstance(table, sa.Table):
        raise TypeError(f"{row.__name__} is not a table class")
    return table


@dataclass(frozen=True, slots=True)
class StoreTables:
    """The table classes of one prefix, and their tables by role."""

    metadata: sa.MetaData
    rows: Mapping[str, type[SQLModel]]
    entities: sa.Table
    transitions: sa.Table
    outbox: sa.Table
    idempotency: sa.Table
    machines: sa.Table

    @property
    def store_tables(self) -> list[sa.Table]:
        """The store's own four tables (not the catalogue's)."""
        return [self.entities, self.transitions, self.outbox, self.idempotency]


_TABLES: dict[str, StoreTables] = {}
_TABLES_LOCK = threading.Lock()


def store_tables(prefix: str) -> StoreTables:
    """The tables of ``prefix``, defined once per process and prefix."""
    with _TABLES_LOCK:
        found = _TABLES.get(prefix)
        if found is None:
            found = _TABLES[prefix] = _define(prefix)
        return found


def _define(prefix: str) -> StoreTables:
    class Base(SQLModel, registry=sa_registry()):
        """One registry (and MetaData) per prefix."""

    specs = {spec.name: spec for spec in (*STORE_SPECS, MACHINES)}
    rows = {name: row_class(spec, prefix, Base) for name, spec in specs.items()}
    return StoreTables(
        metadata=Base.metadata,
        rows=rows,
        entities=table_of(rows[ENTITIES.name]),
        transitions=table_of(rows[TRANSITIONS.name]),
        outbox=table_of(rows[OUTBOX.name]),
        idempotency=table_of(rows[IDEMPOTENCY.name]),
        machines=table_of(rows[MACHINES.name]),
    )


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without ``None``, whether it allowed ``None``)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) < len(get_args(annotation)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True  # noqa: UP007
    return annotation, False


def _is_string_literal(annotation: Any) -> bool:
    return get_origin(annotation) is Literal and all(
        isinstance(v, str) for v in get_args(annotation)
    )


def _max_length(info: FieldInfo) -> int | None:
    for constraint in info.metadata:
        if isinstance(constraint, annotated_types.MaxLen):
            return int(constraint.max_length)
    return None


def _indexed(spec: TableSpec) -> list[str]:
    return [name for columns in spec.indexes.values() for name in columns]


__all__ = [
    "ENTITIES",
    "IDEMPOTENCY",
    "MACHINES",
    "OUTBOX",
    "STORE_SPECS",
    "TRANSITIONS",
    "StoreTables",
    "TableSpec",
    "column_for",
    "row_class",
    "store_tables",
    "table_of",
]
