"""Stored machines: the catalogue of the API's database, and the compiled machines it serves.

The definitions are ``MachineRecord`` rows of the SQL store's catalogue
(``SQLStateStore.machines``: the table ``pystator_api_machines`` beside the store's, over the
store's engine; a store of the catalogue's own when entities are kept elsewhere). A
machine's id is its ``meta.machine_name``: entities are stored under that name, so a PUT may
change everything but the name. ``revision`` grows with every PUT and starts at 1 again
when a deleted machine is stored again (with a new ``created_at``); the compiled machine
(and its ``Orchestrator``) is cached per (id, revision, created_at), so replicas that share
the database see each other's updates, deletes and re-creations on their next request.

With a scheduler (``PYSTATOR_REDIS_URL``: the ``ArqScheduler`` that ``pystator worker``
fires), the orchestrators hand it the timers of every commit: they arm and cancel, and the
workers fire. Deleting an entity or a machine cancels the timers its entities had armed.
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

from pystator.api.supplied_guards import machine_with_supplied_guards, named_guards
from pystator.errors import ConfigurationError
from pystator.loaders import definition_from_data, definition_to_dict, load_file
from pystator.models.definition import MachineDefinition
from pystator.models.entity import MachineRecord
from pystator.runtime.machine import StateMachine
from pystator.runtime.orchestration.timer_handoff import cancel_deleted
from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.ports import Scheduler, StateStore
from pystator.runtime.validation import check_machine
from pystator.stores.availability import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from pystator.stores.sql import SQLMachineCatalog, SQLStateStore

MachineRow = MachineRecord
"""The name the routes know a stored machine by."""


@dataclass(frozen=True, slots=True)
class Served:
    """A stored machine, compiled, with the orchestrator of its entities."""

    row: MachineRecord
    definition: MachineDefinition
    machine: StateMachine
    orchestrator: Orchestrator

    @property
    def stamp(self) -> tuple[int, float]:
        """What tells this copy from any other of the machine: ``(revision, created_at)``
        (a machine deleted and stored again starts at revision 1 again)."""
        return stamp_of(self.row)


def stamp_of(row: MachineRecord) -> tuple[int, float]:
    """``(revision, created_at)`` of a stored machine (``SQLMachineCatalog.stamp``)."""
    return (row.revision, row.created_at)


class MachineExistsError(Exception):
    """A machine with that name is already stored."""


class MachineRenameError(Exception):
    """A PUT tried to change ``meta.machine_name``."""


def _definition_text(definition: MachineDefinition) -> str:
    return json.dumps(definition_to_dict(definition), ensure_ascii=False)


class Catalog:
    """Machines stored in the database, and their compiled forms.

    Args:
        url: the API's database. Used only when the store of the entities is not a
            ``SQLStateStore`` (tests serve entities from memory or Redis): the catalogue
            then has a ``SQLStateStore`` of its own there, for its table only.
        store: the store of the entities, asked again on every use (the API opens it again
            after a close). When it is a ``SQLStateStore``, the catalogue lives in its
            database and shares its engine.
        max_context_bytes: for the orchestrators of the stored machines.
        connect_timeout, read_timeout: of the catalogue's own store, if it needs one.
        scheduler: where the orchestrators arm and cancel timers (``None``: timers are only
            recorded on the entities).
    """

    def __init__(
        self,
        url: str,
        store: Callable[[], StateStore],
        *,
        max_context_bytes: int | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
        scheduler: Scheduler | None = None,
    ) -> None:
        self._url = url
        self.scheduler = scheduler
        self._timeouts = (connect_timeout, read_timeout)
        self._store = store
        self._own: SQLStateStore | None = None
        self._own_lock = threading.Lock()
        self._max_context_bytes = max_context_bytes
        self._cache: OrderedDict[str, Served] = OrderedDict()
        self._cache_lock = threading.Lock()
        # The database is reached (and the table made) now: a server that cannot reach it
        # fails to start, with the reason, instead of answering 503 to every request.
        self._machines().ensure_table()

    def _machines(self) -> SQLMachineCatalog:
        store = self._store()
        if isinstance(store, SQLStateStore):
            return store.machines
        with self._own_lock:
            if self._own is None:
                connect_timeout, read_timeout = self._timeouts
                self._own = SQLStateStore(
                    self._url, connect_timeout=connect_timeout, read_timeout=read_timeout
                )
            return self._own.machines

    # ------------------------------------------------------------------ reads
    def ping(self) -> None:
        self._machines().ping()

    def page(self, *, limit: int, offset: int) -> tuple[list[MachineRecord], int]:
        return self._machines().page(limit=limit, offset=offset)

    def get(self, machine_id: str) -> MachineRecord | None:
        return self._machines().get(machine_id)

    def served(self, machine_id: str) -> Served | None:
        """The compiled machine of ``machine_id`` as stored now, or ``None``."""
        machines = self._machines()
        stamp = machines.stamp(machine_id)  # one short statement per entity request
        if stamp is None:
            return None
        with self._cache_lock:
            cached = self._cache.get(machine_id)
        if cached is not None and cached.stamp == stamp:
            return cached
        row = machines.get(machine_id)
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
            scheduler=self.scheduler,
        )
        served = Served(row, definition, machine, orchestrator)
        with self._cache_lock:
            self._cache[machine_id] = served
            self._cache.move_to_end(machine_id)
            while len(self._cache) > 256:
                self._cache.popitem(last=False)
        return served

    # ------------------------------------------------------------------ writes
    def create(self, definition: MachineDefinition) -> MachineRecord:
        now = time.time()
        record = MachineRecord(
            id=definition.meta.machine_name,
            name=definition.meta.machine_name,
            version=definition.meta.version,
            description=definition.meta.description,
            revision=1,
            definition=_definition_text(definition),
            created_at=now,
            updated_at=now,
        )
        if not self._machines().insert(record):
            raise MachineExistsError(record.id)
        return record

    def update(self, machine_id: str, definition: MachineDefinition) -> MachineRecord | None:
        if definition.meta.machine_name != machine_id:
            raise MachineRenameError(definition.meta.machine_name)
        text = _definition_text(definition)

        def change(stored: MachineRecord) -> MachineRecord:
            return stored.model_copy(
                update={
                    "version": definition.meta.version,
                    "description": definition.meta.description,
                    "definition": text,
                    "updated_at": time.time(),
                }
            )

        return self._machines().update(machine_id, change)

    def delete(self, machine_id: str) -> bool:
        """Delete the machine and every entity stored under it (cancelling their timers)."""
        if not self._machines().delete(machine_id):
            return False
        with self._cache_lock:
            self._cache.pop(machine_id, None)
        store = self._store()
        while True:
            page = store.list_entities(machine_id, limit=500, offset=0)
            if not page.items:
                break
            for record in page.items:
                if store.delete_entity(machine_id, record.entity_id):
                    cancel_deleted(self.scheduler, machine_id, record)
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
        """Drop compiled machines and the catalogue's own store, if it has one (both come
        back on next use); the store of the entities is closed by its owner."""
        with self._cache_lock:
            self._cache.clear()
        with self._own_lock:
            own, self._own = self._own, None
        if own is not None:
            own.close()


def refusal_line(name: str, exc: ConfigurationError, *, most: int = 5) -> str:
    """``"bad.yaml: 2 problems: transitions[0].dest: ...; states[3].parent: ..."``, on one line."""
    issues = [" ".join(str(issue).split()) for issue in exc.issues]
    shown = "; ".join(issues[:most])
    more = f"; and {len(issues) - most} more" if len(issues) > most else ""
    count = "1 problem" if len(issues) == 1 else f"{len(issues)} problems"
    return f"{name}: {count}: {shown}{more}"


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
