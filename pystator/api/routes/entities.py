"""Entities of a stored machine, driven through the ``Orchestrator`` over the SQL store.

Each event is one version-checked commit (state, context, history row, outbox, idempotency
key). The API runs no action (it has no action code): they wait in the outbox for
``pystator worker``. Timers of delayed transitions are kept with the entity.

An event's answer shows the entity exactly as that event left it (the orchestrator's
``EventOutcome``), never a later read: concurrent events for one entity each see their own
commit. A context that would pass ``PYSTATOR_MAX_CONTEXT_BYTES`` is a 413, nothing stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from pystator.api.auth import Principal
from pystator.api.catalog import Served
from pystator.api.definitions import unknown_guards_error
from pystator.api.problems import ApiError, context_error, responses
from pystator.api.routes.machines import MachineIdPath, not_found, timestamp
from pystator.api.schemas import (
    ENTITY_ID_PATTERN,
    EntityCreate,
    EntityOut,
    EntityPage,
    EventRequest,
    EventResponse,
    EventSend,
    HistoryPage,
)
from pystator.api.services import Services, ServicesDep
from pystator.api.supplied_guards import named_guards, supplying
from pystator.errors import (
    ContextTooLargeError,
    ContextValidationError,
    FSMError,
    StaleVersionError,
)
from pystator.models.definition import TRIGGER_PATTERN
from pystator.models.entity import EntityRecord

EntityIdPath = Annotated[
    str, Path(pattern=ENTITY_ID_PATTERN, max_length=200, description="The entity's id.")
]
TriggerPath = Annotated[
    str, Path(pattern=TRIGGER_PATTERN, max_length=220, description="The trigger to send.")
]
IdempotencyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]

EVENT_DESCRIPTION = (
    "Load, process, commit (one version-checked write), answer. A refused event (guard "
    "rejected, no transition, terminal state, a payload that breaks the trigger's declared "
    "payload: result.metadata.reason 'payload_validation') is a 200 with result.success false "
    "and nothing written. A context the event would leave that breaks the machine's context "
    "contract is a 422 naming the fields, nothing written. A version conflict that outlasts "
    "the retries is a 409. The idempotency key may also come as the Idempotency-Key header. "
    "'entity' is the entity exactly as this event left it (for a replayed idempotency key, "
    "as it is now). A context that would pass PYSTATOR_MAX_CONTEXT_BYTES is a 413, nothing "
    "stored."
)


def entity_out(served: Served, record: EntityRecord) -> EntityOut:
    machine = served.machine
    try:
        triggers = machine.get_triggers(record.state)
        final = machine.is_terminal(record.state)
    except FSMError:  # the state was removed from the definition by a later PUT
        triggers, final = [], False
    return EntityOut(
        machine_id=served.row.id,
        entity_id=record.entity_id,
        state=record.state,
        context=record.context,
        version=record.version,
        timers=list(record.timers),
        available_triggers=triggers,
        is_final=final,
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
    )


def _served(svc: Services, machine_id: str) -> Served:
    served = svc.served(machine_id)
    if served is None:
        raise not_found(machine_id)
    return served


def _entity_not_found(machine_id: str, entity_id: str) -> ApiError:
    return ApiError(404, f"entity '{entity_id}' of machine '{machine_id}' does not exist")


def _context_too_large(message: str) -> ApiError:
    return ApiError(413, f"{message} (PYSTATOR_MAX_CONTEXT_BYTES)")


def _key(body: EventSend, header: str | None) -> str | None:
    """The idempotency key: the body's or the header's (422 when they differ)."""
    key = body.idempotency_key
    if header is not None:
        if key is not None and key != header:
            raise ApiError(422, "the Idempotency-Key header and body.idempotency_key differ")
        key = header
    return key


def _send(
    svc: Services,
    machine_id: str,
    entity_id: str,
    trigger: str,
    body: EventSend,
    key: str | None,
) -> Response:
    served = _served(svc, machine_id)
    unknown = set(body.guards) - set(named_guards(served.definition))
    if unknown:
        raise unknown_guards_error(unknown, served.definition)
    # An unknown entity raises EntityNotFoundError inside (a 404): no extra read here.
    # The answer's entity is the one this event committed (or saw), never a re-read:
    # another request's event may commit as soon as the writer lock is released.
    with svc.writer, supplying(body.guards):
        outcome = served.orchestrator.process_event_outcome(
            entity_id, trigger, body.context, idempotency_key=key
        )
    result, record = outcome.result, outcome.entity
    reason = result.metadata.get("reason")
    if reason == "context_too_large":
        assert result.error is not None
        raise _context_too_large(result.error.message)
    if reason == "context_validation":
        # The context the event would leave breaks the machine's contract: the caller's
        # payload is wrong, as for a new entity's context (a 422 naming the fields).
        assert result.error is not None
        raise context_error(result.error.message, result.metadata.get("errors", ()))
    if record is None:  # a replayed key of an entity deleted since
        raise _entity_not_found(machine_id, entity_id)
    answer = EventResponse(result=result, entity=entity_out(served, record))
    return Response(answer.model_dump_json(), media_type="application/json")


def build(principal: Callable[..., Awaitable[Principal]], route_class: type) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/machines/{machine_id}/entities",
        tags=["entities"],
        route_class=route_class,
        dependencies=[Depends(principal)],
    )

    @router.post(
        "",
        response_model=EntityOut,
        status_code=201,
        summary="Create an entity in the initial state (or initial_state)",
        description="A context that breaks the machine's context contract (its context "
        "model, or its 'context' section with meta.validate_context) is a 422 naming the "
        "fields, nothing stored. With a context model the stored context is the validated "
        "one (defaults filled in, values coerced).",
        responses=responses(400, 401, 403, 404, 409, 413, 422),
    )
    def create_entity(machine_id: MachineIdPath, body: EntityCreate, svc: ServicesDep) -> EntityOut:
        served = _served(svc, machine_id)
        entity_id = body.entity_id or uuid.uuid4().hex
        try:
            record = served.orchestrator.create_entity(
                entity_id, body.context, initial_state=body.initial_state
            )
        except StaleVersionError:
            raise ApiError(
                409, f"entity '{entity_id}' of machine '{machine_id}' exists already"
            ) from None
        except ContextTooLargeError as exc:
            raise _context_too_large(exc.message) from None
        except ContextValidationError as exc:
            raise context_error(exc.message, exc.errors) from None
        return entity_out(served, record)

    @router.get(
        "",
        response_model=EntityPage,
        summary="List entities, optionally only those in one state",
        description="'state' matches the stored configuration exactly (a leaf state name, "
        "or a parallel configuration string).",
        responses=responses(401, 403, 404, 422),
    )
    def list_entities(
        machine_id: MachineIdPath,
        svc: ServicesDep,
        state: Annotated[str | None, Query(min_length=1, max_length=10_000)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    ) -> EntityPage:
        served = _served(svc, machine_id)
        page = served.orchestrator.list_entities(state=state, limit=limit, offset=offset)
        return EntityPage(
            items=[entity_out(served, r) for r in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.get(
        "/{entity_id}",
        response_model=EntityOut,
        summary="Read an entity: state, context, version, timers",
        responses=responses(401, 403, 404, 422),
    )
    def get_entity(
        machine_id: MachineIdPath, entity_id: EntityIdPath, svc: ServicesDep
    ) -> EntityOut:
        served = _served(svc, machine_id)
        record = served.orchestrator.get_entity(entity_id)
        if record is None:
            raise _entity_not_found(machine_id, entity_id)
        return entity_out(served, record)

    @router.delete(
        "/{entity_id}",
        status_code=204,
        summary="Delete an entity and its history",
        responses=responses(401, 403, 404, 422),
    )
    def delete_entity(
        machine_id: MachineIdPath, entity_id: EntityIdPath, svc: ServicesDep
    ) -> Response:
        served = _served(svc, machine_id)
        if not served.orchestrator.delete_entity(entity_id):  # and cancels its timers
            raise _entity_not_found(machine_id, entity_id)
        return Response(status_code=204)

    @router.post(
        "/{entity_id}/events",
        response_model=EventResponse,
        summary="Send an event to an entity",
        description=EVENT_DESCRIPTION,
        responses=responses(400, 401, 403, 404, 409, 413, 422),
    )
    def send_event(
        machine_id: MachineIdPath,
        entity_id: EntityIdPath,
        body: EventRequest,
        svc: ServicesDep,
        idempotency_header: IdempotencyHeader = None,
    ) -> Response:
        return _send(svc, machine_id, entity_id, body.trigger, body, _key(body, idempotency_header))

    @router.post(
        "/{entity_id}/events/{trigger}",
        response_model=EventResponse,
        summary="Send one trigger to an entity",
        description="The same as POST .../events with the trigger in the path, so each trigger "
        "can be documented with its payload: GET /api/v1/machines/{machine_id}/openapi.json "
        "describes this operation once per trigger of the machine. " + EVENT_DESCRIPTION,
        responses=responses(400, 401, 403, 404, 409, 413, 422),
    )
    def send_trigger(
        machine_id: MachineIdPath,
        entity_id: EntityIdPath,
        trigger: TriggerPath,
        svc: ServicesDep,
        body: EventSend | None = None,
        idempotency_header: IdempotencyHeader = None,
    ) -> Response:
        body = body if body is not None else EventSend()
        return _send(svc, machine_id, entity_id, trigger, body, _key(body, idempotency_header))

    @router.get(
        "/{entity_id}/history",
        response_model=HistoryPage,
        summary="Committed transitions of an entity, oldest first",
        responses=responses(401, 403, 404, 422),
    )
    def get_history(
        machine_id: MachineIdPath,
        entity_id: EntityIdPath,
        svc: ServicesDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    ) -> HistoryPage:
        served = _served(svc, machine_id)
        if served.orchestrator.get_entity(entity_id) is None:
            raise _entity_not_found(machine_id, entity_id)
        items = served.orchestrator.get_history(entity_id, limit=limit, offset=offset)
        return HistoryPage(items=items, limit=limit, offset=offset)

    return router
