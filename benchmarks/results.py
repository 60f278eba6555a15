"""The figures of one run: one ``Row`` per measured quantity, one ``Figure`` per library."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

SUBJECT = "pystator"
"""The library under test; every other library with a figure is a peer (or a reference)."""


class Role(Enum):
    SUBJECT = "subject"
    PEER = "peer"
    REFERENCE = "reference"
    """A figure shown for scale that is not a peer (``import pydantic, yaml``)."""


@dataclass(frozen=True, slots=True)
class Unit:
    """How a row's raw values (ns, bytes or a plain ratio) are shown."""

    label: str
    scale: float
    digits: int

    def show(self, raw: float) -> str:
        value = raw * self.scale
        if self.digits == 0:
            return f"{value:,.0f}"
        return f"{value:,.{self.digits}f}"


MICROSECONDS = Unit("µs", 1e-3, 3)
MILLISECONDS = Unit("ms", 1e-6, 2)
BYTES = Unit("bytes", 1.0, 0)
TIMES = Unit("x", 1.0, 2)


@dataclass(frozen=True, slots=True)
class Figure:
    """One library's figure: ``best`` and ``median`` in raw units, or ``None`` with a note."""

    library: str
    best: float | None
    median: float | None = None
    note: str = ""
    role: Role = Role.PEER
    error: bool = False
    """The library failed in a way the scenario did not expect (not a mere 'n/a')."""


@dataclass(frozen=True, slots=True)
class Target:
    """A goal for the subject's figure; ``check`` returns ``None`` when it cannot be judged."""

    text: str
    check: Callable[[Row], bool | None]


@dataclass(slots=True)
class Row:
    key: str
    title: str
    unit: Unit
    how: str
    """How the figure was obtained (what one operation is, the sample sizes)."""
    figures: list[Figure] = field(default_factory=list)
    target: Target | None = None
    versus_reference: bool = False
    """Ratios divide by the row's reference figure instead of the fastest peer's (the unhappy
    paths: by the passing transition measured in the same run)."""

    def get(self, library: str) -> Figure | None:
        return next((f for f in self.figures if f.library == library), None)

    @property
    def subject(self) -> Figure | None:
        return next((f for f in self.figures if f.role is Role.SUBJECT), None)

    @property
    def fastest_peer(self) -> Figure | None:
        """The peer with the lowest ``best`` (lower is better for every row)."""
        measured = [f for f in self.figures if f.role is Role.PEER and f.best is not None]
        return min(measured, key=lambda f: f.best or 0.0, default=None)

    @property
    def baseline(self) -> Figure | None:
        """What ratios divide by: the fastest peer, or the reference (``versus_reference``)."""
        if self.versus_reference:
            return next((f for f in self.figures if f.role is Role.REFERENCE), None)
        return self.fastest_peer

    def ratio(self, figure: Figure) -> float | None:
        """``figure.best`` divided by the baseline's ``best``."""
        base = self.baseline
        if figure.best is None or base is None or not base.best:
            return None
        return figure.best / base.best

    def met(self) -> bool | None:
        return None if self.target is None else self.target.check(self)


def at_most(limit: float) -> Callable[[Row], bool | None]:
    """The subject's best figure is at most ``limit`` raw units."""

    def check(row: Row) -> bool | None:
        subject = row.subject
        if subject is None or subject.best is None:
            return None
        return subject.best <= limit

    return check


def at_most_and_faster(limit: float, factor: float) -> Callable[[Row], bool | None]:
    """``at_most(limit)`` and at least ``factor`` times faster than the fastest peer."""
    within = at_most(limit)

    def check(row: Row) -> bool | None:
        ok = within(row)
        subject = row.subject
        ratio = row.ratio(subject) if subject is not None else None
        if ok is None or ratio is None:
            return None
        return ok and ratio <= 1.0 / factor

    return check


def at_most_times_baseline(factor: float) -> Callable[[Row], bool | None]:
    """The subject's best figure is at most ``factor`` times the baseline's best."""

    def check(row: Row) -> bool | None:
        subject = row.subject
        ratio = row.ratio(subject) if subject is not None else None
        return None if ratio is None else ratio <= factor

    return check
