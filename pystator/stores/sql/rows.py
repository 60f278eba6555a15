"""Records to table rows and back, for ``SQLStateStore``: one codec per table.

A row is the record's fields by column name, the ``JSON`` columns encoded as text (compact,
unicode kept as is); reading back decodes them and validates the record. Which columns are
JSON comes from the table, which comes from the record (``pystator.stores.sql.tables``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from pystator._json import compact_iterencode

R = TypeVar("R", bound=BaseModel)


def _jsonable(value: Any) -> Any:
    return to_jsonable_python(value)


# Values JSON does not know (datetime, UUID, Decimal, models, ...) are stored in their JSON
# form rather than failing the commit. One encoder, made once (a context that contains itself
# fails with ``RecursionError`` or ``ValueError``, before anything is written either way).
_iterencode = compact_iterencode(_jsonable, allow_nan=True)


_EMPTY: dict[type, str] = {dict: "{}", list: "[]"}


def dumps(value: Any) -> str:
    """``value`` as compact JSON text (also the engine's ``json_serializer``)."""
    if type(value) is str:  # (what ``JSONEncoder.encode`` does for a bare string)
        return json.encoder.encode_basestring(value)
    return "".join(_iterencode(value, 0))


def loads(value: Any) -> Any:
    """A JSON column's value: SQLite hands it back as text, psycopg parses PostgreSQL's
    ``json`` itself. Every JSON column holds an object or an array, never a bare string."""
    return json.loads(value) if isinstance(value, str | bytes) else value


class RecordCodec(Generic[R]):
    """Rows of ``table`` to and from ``record``, whose fields are its columns."""

    def __init__(self, record: type[R], table: sa.Table) -> None:
        self.record = record
        self.columns: tuple[str, ...] = tuple(table.c.keys())
        missing = set(self.columns) ^ set(record.model_fields)
        if missing:
            raise ValueError(f"{table.name} and {record.__name__} differ in {sorted(missing)}")
        self._json_names = tuple(c.name for c in table.c if isinstance(c.type, sa.JSON))

    def row(self, record: R) -> dict[str, Any]:
        """``record`` as the parameters of an ``INSERT`` of its table."""
        # A Pydantic model keeps exactly its fields in ``__dict__`` (extra ones are
        # forbidden): one copy, then the JSON columns encoded.
        row = dict(vars(record))
        for name in self._json_names:
            value = row[name]
            # Most history, timers and removed-key lists are empty: no encoder for those.
            row[name] = (value and dumps(value)) or _EMPTY.get(type(value)) or dumps(value)
        return row

    def values(self, record: R) -> list[Any]:
        """The column values of ``record``, in column order, JSON columns encoded."""
        row = self.row(record)
        return [row[name] for name in self.columns]

    def load(self, row: Sequence[Any]) -> R:
        """The record of a row selected with every column of the table, in order."""
        data = dict(zip(self.columns, row, strict=True))
        for name in self._json_names:
            data[name] = loads(data[name])
        return self.record.model_validate(data)


__all__ = ["RecordCodec", "dumps", "loads"]
