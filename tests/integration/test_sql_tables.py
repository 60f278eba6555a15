"""The SQL store's tables are generated from the record models (issue 13, item 7).

* Each table class is a SQLModel class made from its record model: one column per field, in
  order, typed and nullable as the field says; a field added to a model is a column.
* The store's statements are Core statements over those tables: what the store writes,
  SQLAlchemy reads back through the tables into equal records.
* A database created by the previous code (its DDL captured below, as it was before the tables
  were generated) keeps working with the new store and catalogue.
* The API's machine catalogue lives in the store's database, over the store's engine.
"""

from __future__ import annotations

import json
import re
import typing
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import registry as sa_registry
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    MachineRecord,
    OutboxItem,
    TransitionRecord,
)
from pystator.models.snapshot import TimerSnapshot
from pystator.stores.sql import SQLStateStore
from pystator.stores.sql.tables import (
    ENTITIES,
    IDEMPOTENCY,
    MACHINES,
    OUTBOX,
    STORE_SPECS,
    TRANSITIONS,
    TableSpec,
    row_class,
    store_tables,
    table_of,
)
from tests.integration.backends import StoreBackend

SPECS = (*STORE_SPECS, MACHINES)


# ---------------------------------------------------------------------------- generated tables
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_each_table_is_its_record_model_field_by_field(spec: TableSpec) -> None:
    tables = store_tables("gen_")
    row = tables.rows[spec.name]
    table = table_of(row)
    fields = spec.record.model_fields
    assert issubclass(row, SQLModel)
    assert table.name == f"gen_{spec.name}"
    assert list(table.c.keys()) == list(fields)
    assert list(row.model_fields) == list(fields)
    assert [c.name for c in table.primary_key.columns] == list(spec.primary_key)
    for name, info in fields.items():
        column = table.c[name]
        may_be_none = type(None) in typing.get_args(info.annotation)
        assert column.nullable == (may_be_none and name not in spec.primary_key), name
        structured = typing.get_origin(info.annotation) in (dict, list)
        assert isinstance(column.type, sa.JSON) == structured, name


def test_a_row_class_validates_what_its_record_dumps() -> None:
    row = store_tables("gen_").rows[ENTITIES.name]
    record = EntityRecord(
        machine_name="m",
        entity_id="e",
        state="A",
        context={"n": 1},
        version=3,
        timers=[TimerSnapshot(id="A:after:0@1", key="A:after:0", trigger="t", due=5.0)],
    )
    assert row.model_validate(record.model_dump()).model_dump() == record.model_dump()


def test_types_come_from_the_annotations_and_their_constraints() -> None:
    class Thing(BaseModel):
        id: str = Field(max_length=20)
        kind: Literal["a", "b"]
        count: int
        ratio: float
        ok: bool
        note: str | None = None
        tags: list[str] = []
        extra: dict[str, Any] = {}

    class Base(SQLModel, registry=sa_registry()):
        pass

    spec = TableSpec(Thing, "things", ("id",), {"kind": ("kind",)})
    table = table_of(row_class(spec, "t_", Base))
    columns = table.c
    assert isinstance(columns.id.type, AutoString)
    assert columns.id.type.length == 20
    assert isinstance(columns.kind.type, AutoString)
    assert columns.kind.type.length is None
    assert isinstance(columns.count.type, sa.BigInteger)
    assert isinstance(columns.ratio.type, sa.Float)
    assert isinstance(columns.ok.type, sa.Boolean)
    assert columns.note.nullable
    assert not columns.kind.nullable
    assert isinstance(columns.tags.type, sa.JSON)
    assert isinstance(columns.extra.type, sa.JSON)
    assert [i.name for i in table.indexes] == ["ix_t_things_kind"]


def test_a_spec_naming_a_field_the_record_lacks_is_refused() -> None:
    class Base(SQLModel, registry=sa_registry()):
        pass

    with pytest.raises(ValueError, match="EntityRecord has no field 'nope'"):
        row_class(TableSpec(EntityRecord, "bad", ("nope",)), "t_", Base)


# ---------------------------------------------------------------------------- store = tables
def _read_all(store: SQLStateStore, role: str) -> list[dict[str, Any]]:
    table = store.tables[role]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings()
        return [dict(row) for row in rows]


def test_what_the_store_writes_the_tables_read_back(sql_backend: StoreBackend) -> None:
    store = sql_backend.store()
    assert isinstance(store, SQLStateStore)
    entity = EntityRecord(
        machine_name="m",
        entity_id="e-1",
        state="OPEN",
        context={"qty": 5, "name": "ü", "nested": {"b": 1, "a": [1, 2]}},
        version=1,
        history={"REGION": ["A"]},
        timers=[TimerSnapshot(id="OPEN:after:0@1", key="OPEN:after:0", trigger="expire", due=12.5)],
        created_at=1.5,
        updated_at=2.5,
    )
    transition = TransitionRecord(
        machine_name="m",
        entity_id="e-1",
        version=1,
        source_state="NEW",
        target_state="OPEN",
        trigger="open",
        context_changes={"qty": 5},
        at=2.5,
        idempotency_key="k-1",
        result={"success": True},
    )
    item = OutboxItem(
        id="m/e-1/1/0",
        machine_name="m",
        entity_id="e-1",
        version=1,
        position=0,
        name="notify",
        params={"to": "ops"},
        context={"qty": 5},
        created_at=2.5,
    )
    key = IdempotencyRecord(
        machine_name="m",
        entity_id="e-1",
        key="k-1",
        fingerprint="f",
        version=1,
        result={"success": True},
    )
    store.commit(
        Commit(
            entity=entity, expected_version=0, transition=transition, outbox=[item], idempotency=key
        )
    )
    read = {
        role: [model.model_validate(row) for row in _read_all(store, role)]
        for role, model in (
            ("entities", EntityRecord),
            ("transitions", TransitionRecord),
            ("outbox", OutboxItem),
            ("idempotency", IdempotencyRecord),
        )
    }
    assert read == {
        "entities": [entity],
        "transitions": [transition],
        "outbox": [item],
        "idempotency": [key],
    }
    assert store.load("m", "e-1") == entity


# ---------------------------------------------------------------------------- the catalogue
def machine(name: str = "orders", revision: int = 1) -> MachineRecord:
    return MachineRecord(
        id=name,
        name=name,
        version="1.0.0",
        description="An order.",
        revision=revision,
        definition=json.dumps({"meta": {"machine_name": name}}),
        created_at=10.0,
        updated_at=10.0,
    )


def test_the_catalogue_lives_in_the_store_s_database() -> None:
    # An in-memory database is one connection: the catalogue sees the store's data only if
    # it goes through the store's engine.
    store = SQLStateStore("sqlite://")
    try:
        store.commit(
            Commit(
                entity=EntityRecord(machine_name="orders", entity_id="e", state="A", version=1),
                expected_version=0,
            )
        )
        catalogue = store.machines
        assert catalogue.insert(machine())
        names = set(sa.inspect(store.engine).get_table_names())
        assert {"pystator_entities", "pystator_api_machines"} <= names
        assert catalogue.get("orders") == machine()
        assert catalogue.stamp("orders")[0] == 1
    finally:
        store.close()


def test_the_catalogue_table_is_made_only_when_used(tmp_path: Any) -> None:
    store = SQLStateStore(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        assert store.load("m", "e") is None
        assert "pystator_api_machines" not in sa.inspect(store.engine).get_table_names()
        store.machines.ping()  # reaches the database, makes no table
        assert "pystator_api_machines" not in sa.inspect(store.engine).get_table_names()
    finally:
        store.close()


def test_catalogue_writes(sql_backend: StoreBackend) -> None:
    store = sql_backend.store()
    assert isinstance(store, SQLStateStore)
    catalogue = store.machines
    assert catalogue.insert(machine("a"))
    assert not catalogue.insert(machine("a"))  # the id is stored already: nothing written
    assert catalogue.insert(machine("b"))
    assert catalogue.update("missing", lambda m: m) is None

    changed = catalogue.update(
        "a", lambda m: m.model_copy(update={"version": "2.0.0", "revision": 99, "id": "z"})
    )
    # The revision is the next one, whatever the change says; the id and created_at stay.
    assert changed == machine("a", revision=2).model_copy(update={"version": "2.0.0"})
    assert catalogue.get("a") == changed
    rows, total = catalogue.page(limit=1, offset=1)
    assert (rows, total) == ([machine("b")], 2)
    assert catalogue.delete("a")
    assert not catalogue.delete("a")
    assert catalogue.get("a") is None


def test_drop_tables_drops_the_catalogue_too(tmp_path: Any) -> None:
    store = SQLStateStore(f"sqlite:///{tmp_path / 'drop.db'}")
    try:
        store.machines.insert(machine())
        store.drop_tables()
        assert sa.inspect(store.engine).get_table_names() == []
        assert store.machines.get("orders") is None  # made again on next use
        assert store.load("m", "e") is None
    finally:
        store.close()


# ---------------------------------------------------------------------------- old databases
# The DDL the previous code emitted (SQLModel row classes written field by field, captured
# from it for each dialect), with the table prefix as ``{p}``. The catalogue's table was
# ``pystator_api_machines`` whatever the prefix: the default prefix gives that name still.
OLD_DDL = {
    "sqlite": """
CREATE TABLE "{p}entities" ( machine_name VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, state VARCHAR NOT NULL, context JSON NOT NULL, version BIGINT NOT NULL, history JSON NOT NULL, timers JSON NOT NULL, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (machine_name, entity_id) ) WITHOUT ROWID;
CREATE INDEX "ix_{p}entities_state" ON "{p}entities" (machine_name, state, entity_id);
CREATE TABLE "{p}transitions" ( machine_name VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, version BIGINT NOT NULL, source_state VARCHAR NOT NULL, target_state VARCHAR NOT NULL, "trigger" VARCHAR NOT NULL, context_changes JSON NOT NULL, context_removed JSON NOT NULL, at FLOAT NOT NULL, idempotency_key VARCHAR, result JSON NOT NULL, PRIMARY KEY (machine_name, entity_id, version) ) WITHOUT ROWID;
CREATE TABLE "{p}outbox" ( id VARCHAR NOT NULL, machine_name VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, version BIGINT NOT NULL, position INTEGER NOT NULL, name VARCHAR NOT NULL, params JSON NOT NULL, context JSON NOT NULL, status VARCHAR NOT NULL, attempts INTEGER NOT NULL, last_error VARCHAR, claimed_until FLOAT NOT NULL, created_at FLOAT NOT NULL, PRIMARY KEY (id) );
CREATE INDEX "ix_{p}outbox_entity" ON "{p}outbox" (machine_name, entity_id);
CREATE INDEX "ix_{p}outbox_pending" ON "{p}outbox" (status, created_at);
CREATE TABLE "{p}idempotency" ( machine_name VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, "key" VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, version BIGINT NOT NULL, result JSON NOT NULL, PRIMARY KEY (machine_name, entity_id, "key") ) WITHOUT ROWID;
CREATE TABLE "{p}api_machines" ( id VARCHAR(200) NOT NULL, name VARCHAR(200) NOT NULL, version VARCHAR(64) NOT NULL, description VARCHAR, revision INTEGER NOT NULL, definition VARCHAR NOT NULL, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (id) );
""",  # noqa: E501
    "postgresql": """
CREATE TABLE "{p}entities" ( machine_name VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, state VARCHAR NOT NULL, context JSON NOT NULL, version BIGINT NOT NULL, history JSON NOT NULL, timers JSON NOT NULL, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (machine_name, entity_id) );
CREATE INDEX "ix_{p}entities_state" ON "{p}entities" (machine_name, state, entity_id);
CREATE TABLE "{p}transitions" ( machine_name VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, version BIGINT NOT NULL, source_state VARCHAR NOT NULL, target_state VARCHAR NOT NULL, trigger VARCHAR NOT NULL, context_changes JSON NOT NULL, context_removed JSON NOT NULL, at FLOAT NOT NULL, idempotency_key VARCHAR, result JSON NOT NULL, PRIMARY KEY (machine_name, entity_id, version) );
CREATE TABLE "{p}outbox" ( id VARCHAR NOT NULL, machine_name VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, version BIGINT NOT NULL, position INTEGER NOT NULL, name VARCHAR NOT NULL, params JSON NOT NULL, context JSON NOT NULL, status VARCHAR NOT NULL, attempts INTEGER NOT NULL, last_error VARCHAR, claimed_until FLOAT NOT NULL, created_at FLOAT NOT NULL, PRIMARY KEY (id) );
CREATE INDEX "ix_{p}outbox_entity" ON "{p}outbox" (machine_name, entity_id);
CREATE INDEX "ix_{p}outbox_pending" ON "{p}outbox" (status, created_at);
CREATE TABLE "{p}idempotency" ( machine_name VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, key VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, version BIGINT NOT NULL, result JSON NOT NULL, PRIMARY KEY (machine_name, entity_id, key) );
CREATE TABLE "{p}api_machines" ( id VARCHAR(200) NOT NULL, name VARCHAR(200) NOT NULL, version VARCHAR(64) NOT NULL, description VARCHAR, revision INTEGER NOT NULL, definition VARCHAR NOT NULL, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (id) );
""",  # noqa: E501
}
# Rows as the previous code wrote them (JSON as compact text).
OLD_ROWS = """
INSERT INTO "{p}entities" VALUES ('m', 'old', 'OPEN', '{{"qty":5}}', 2, '{{}}', '[]', 1.0, 2.0);
INSERT INTO "{p}transitions" VALUES ('m', 'old', 2, 'NEW', 'OPEN', 'open', '{{"qty":5}}', '[]', 2.0, NULL, '{{"success":true}}');
INSERT INTO "{p}api_machines" VALUES ('orders', 'orders', '1.0.0', NULL, 3, '{{"meta":{{}}}}', 1.0, 2.0);
"""  # noqa: E501


def _create_old_database(store: SQLStateStore, dialect: str) -> None:
    prefix = store.table_prefix
    statements = (OLD_DDL[dialect] + OLD_ROWS).format(p=prefix).split(";\n")
    with store.engine.begin() as conn:
        for statement in statements:
            if statement.strip():
                conn.exec_driver_sql(statement)


def test_a_database_made_by_the_previous_code_keeps_working(sql_backend: StoreBackend) -> None:
    opened = sql_backend.store()
    assert isinstance(opened, SQLStateStore)
    dialect = opened.engine.dialect.name
    _create_old_database(opened, dialect)
    opened.close()
    store = sql_backend.store()  # a new store on the old tables
    assert isinstance(store, SQLStateStore)

    old = store.load("m", "old")
    assert old is not None
    assert (old.state, old.version, old.context) == ("OPEN", 2, {"qty": 5})
    assert [t.version for t in store.get_history("m", "old")] == [2]
    moved = old.model_copy(update={"state": "DONE", "version": 3, "context": {"qty": 6}})
    store.commit(
        Commit(
            entity=moved,
            expected_version=2,
            incarnation=old.created_at,
            transition=TransitionRecord(
                machine_name="m", entity_id="old", version=3, source_state="OPEN",
                target_state="DONE", trigger="close", at=3.0,
            ),
            outbox=[
                OutboxItem(id="m/old/3/0", machine_name="m", entity_id="old", version=3,
                           position=0, name="notify", created_at=3.0),
            ],
            idempotency=IdempotencyRecord(
                machine_name="m", entity_id="old", key="k", fingerprint="f", version=3,
                result={},
            ),
        )
    )  # fmt: skip
    assert store.load("m", "old") == moved
    assert store.get_idempotency("m", "old", "k") is not None
    assert [i.id for i in store.pending_actions(now=10.0)] == ["m/old/3/0"]
    assert store.claim_action("m/old/3/0", now=10.0, until=20.0)
    store.finish_action("m/old/3/0", success=True, attempts=1)
    assert store.list_entities("m", state="DONE").total == 1

    catalogue = store.machines
    assert catalogue.stamp("orders")[0] == 3
    updated = catalogue.update("orders", lambda m: m.model_copy(update={"version": "1.1.0"}))
    assert updated is not None
    assert updated.revision == 4
    assert catalogue.insert(machine("more"))
    assert [m.id for m in catalogue.page(limit=10, offset=0)[0]] == ["more", "orders"]
    assert store.delete_entity("m", "old")


def test_the_api_s_default_prefix_names_the_catalogue_table_as_before() -> None:
    assert store_tables("pystator_").machines.name == "pystator_api_machines"


@pytest.mark.parametrize("spec", [ENTITIES, TRANSITIONS, OUTBOX, IDEMPOTENCY])
def test_old_and_new_schemas_have_the_same_columns(spec: TableSpec) -> None:
    """The old DDL and the generated tables name the same columns in the same order (the
    types differ only where the old one said INTEGER: the generated one says BIGINT)."""
    ddl = OLD_DDL["postgresql"].format(p="x_")
    line = next(s for s in ddl.splitlines() if s.startswith(f'CREATE TABLE "x_{spec.name}"'))
    old_columns = re.findall(r"[(,] (\w+) (?:VARCHAR|JSON|BIGINT|INTEGER|FLOAT)", line)
    new_columns = list(table_of(store_tables("x_").rows[spec.name]).c.keys())
    assert old_columns == new_columns
