"""What every benchmarked library provides: one adapter per library, one method per scenario.

An adapter builds everything it needs (machines, models, entities) when a method is called
and returns a ``Runner`` whose loop is the only thing timed. A method raises
``NotExpressible`` when its library cannot express the scenario; the report prints "n/a" with
the reason instead of a figure.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from benchmarks.shapes import Shape
from benchmarks.timing import Batch, Runner


class NotExpressible(Exception):
    """This library cannot express the scenario; the message says why."""


class BenchmarkSetupError(RuntimeError):
    """An adapter's machine did not behave as the scenario expects: its figure would lie."""


def expect(condition: bool, message: str) -> None:
    """Refuse to time a machine that does not do what the scenario says."""
    if not condition:
        raise BenchmarkSetupError(message)


def distribution_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


class Library(ABC):
    """One benchmarked library."""

    name: str
    """Shown in the report."""
    distribution: str
    """Its distribution name, for the version."""
    import_statement: str
    """What the import-time scenario runs in a fresh interpreter: everything the scenarios use
    (for a peer, its core and the module that builds a machine from plain data)."""

    @property
    def version(self) -> str:
        return distribution_version(self.distribution)

    @abstractmethod
    def guarded_runner(self, shape: Shape, context: Mapping[str, Any]) -> Runner:
        """Each operation fires one transition whose named guard passes on ``context``."""

    @abstractmethod
    def send_runner(self, shape: Shape) -> Runner:
        """Each operation sends ``go`` to one live entity, which changes state."""

    @abstractmethod
    def hierarchical_runner(self, shape: Shape) -> Runner:
        """Each operation takes ``go`` from a nested leaf through the least common ancestor."""

    @abstractmethod
    def ring_runner(self, shape: Shape) -> Runner:
        """Each operation takes ``t0`` once around the ring (one state further)."""

    @abstractmethod
    def region_runner(self, shape: Shape) -> Runner:
        """Each operation sends ``go`` to the parallel state's configuration: region ``r1``
        moves, the other regions stay."""

    @abstractmethod
    def enter_runner(self, shape: Shape) -> Runner | Batch:
        """Each operation takes ``enter`` from ``OUTSIDE`` into the parallel state, entering
        every region (a ``Batch`` of entities sitting in ``OUTSIDE`` for a stateful library)."""

    @abstractmethod
    def exit_runner(self, shape: Shape) -> Runner | Batch:
        """Each operation takes ``leave`` from the parallel state to ``OUTSIDE``, exiting every
        region (a ``Batch`` of entities sitting in the parallel state for a stateful library)."""

    @abstractmethod
    def round_trip_runner(self, shape: Shape) -> Runner:
        """Each operation takes ``enter`` then ``leave``: into the parallel state and out of
        it again, on one entity."""

    @abstractmethod
    def load_input(self, shape: Shape) -> Any:
        """Fresh plain data in the library's own dialect (made outside the timed region)."""

    @abstractmethod
    def load(self, data: Any) -> object:
        """Build (and validate, as far as the library does) a machine from ``data``."""

    @abstractmethod
    def entity_factory(self, shape: Shape, context: Mapping[str, Any]) -> Callable[[], object]:
        """A callable making one live entity in the initial state with a copy of ``context``."""
