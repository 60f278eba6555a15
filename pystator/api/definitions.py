"""Turning request bodies into definitions, with problems reported under the body's paths.

Parsing a large definition takes memory and CPU (a 1 MiB body can take a few hundred MB and a
second), so ``ParseSlots`` lets only a few large ones be parsed at once: a burst of big bodies
waits its turn instead of taking the process's memory (``docs/tutorial-api.md``, "Settings").
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request

from pystator.api.problems import ApiError, issue_items
from pystator.api.schemas import DefinitionInput, ErrorItem, ValidateRequest, YamlInput
from pystator.api.settings import ApiSettings
from pystator.api.supplied_guards import named_guards
from pystator.errors import ConfigurationError
from pystator.loaders import definition_from_data, load_yaml_string
from pystator.models.definition import MachineDefinition
from pystator.runtime.machine import StateMachine

Body = DefinitionInput | ValidateRequest


class ParseSlots:
    """At most ``slots`` definitions of ``large_bytes`` or more parsed at once.

    A request for a large definition waits up to ``wait_seconds`` for a free slot, then gets
    a 503 with ``Retry-After``; smaller definitions never wait. At most ``max_waiting``
    requests wait at once (each holds a worker thread, and the worker threads are shared
    with every other sync route): one more is answered 503 at once, without waiting.
    ``in_flight`` and ``peak`` count the large parses running now and at most so far,
    ``waiting`` the requests waiting for a slot.
    """

    def __init__(
        self, slots: int, large_bytes: int, wait_seconds: float, max_waiting: int | None = None
    ) -> None:
        self.slots = slots
        self.large_bytes = large_bytes
        self.wait_seconds = wait_seconds
        self.max_waiting = 2 * slots if max_waiting is None else max_waiting
        self._free = threading.BoundedSemaphore(slots)
        self._count = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.waiting = 0

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> ParseSlots:
        return cls(
            settings.max_concurrent_parses,
            settings.large_definition_bytes,
            settings.parse_wait_seconds,
            settings.max_waiting_parses,
        )

    def _busy(self, why: str) -> ApiError:
        retry = min(max(1, round(self.wait_seconds)), 30)
        return ApiError(
            503,
            f"the server is busy parsing {self.slots} large machine definitions{why}: "
            f"retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )

    def _acquire(self) -> None:
        """Take a slot, waiting for one if the waiting room has a place; 503 otherwise."""
        with self._count:
            # Under the lock that releases take too: a slot freed now is seen here.
            acquired = self._free.acquire(blocking=False)
            if not acquired:
                if self.waiting >= self.max_waiting:
                    raise self._busy(f" and {self.waiting} more are waiting")
                self.waiting += 1
        if not acquired:
            try:
                acquired = self._free.acquire(timeout=self.wait_seconds)
            finally:
                with self._count:
                    self.waiting -= 1
            if not acquired:
                raise self._busy("")
        with self._count:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    @contextmanager
    def slot(self, size: int) -> Iterator[None]:
        """Hold a slot while a definition of ``size`` bytes is parsed (none if it is small).

        May block the calling thread while it waits (never more than ``max_waiting`` threads
        at once): call it from a worker thread (a sync route), never from the event loop.
        """
        if size < self.large_bytes:
            yield
            return
        self._acquire()
        try:
            yield
        finally:
            with self._count:
                self.in_flight -= 1
                self._free.release()


async def body_size(request: Request) -> int:
    """The size of the request's body in bytes (already read and kept by the route)."""
    return len(await request.body())


BodySize = Annotated[int, Depends(body_size)]


def parse_definition(body: Body) -> MachineDefinition:
    """The definition in ``body`` (``config`` or ``yaml``); ``ConfigurationError`` if invalid."""
    if isinstance(body, YamlInput):
        return load_yaml_string(body.yaml)
    return definition_from_data(body.config)


def checked_machine(body: Body) -> StateMachine:
    """The machine in ``body``, through every check of ``check_machine`` (the same as
    ``pystator validate`` and ``StateMachine.from_*``); a 422 naming every problem otherwise."""
    where = "body.yaml" if isinstance(body, YamlInput) else "body.config"
    try:
        return StateMachine.from_definition(parse_definition(body))
    except ConfigurationError as exc:
        items = issue_items(exc.issues, where)
        raise ApiError(422, f"invalid machine definition: {exc.issues[0]}", items) from None


def unknown_guards_error(unknown: Iterable[str], definition: MachineDefinition) -> ApiError:
    names = sorted(unknown)
    known = ", ".join(named_guards(definition)) or "none"
    detail = (
        f"'guards' names {len(names)} guard(s) the machine does not have: "
        f"{', '.join(repr(n[:80]) for n in names[:5])} (its named guards: {known})"
    )
    items = [ErrorItem(path=f"body.guards.{n[:80]}", message="no such named guard") for n in names]
    return ApiError(422, detail, items[:20])
