"""Stored machines: ``/api/v1/machines`` and ``/api/v1/machines/{machine_id}``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from pystator.api.auth import Principal
from pystator.api.catalog import MachineExistsError, MachineRenameError, MachineRow, summary_fields
from pystator.api.definitions import BodySize, checked_machine
from pystator.api.machine_openapi import machine_openapi
from pystator.api.problems import ApiError, responses
from pystator.api.schemas import (
    MACHINE_ID_PATTERN,
    DefinitionInput,
    MachineDetail,
    MachineOut,
    MachinePage,
    MachineSchemas,
    MachineSummary,
)
from pystator.api.services import ServicesDep
from pystator.loaders import definition_from_data
from pystator.runtime.machine import StateMachine

MachineIdPath = Annotated[
    str,
    Path(
        pattern=MACHINE_ID_PATTERN,
        max_length=200,
        description="The machine's id (its meta.machine_name).",
    ),
]


def timestamp(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def machine_out(row: MachineRow) -> MachineOut:
    return MachineOut(
        id=row.id,
        name=row.name,
        version=row.version,
        revision=row.revision,
        description=row.description,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
    )


def machine_detail(row: MachineRow, machine: StateMachine | None = None) -> MachineDetail:
    """The stored machine ``row``; ``machine`` is its compiled form when the caller has it
    (else the stored definition is compiled again)."""
    config = json.loads(row.definition)
    if machine is None:
        machine = StateMachine.from_definition(definition_from_data(config))
    return MachineDetail(
        **machine_out(row).model_dump(),
        config=config,
        summary=MachineSummary(**summary_fields(machine.definition, machine)),
    )


def not_found(machine_id: str) -> ApiError:
    return ApiError(404, f"machine '{machine_id}' does not exist")


def build(principal: Callable[..., Awaitable[Principal]], route_class: type) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/machines",
        tags=["machines"],
        route_class=route_class,
        dependencies=[Depends(principal)],
    )

    @router.get(
        "",
        response_model=MachinePage,
        summary="List stored machines",
        responses=responses(401, 403, 422),
    )
    def list_machines(
        svc: ServicesDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    ) -> MachinePage:
        rows, total = svc.catalog.page(limit=limit, offset=offset)
        return MachinePage(
            items=[machine_out(r) for r in rows], total=total, limit=limit, offset=offset
        )

    @router.post(
        "",
        response_model=MachineDetail,
        status_code=201,
        summary="Store a machine",
        description="The definition is validated first; its meta.machine_name becomes the "
        "machine's id (409 when a machine of that name is stored).",
        responses=responses(400, 401, 403, 409, 413, 422),
    )
    def create_machine(body: DefinitionInput, svc: ServicesDep, size: BodySize) -> MachineDetail:
        with svc.parses.slot(size):
            machine = checked_machine(body)
        definition = machine.definition
        try:
            row = svc.catalog.create(definition)
        except MachineExistsError:
            raise ApiError(
                409,
                f"machine '{definition.meta.machine_name}' exists already: PUT "
                f"/api/v1/machines/{definition.meta.machine_name} to change it",
            ) from None
        return machine_detail(row, machine)

    @router.get(
        "/{machine_id}",
        response_model=MachineDetail,
        summary="Read a stored machine",
        responses=responses(401, 403, 404, 422),
    )
    def get_machine(machine_id: MachineIdPath, svc: ServicesDep) -> MachineDetail:
        served = svc.served(machine_id)  # compiled once per stored copy, then cached
        if served is None:
            raise not_found(machine_id)
        return machine_detail(served.row, served.machine)

    @router.get(
        "/{machine_id}/schema",
        response_model=MachineSchemas,
        summary="JSON Schemas of a machine's context and event payloads",
        description="What entity contexts and event payloads of this machine are checked "
        "against: the context model or 'context' section, and each trigger's declared payload.",
        responses=responses(401, 403, 404, 422),
    )
    def get_schemas(machine_id: MachineIdPath, svc: ServicesDep) -> MachineSchemas:
        served = svc.served(machine_id)
        if served is None:
            raise not_found(machine_id)
        machine = served.machine
        return MachineSchemas(
            machine_id=machine_id,
            context=machine.context_schema(),
            events=machine.event_schemas(),
        )

    @router.get(
        "/{machine_id}/openapi.json",
        response_model=dict[str, Any],
        summary="OpenAPI document of a machine's entities, typed",
        description="The entity operations of this machine, with its context schema in "
        "'create' and one 'send' operation per trigger with the trigger's payload schema. "
        "Browse it at /docs?machine={machine_id}.",
        responses=responses(401, 403, 404, 422),
    )
    def get_openapi(machine_id: MachineIdPath, svc: ServicesDep, request: Request) -> Response:
        served = svc.served(machine_id)
        if served is None:
            raise not_found(machine_id)
        document = machine_openapi(request.app.openapi(), machine_id, served.machine)
        return JSONResponse(document)

    @router.put(
        "/{machine_id}",
        response_model=MachineDetail,
        summary="Replace a stored machine's definition",
        description="A definition that does not validate is a 422 and changes nothing. "
        "meta.machine_name must stay the same (entities are stored under it).",
        responses=responses(400, 401, 403, 404, 409, 413, 422),
    )
    def put_machine(
        machine_id: MachineIdPath, body: DefinitionInput, svc: ServicesDep, size: BodySize
    ) -> MachineDetail:
        if svc.catalog.get(machine_id) is None:
            raise not_found(machine_id)
        with svc.parses.slot(size):
            machine = checked_machine(body)
        try:
            row = svc.catalog.update(machine_id, machine.definition)
        except MachineRenameError as exc:
            raise ApiError(
                409,
                f"meta.machine_name is '{exc.args[0]}' but this machine is '{machine_id}': a "
                "machine cannot be renamed (POST a new one instead)",
            ) from None
        if row is None:
            raise not_found(machine_id)
        return machine_detail(row, machine)

    @router.delete(
        "/{machine_id}",
        status_code=204,
        summary="Delete a stored machine and its entities",
        responses=responses(401, 403, 404, 422),
    )
    def delete_machine(machine_id: MachineIdPath, svc: ServicesDep) -> Response:
        if not svc.delete(machine_id):
            raise not_found(machine_id)
        return Response(status_code=204)

    return router
