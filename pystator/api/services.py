"""What the routes share: settings, the state store, the timer scheduler, the machine catalog,
compiled configs."""

# No "from __future__ import annotations": FastAPI must resolve the local bearer scheme.
import json
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from pystator.api.auth import ANONYMOUS, InvalidTokenError, Principal, verify_token
from pystator.api.catalog import Catalog, Served
from pystator.api.definitions import ParseSlots
from pystator.api.login_limits import LoginLimiter
from pystator.api.problems import ApiError
from pystator.api.settings import ApiSettings
from pystator.api.supplied_guards import machine_with_supplied_guards
from pystator.loaders import definition_from_data
from pystator.models.definition import MachineDefinition
from pystator.runtime.machine import StateMachine
from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.ports import Scheduler, StateStore


def open_scheduler(settings: ApiSettings) -> Scheduler | None:
    """The scheduler the API's orchestrators arm timers in: with ``PYSTATOR_REDIS_URL``, an
    ``ArqScheduler`` on that Redis with its default key prefix and queue, the ones
    ``pystator worker`` fires from, and the API's store timeouts; else ``None`` (timers are
    only recorded on the entities).

    It only arms and cancels: timers fire in the workers (an ``ArqScheduler`` fires only in
    an arq worker it was installed in). It connects on first use, so a Redis that is down
    does not stop the API from starting.
    """
    if settings.redis_url is None:
        return None
    try:
        from pystator.scheduler.arq_scheduler import ArqScheduler

        return ArqScheduler(
            settings.redis_url,
            connect_timeout=settings.store_connect_timeout,
            read_timeout=settings.store_read_timeout,
        )
    except ImportError as exc:
        raise ImportError(
            f"PYSTATOR_REDIS_URL is set, and arming timers in Redis needs the redis extra "
            f"({exc}): pip install 'pystator[redis]'"
        ) from None


class CompiledConfigs:
    """Compiled machines of ``/process`` requests, by the canonical JSON of their config.

    Compiling is most of the cost of a stateless request; clients send the same config
    again and again. Bounded LRU; the machines' named guards answer from the request.
    """

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._items: OrderedDict[str, StateMachine] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(config: dict[str, Any]) -> str:
        """The canonical JSON of ``config``: what the machines are kept by."""
        return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def cached(self, key: str) -> StateMachine | None:
        """The machine kept for ``key``, or None; never compiles (safe on the event loop)."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def get(self, config: dict[str, Any], key: str | None = None) -> StateMachine:
        """The machine of ``config`` (``key``, if given, is its ``key``), compiled on a miss:
        call it from a worker thread."""
        key = self.key(config) if key is None else key
        found = self.cached(key)
        if found is not None:
            return found
        machine = machine_with_supplied_guards(definition_from_data(config))
        with self._lock:
            self._items[key] = machine
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return machine


def event_models_of(
    machine: StateMachine, definition: MachineDefinition
) -> dict[str, type[BaseModel]]:
    """The payload models of ``machine`` (built in Python) that apply to ``definition`` (its
    stored definition, which a PUT may have changed since): those of the triggers it still
    has, except where its ``events:`` entry changed (the stored entry applies then)."""
    triggers = {t.trigger for t in definition.transitions if t.trigger is not None}
    models: dict[str, type[BaseModel]] = {}
    for trigger in sorted(triggers & set(machine.triggers)):
        model = machine.event_model(trigger)
        if model is None:
            continue
        declared = machine.definition.events.get(trigger)
        if declared is not None and declared != definition.events.get(trigger):
            continue
        models[trigger] = model
    return models


class Services:
    """Settings, the state store (opened on first use, again after ``close``), the timer
    scheduler (``open_scheduler``), the machine catalog, the compiled configs of
    ``/process``, the failed-login counters, and the machines registered in Python
    (``create_app(machines=...)``), whose context and payload models their stored entities
    are validated with."""

    def __init__(
        self,
        settings: ApiSettings,
        open_store: Callable[[], StateStore],
        machines: Iterable[StateMachine] = (),
    ) -> None:
        self.settings = settings
        self.typed: dict[str, StateMachine] = {m.name: m for m in machines}
        self._typed_served: dict[str, Served] = {}
        self._open_store = open_store
        self._store: StateStore | None = None
        self._lock = threading.Lock()
        self.scheduler = open_scheduler(settings)
        self.catalog = Catalog(
            settings.database_url,
            lambda: self.store,
            max_context_bytes=settings.max_context_bytes,
            connect_timeout=settings.store_connect_timeout,
            read_timeout=settings.store_read_timeout,
            scheduler=self.scheduler,
        )
        self.compiled = CompiledConfigs()
        self.parses = ParseSlots.from_settings(settings)  # large definitions parsed at once
        self.logins = LoginLimiter(
            window=settings.login_window_seconds,
            client_failures=settings.login_client_failures,
            user_failures=settings.login_user_failures,
            user_ceiling=settings.login_user_ceiling,
        )
        # SQLite has one writer at a time; its busy handler makes waiting writers sleep and
        # poll. Queueing this process's event writers on a lock instead keeps the latency
        # of concurrent events flat. Other databases take writers in parallel.
        self.writer: AbstractContextManager[Any] = (
            threading.Lock() if settings.database_kind() == "sqlite" else nullcontext()
        )

    def served(self, machine_id: str) -> Served | None:
        """The compiled machine of ``machine_id`` (``Catalog.served``); for a machine
        registered in Python, compiled with its context and payload models."""
        served = self.catalog.served(machine_id)
        typed = self.typed.get(machine_id)
        if served is None or typed is None:
            return served
        with self._lock:
            found = self._typed_served.get(machine_id)
        if found is not None and found.stamp == served.stamp:
            return found
        machine = machine_with_supplied_guards(
            served.definition,
            context_model=typed.context_model,
            event_models=event_models_of(typed, served.definition),
        )
        orchestrator = Orchestrator(
            machine,
            self.store,
            use_initial_state_when_missing=False,
            run_actions=False,
            max_context_bytes=self.settings.max_context_bytes,
            scheduler=self.scheduler,
        )
        found = Served(served.row, served.definition, machine, orchestrator)
        with self._lock:
            self._typed_served[machine_id] = found
        return found

    def delete(self, machine_id: str) -> bool:
        """Delete the stored machine and its entities (``Catalog.delete``), and forget its
        compiled copies; ``False`` when it is not stored."""
        deleted = self.catalog.delete(machine_id)
        with self._lock:
            self._typed_served.pop(machine_id, None)
        return deleted

    @property
    def store(self) -> StateStore:
        store = self._store
        if store is None:
            with self._lock:
                store = self._store
                if store is None:
                    store = self._store = self._open_store()
        return store

    def close(self) -> None:
        """Close the store, the scheduler's connections and the pools; a later request opens
        them again (an app may live through several lifespans, as under a test client)."""
        with self._lock:
            store, self._store = self._store, None
            self._typed_served.clear()
        self.catalog.close()
        if self.scheduler is not None:
            self.scheduler.close()  # its timers stay in Redis
        if store is not None:
            store.close()


# Dependencies are coroutines: FastAPI would run plain functions in its thread pool.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def principal_dependency(settings: ApiSettings) -> Callable[..., Awaitable[Principal]]:
    """The dependency that says who calls: a verified bearer token, or anonymous when
    authentication is off (then the OpenAPI schema declares no security either)."""
    if not settings.auth_enabled:

        async def anonymous() -> Principal:
            return ANONYMOUS

        return anonymous

    bearer = HTTPBearer(
        auto_error=False,
        scheme_name="bearer",
        description="A token from POST /api/v1/auth/token (HS256 JWT).",
    )

    async def authenticated(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        if credentials is None:
            raise ApiError(401, "not authenticated", headers=_UNAUTHORIZED)
        try:
            return verify_token(settings, credentials.credentials)
        except InvalidTokenError:
            raise ApiError(401, "not authenticated", headers=_UNAUTHORIZED) from None

    return authenticated
