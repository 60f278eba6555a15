"""What the lint reports: ``Finding`` and the stable codes it can carry.

A finding is a warning about a definition that is valid (it loads and runs) but holds
something that cannot be meant: a state nothing enters, a transition that can never be
selected, a name nothing answers to. Each has a code from ``CODES`` (stable: tools may match
on it), the path of the definition part it is about (the path style of ``ConfigurationError``
issues: ``states[3]``, ``transitions[5].trigger``), and a message naming the state or trigger
and saying how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

UNREACHABLE_STATE = "unreachable-state"
DEAD_END_STATE = "dead-end-state"
SHADOWED_TRANSITION = "shadowed-transition"
DEAD_TRIGGER = "dead-trigger"
NEVER_DONE = "never-done"
UNREGISTERED_GUARD = "unregistered-guard"
UNREGISTERED_ACTION = "unregistered-action"

CODES: dict[str, str] = {
    UNREACHABLE_STATE: "no sequence of events leads from the initial configuration into the state",
    DEAD_END_STATE: "a state that is not terminal, with no transition out of it or of any "
    "state around it",
    SHADOWED_TRANSITION: "wherever the transition could fire, one the engine tries first has "
    "the same trigger and no guards, or an eventless one with no guards leaves the state first, "
    "so this one is never selected",
    DEAD_TRIGGER: "every transition with the trigger leaves a state that is never entered",
    NEVER_DONE: "a done.state.X transition for a state X that can never complete",
    UNREGISTERED_GUARD: "a named guard that none of the given modules registers",
    UNREGISTERED_ACTION: "an action that none of the given modules registers",
}
"""Every code, with what it means (the lint's documentation lists them the same way)."""

Severity = Literal["warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One lint warning: where (``path``, and ``line`` once known) and what (``message``)."""

    code: str
    """One of ``CODES``."""
    path: str
    """Where in the definition: ``states[3]``, ``transitions[5]``, ``transitions[5].trigger``."""
    message: str
    """What is wrong, naming the state or trigger, and how to fix it."""
    severity: Severity = "warning"
    line: int | None = None
    """The line in the file the definition was read from, when known (``lines.with_lines``)."""

    def with_line(self, line: int | None) -> Finding:
        return replace(self, line=line)

    def __str__(self) -> str:
        return f"{self.path}: {self.code}: {self.message}"

    def to_dict(self) -> dict[str, str | int]:
        """The JSON form: ``{path, code, severity, message}``, plus ``line`` when known."""
        data: dict[str, str | int] = {
            "path": self.path,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }
        if self.line is not None:
            data["line"] = self.line
        return data


def finding(code: str, path: str, message: str) -> Finding:
    """A warning with ``code`` (checked to be one of ``CODES``: a typo must not invent one)."""
    if code not in CODES:
        raise ValueError(f"unknown lint code {code!r}")
    return Finding(code, path, message)
