"""Stored machines: a SQLModel table owned by the API, and the compiled machines it serves.

The table ``pystator_api_machines`` lives in the API's database, beside the store's tables.
A machine's id is its ``meta.machine_name``: entities are stored under that name, so a PUT
may change everything but the name. ``revision`` grows with every PUT; the compiled machine
(and its ``Orchestrator``) is cached per (id, revision), so replicas that share the database
see each other's updates on their next request.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry as sa_registry
from sqlalchemy.pool import StaticPool
from sqlmodel import Field, Session, SQLModel, col, func, select

from pystator.api.supplied_guards import machine_with_supplied_guards, named_guards
from pystator.errors import ConfigurationError
from pystator.loaders import definition_from_data, definition_to_dict, load_file
from pystator.models.definition import MachineDefinition
from pystator.runtime.machine import StateMachine
from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.ports import StateStore
from pystator.runtime.validation import check_machine
from pystator.stores.availability import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from pystator.stores.sql_faults import SQLFaults

TABLE_NAME = "pystator_api_machines"


class _Base(SQLModel, registry=sa_registry()):
    """Own registry: the API's table never lands in SQLModel's global metadata."""


class MachineRow(_Base, table=True):
    """One stored machine definition."""

    __tablename__ = TABLE_NAME

    id: str = Field(primary_key=True, max_length=200)
    name: str = Field(max_length=200)
    version: str = Field(max_length=64)
    description: str | None = Field(default=None)
    revision: int = Field(default=1)
    definition: str = Field(description="The definition as JSON text.")
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Served:
    """A stored machine, compiled, with the orchestrator of its entities."""

    row: MachineRow
    definition: MachineDefinition
    machine: StateMachine
    orchestrator: Orchestrator


class MachineExistsError(Exception):
    """A machine with that name is already stored."""


class MachineRenameError(Exception):
    """A PUT tried to change ``meta.machine_name``."""


def _engine(url: str, connect_timeout: float | None, read_timeout: float | None) -> sa.Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            engine = sa.create_engine(
                url, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        else:
            engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    # Timeouts, and a database that is down raises StoreUnavailableError (a 503), as the store.
    faults = SQLFaults(
        parsed, connect_timeout=connect_timeout, read_timeout=read_timeout, busy_timeout=30
    )
    faults.install(engine)
    return engine


class Catalog:
    """Machines stored in the database, and their compiled forms."""

    def __init__(
        self,
        url: str,
        store: Callable[[], StateStore],
        *,
        max_context_bytes: int | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.engine = _engine(url, connect_timeout, read_timeout)
        self._store = store
        self._max_context_bytes = max_context_bytes
        self._memory = isinstance(self.engine.pool, StaticPool)
        self._serial = threading.RLock()
        self._cache: OrderedDict[str, Served] = OrderedDict()
        self._cache_lock = threading.Lock()
        table = MachineRow.__table__  # type: ignore[attr-defined]
        _Base.metadata.create_all(self.engine, tables=[table], checkfirst=True)
        self._revision_of = sa.select(table.c.revision).where(table.c.id == sa.bindparam("id"))

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _locked(self) -> Any:
        # An in-memory SQLite database is one connection: one thread at a time.
        return self._serial if self._memory else _NoLock()

    # ------------------------------------------------------------------ reads
    def ping(self) -> None:
        with self._locked(), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def page(self, *, limit: int, offset: int) -> tuple[list[MachineRow], int]:
        with self._locked(), self._session() as session:
            total = session.exec(select(func.count()).select_from(MachineRow)).one()
            rows = session.exec(
                select(MachineRow).order_by(col(MachineRow.id)).offset(offset).limit(limit)
            ).all()
        return list(rows), int(total)

    def get(self, machine_id: str) -> MachineRow | None:
        with self._locked(), self._session() as session:
            return session.get(MachineRow, machine_id)

    def served(self, machine_id: str) -> Served | None:
        """The compiled machine of ``machine_id`` at its current revision, or ``None``."""
        # One Core statement, compiled once: this runs on every entity request.
        with self._locked(), self.engine.connect() as conn:
            revision = conn.execute(self._revision_of, {"id": machine_id}).scalar()
        if revision is None:
            return None
        with self._cache_lock:
            cached = self._cache.get(machine_id)
        if cached is not None and cached.row.revision == revision:
            return cached
        row = self.get(machine_id)
        if row is None:
            return None
        definition = definition_from_data(json.loads(row.definition))
        machine = machine_with_supplied_guards(definition)
        orchestrator = Orchestrator(
            machine,
            self._store(),
            use_initial_state_when_missing=False,
            # Actions wait in the outbox for `pystator worker`: the API has no action code.
            run_actions=False,
            max_context_bytes=self._max_context_bytes,
        )
        served = Served(row, definition, machine, orchestrator)
        with self._cache_lock:
            self._cache[machine_id] = served
            self._cache.move_to_end(machine_id)
            while len(self._cache) > 256:
                self._cache.popitem(last=False)
        return served

    # ------------------------------------------------------------------ writes
    def create(self, definition: MachineDefinition) -> MachineRow:
        now = time.time()
        row = MachineRow(
            id=definition.meta.machine_name,
            name=definition.meta.machine_name,
            version=definition.meta.version,
            description=definition.meta.description,
            revision=1,
            definition=json.dumps(definition_to_dict(definition), ensure_ascii=False),
            created_at=now,
            updated_at=now,
        )
        with self._locked(), self._session() as session:
            if session.get(MachineRow, row.id) is not None:
                raise MachineExistsError(row.id)
            session.add(row)
            try:
                session.commit()
            except sa.exc.IntegrityError:
                raise MachineExistsError(row.id) from None
        return row

    def update(self, machine_id: str, definition: MachineDefinition) -> MachineRow | None:
        if definition.meta.machine_name != machine_id:
            raise MachineRenameError(definition.meta.machine_name)
        with self._locked(), self._session() as session:
            row = session.get(MachineRow, machine_id)
            if row is None:
                return None
            row.version = definition.meta.version
            row.description = definition.meta.description
            row.definition = json.dumps(definition_to_dict(definition), ensure_ascii=False)
            row.revision += 1
            row.updated_at = time.time()
            session.add(row)
            session.commit()
            return row

    def delete(self, machine_id: str) -> bool:
        """Delete the machine and every entity stored under it."""
        with self._locked(), self._session() as session:
            row = session.get(MachineRow, machine_id)
            if row is None:
                return False
            session.delete(row)
            session.commit()
        with self._cache_lock:
            self._cache.pop(machine_id, None)
        store = self._store()
        while True:
            page = store.list_entities(machine_id, limit=500, offset=0)
            if not page.items:
                break
            for record in page.items:
                store.delete_entity(machine_id, record.entity_id)
        return True

    def load_directory(self, directory: Path) -> tuple[list[str], list[str]]:
        """Store every valid definition of ``directory`` that is not stored yet.

        Returns (stored names, problems: one line per refused file, naming it and every
        problem). A file is refused when any other way in would refuse it (the checks of
        ``check_machine``), and when it is not a regular file (a FIFO, a device, a link to
        one): nothing is read from those, so nothing there can stop the server starting.
        """
        stored: list[str] = []
        problems: list[str] = []
        paths = sorted(
            p for p in directory.iterdir() if p.suffix.lower() in {".yaml", ".yml", ".json"}
        )
        for path in paths:
            try:
                definition = load_file(path)
                check_machine(definition)
            except ConfigurationError as exc:
                problems.append(refusal_line(path.name, exc))
                continue
            if self.get(definition.meta.machine_name) is not None:
                continue
            try:
                self.create(definition)
            except MachineExistsError:
                continue
            stored.append(definition.meta.machine_name)
        return stored, problems

    def close(self) -> None:
        """Drop compiled machines and pooled connections (both come back on next use)."""
        with self._cache_lock:
            self._cache.clear()
        self.engine.dispose()


def refusal_line(name: str, exc: ConfigurationError, *, most: int = 5) -> str:
    """``"bad.yaml: 2 problems: transitions[0].dest: ...; states[3].parent: ..."``, on one line."""
    issues = [" ".join(str(issue).split()) for issue in exc.issues]
    shown = "; ".join(issues[:most])
    more = f"; and {len(issues) - most} more" if len(issues) > most else ""
    count = "1 problem" if len(issues) == 1 else f"{len(issues)} problems"
    return f"{name}: {count}: {shown}{more}"


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def summary_fields(definition: MachineDefinition, machine: StateMachine) -> dict[str, Any]:
    """The fields of ``MachineSummary`` for a compiled definition."""
    return {
        "name": definition.meta.machine_name,
        "version": definition.meta.version,
        "description": definition.meta.description,
        "strict_mode": definition.meta.strict_mode,
        "initial_state": machine.get_initial_state(),
        "states": list(machine.states),
        "triggers": list(machine.triggers),
        "transitions": len(definition.transitions),
        "named_guards": named_guards(definition),
    }
