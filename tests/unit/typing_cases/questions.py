# ruff: noqa: E501
# fmt: off
"""Checked by mypy (with ``plugins = pydantic.mypy, pystator.mypy``), never run: the questions
of issue 16 (``can``, ``acan``, ``allowed_triggers``, ``aallowed_triggers``) are real members of
a class machine's session, typed, and the plugin still rejects a misspelt one.

A line whose trailing comment is ``E: <message>`` must give exactly that error, ``N: <text>``
that note; every other line must pass ``mypy --strict``.
"""

from __future__ import annotations

from typing import Any, reveal_type

from pystator import Machine, State, StateMachine


class Door(Machine):
    CLOSED = State(initial=True)
    OPENED = State()

    open = CLOSED.to(OPENED, guards=["unlocked"])
    close = OPENED.to(CLOSED)

    def unlocked(self, ctx: dict[str, Any]) -> bool:
        return not ctx.get("locked", False)


async def questions() -> None:
    door = Door.create()
    reveal_type(door.can("open", locked=True))  # N: Revealed type is "bool"
    reveal_type(door.allowed_triggers)  # N: Revealed type is "list[str]"
    reveal_type(await door.acan("open"))  # N: Revealed type is "bool"
    reveal_type(await door.aallowed_triggers())  # N: Revealed type is "list[str]"
    door.can(trigger="open")  # E: Too few arguments for "can" of "EntitySession"  [call-arg]
    door.cann("open")  # E: Session of "Door" has no attribute "cann"  [attr-defined]
    machine: StateMachine = Door.machine()
    reveal_type(machine.allowed_triggers("CLOSED", {}))  # N: Revealed type is "list[str]"
    reveal_type(machine.can("CLOSED", "open", {}, payload={"locked": True}))  # N: Revealed type is "bool"
