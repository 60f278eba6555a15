"""The reference pages keep up with the code: every public name and every definition field is
documented (in a code span or block of the page that should cover it)."""

from __future__ import annotations

import re
import typing
from functools import cache

import pydantic
import pytest

import pystator
from pystator import EntitySession, ErrorCode, MachineDefinition, StateMachine, TransitionResult
from tests.docs.markdown_snippets import ROOT

FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`([^`]+)`")


@cache
def code_text(page: str) -> str:
    """Everything in code spans and fenced blocks of ``docs/<page>``."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    blocks = FENCED.findall(text)
    prose = FENCED.sub("", text)
    return "\n".join([*INLINE_CODE.findall(prose), *blocks])


def mentioned(name: str, page: str) -> bool:
    return (
        re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", code_text(page))
        is not None
    )


def public_members(cls: type) -> list[str]:
    return sorted(n for n in vars(cls) if not n.startswith("_"))


def definition_models() -> list[type[pydantic.BaseModel]]:
    """``MachineDefinition`` and every model reachable from its fields."""
    found: list[type[pydantic.BaseModel]] = []
    todo: list[object] = [MachineDefinition]
    while todo:
        item = todo.pop()
        if isinstance(item, type) and issubclass(item, pydantic.BaseModel):
            if item in found:
                continue
            found.append(item)
            todo.extend(f.annotation for f in item.model_fields.values())
        else:
            todo.extend(typing.get_args(item))
    return found


@pytest.mark.parametrize("name", [n for n in pystator.__all__ if n != "__version__"])
def test_public_name_is_in_api_reference(name: str) -> None:
    assert mentioned(name, "api.md"), f"docs/api.md does not document pystator.{name}"


@pytest.mark.parametrize(
    ("cls", "member"),
    [(cls, m) for cls in (StateMachine, EntitySession) for m in public_members(cls)],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_public_member_is_in_api_reference(cls: type, member: str) -> None:
    assert mentioned(member, "api.md"), f"docs/api.md does not document {cls.__name__}.{member}"


@pytest.mark.parametrize("field", [*TransitionResult.model_fields, "all_actions", "state_changed"])
def test_result_field_is_in_api_reference(field: str) -> None:
    assert mentioned(field, "api.md"), f"docs/api.md does not document TransitionResult.{field}"


@pytest.mark.parametrize("code", [c.value for c in ErrorCode])
def test_error_code_is_in_api_reference(code: str) -> None:
    assert mentioned(code, "api.md")


@pytest.mark.parametrize(
    ("model", "field"),
    [(m, f) for m in definition_models() for f in m.model_fields],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_definition_field_is_in_configuration_reference(
    model: type[pydantic.BaseModel], field: str
) -> None:
    assert mentioned(field, "configuration.md"), (
        f"docs/configuration.md does not document {model.__name__}.{field}"
    )
