"""``POST /api/v1/validate`` and ``POST /api/v1/process``: definitions in the request, nothing
stored."""

# No "from __future__ import annotations": FastAPI must resolve the local User alias.
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from pystator.api.auth import Principal
from pystator.api.catalog import summary_fields
from pystator.api.definitions import BodySize, parse_definition, unknown_guards_error
from pystator.api.problems import ApiError, issue_items, responses
from pystator.api.schemas import (
    LintWarning,
    MachineSummary,
    ProcessRequest,
    ValidateRequest,
    ValidateResponse,
    YamlInput,
)
from pystator.api.services import Services, ServicesDep
from pystator.api.supplied_guards import named_guards, supplying
from pystator.errors import ConfigurationError
from pystator.models.result import TransitionResult
from pystator.runtime.lint import lint_definition, with_lines
from pystator.runtime.machine import StateMachine


def lint_warnings(machine: StateMachine, text: str | None) -> list[LintWarning]:
    """The lint findings of a valid machine, with their lines in ``text`` when it came as
    YAML (a JSON ``config`` has no lines: the editor finds the path in its own text)."""
    findings = lint_definition(machine.definition, index=machine.index)
    if text is not None:
        findings = with_lines(findings, text)
    return [LintWarning(code=f.code, path=f.path, message=f.message, line=f.line) for f in findings]


def _compiled_in_slot(
    svc: Services, size: int, config: dict[str, Any], key: str | None
) -> StateMachine:
    with svc.parses.slot(size):
        return svc.compiled.get(config, key)


def build(principal: Callable[..., Awaitable[Principal]], route_class: type) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["stateless"], route_class=route_class)
    user_dep = Annotated[Principal, Depends(principal)]

    @router.post(
        "/validate",
        response_model=ValidateResponse,
        summary="Validate a machine definition",
        description="Answers 200 whether the definition is valid or not; 'errors' lists "
        "every problem with its path in the definition. A valid definition also gets its "
        "lint findings in 'warnings' (code, path, message, and the line for YAML text; "
        "see pystator lint).",
        responses=responses(400, 401, 403, 413, 422),
    )
    def validate(
        body: ValidateRequest, user: user_dep, svc: ServicesDep, size: BodySize
    ) -> ValidateResponse:
        try:
            # The checks of StateMachine.from_*, `pystator validate` and the machines directory.
            with svc.parses.slot(size):
                machine = StateMachine.from_definition(parse_definition(body))
                text = body.yaml if isinstance(body, YamlInput) else None
                warnings = lint_warnings(machine, text)
        except ConfigurationError as exc:
            return ValidateResponse(valid=False, errors=issue_items(exc.issues, ""))
        summary = MachineSummary(**summary_fields(machine.definition, machine))
        return ValidateResponse(valid=True, warnings=warnings, summary=summary)

    @router.post(
        "/process",
        response_model=TransitionResult,
        summary="Compute one transition (stateless)",
        description="The result of machine.process(current_state, trigger, context). "
        "Named guards are never assumed: each one the transition needs must have its outcome "
        "in 'guards', or the answer is a 422 naming it. Inline 'expr' guards are evaluated. "
        "A refused event is a 200 with success false and the error in the result.",
        responses=responses(400, 401, 403, 413, 422),
    )
    async def process(
        body: ProcessRequest, svc: ServicesDep, user: user_dep, size: BodySize
    ) -> Response:
        # A small config is looked up on the event loop (its key is cheap); compiling, and
        # everything about a large config, happens in a worker thread, holding a parse slot if
        # the config is large, so neither the event loop nor the process's memory is taken.
        key = svc.compiled.key(body.config) if size < svc.parses.large_bytes else None
        machine = svc.compiled.cached(key) if key is not None else None
        try:
            if machine is None:
                machine = await run_in_threadpool(_compiled_in_slot, svc, size, body.config, key)
        except ConfigurationError as exc:
            items = issue_items(exc.issues, "body.config")
            raise ApiError(422, f"invalid machine definition: {exc.issues[0]}", items) from None
        unknown = set(body.guards) - set(named_guards(machine.definition))
        if unknown:
            raise unknown_guards_error(unknown, machine.definition)
        history = (
            {k: tuple(v) for k, v in body.history.items()} if body.history is not None else None
        )
        with supplying(body.guards):
            result = machine.process(
                body.current_state, body.trigger, body.context, history=history
            )
        return Response(result.model_dump_json(), media_type="application/json")

    return router
