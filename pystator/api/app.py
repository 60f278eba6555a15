"""``create_app``: the FastAPI application of PyStator (OpenAPI docs at ``/docs``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from pystator._version import __version__
from pystator.api.catalog import MachineExistsError
from pystator.api.docs_page import install_docs
from pystator.api.limits import BodyLimitMiddleware, LoopbackOnlyMiddleware, strict_json_route
from pystator.api.problems import install_handlers, responses
from pystator.api.routes import auth, entities, health, stateless
from pystator.api.routes import machines as machine_routes
from pystator.api.services import Services, principal_dependency
from pystator.api.settings import ApiSettings
from pystator.runtime.machine import StateMachine
from pystator.runtime.ports import StateStore
from pystator.ui import mount_ui

logger = logging.getLogger("pystator.api")

DESCRIPTION = """\
Validate and run PyStator state machines over HTTP.

* **Stateless**: `POST /api/v1/validate` and `POST /api/v1/process` take the definition in the
  request and store nothing.
* **Stored**: machines (`/api/v1/machines`) and their entities, driven through the
  orchestrator: one version-checked commit per event, idempotency keys, history.
* **One machine, typed**: `GET /api/v1/machines/{machine_id}/openapi.json` (browse it at
  `/docs?machine={machine_id}`) has one operation per trigger with its payload's fields, and
  the context schema in entity creation; `/api/v1/machines/{machine_id}/schema` has the
  JSON Schemas alone.

Errors are JSON `{"detail": "...", "errors": [{"path", "message"}]}`. Authentication is a
bearer token (`POST /api/v1/auth/token`) when the server has an auth secret.
"""


def _store_opener(settings: ApiSettings) -> Callable[[], StateStore]:
    try:
        from pystator.stores.sql import SQLStateStore
    except ImportError as exc:
        raise ImportError(f"{exc}; the API needs: pip install 'pystator[api]'") from None

    def open_store() -> StateStore:
        return SQLStateStore(
            settings.database_url,
            connect_timeout=settings.store_connect_timeout,
            read_timeout=settings.store_read_timeout,
        )

    return open_store


def create_app(
    settings: ApiSettings | None = None, *, machines: Iterable[StateMachine] = ()
) -> FastAPI:
    """The application, configured by ``settings`` (default: ``PYSTATOR_*`` variables and
    ``.env``). Opens the database, creates the tables it needs and stores the definitions
    of ``settings.machines_dir`` that are not stored yet.

    ``machines``: machines built in Python (``Order.machine()``, ``StateMachine.from_yaml(
    ..., context_model=...)``). Each one's definition is stored unless a machine of that
    name is stored already, and its entities are validated with its context model and
    payload models (which JSON cannot carry), in every request and in the per-machine
    OpenAPI document.
    """
    settings = settings if settings is not None else ApiSettings()
    machines = list(machines)
    services = Services(settings, _store_opener(settings), machines)
    catalog = services.catalog
    for machine in machines:
        if catalog.get(machine.name) is None:
            with suppress(MachineExistsError):  # stored meanwhile by another replica
                catalog.create(machine.definition)
    if settings.machines_dir is not None:
        if not settings.machines_dir.is_dir():
            raise ValueError(f"PYSTATOR_MACHINES_DIR {settings.machines_dir} is not a directory")
        stored, problems = catalog.load_directory(settings.machines_dir)
        for line in problems:
            logger.warning("machines directory: skipped %s", line)
        if stored:
            logger.info("machines directory: stored %s", ", ".join(stored))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.auth_enabled:
            logger.warning(
                "authentication is off (no PYSTATOR_AUTH_SECRET): %s",
                "serving every client (allow_insecure_bind)"
                if settings.allow_insecure_bind
                else "serving clients on this host only",
            )
        yield
        services.close()

    app = FastAPI(
        title="PyStator",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # One schema per model (as MachineDefinition), not an -Input and an -Output twin.
        separate_input_output_schemas=False,
    )
    app.state.services = services
    app.state.settings = settings
    install_handlers(app)
    install_docs(app)

    principal = principal_dependency(settings)
    route_class = strict_json_route(settings.max_json_depth)
    app.include_router(health.build())
    app.include_router(auth.build(principal, route_class, settings))
    app.include_router(stateless.build(principal, route_class))
    # Every route of these two reads or writes the database: each may answer 503.
    app.include_router(machine_routes.build(principal, route_class), responses=responses(503))
    app.include_router(entities.build(principal, route_class), responses=responses(503))
    mount_ui(
        app,
        dependencies=[Depends(principal)],
        route_class=route_class,
        parse_slot=services.parses.slot,
    )

    # Middleware added last runs first: the body limit sees every request before anything.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            allow_credentials=False,
            max_age=600,
        )
    if not settings.auth_enabled and not settings.allow_insecure_bind:
        app.add_middleware(LoopbackOnlyMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    return app
