"""Swap a speed trick for its plain twin, to measure what the trick is worth.

Every speed trick in PyStator lives in one named module beside a plain twin that computes the
same thing the obvious way (``docs/architecture.md``, "The hot path"). Setting the environment
variable ``PYSTATOR_PLAIN_TWINS`` to a comma-separated list of trick names (or ``all``) makes
those modules use their plain twins instead, from import on::

    PYSTATOR_PLAIN_TWINS=construct python -m benchmarks.stores_bench --only memory

``python -m benchmarks.tricks`` does this for every trick, alternating runs with and without
the twin, and prints what each trick gains on the benchmark row that justifies it. A trick
that gains under 5% there is removed (issue 15). Tests compare each trick with its twin in
the same process; this switch is for measuring only, and never needed in production: the
twins are slower and give the same results.

The tricks, by name (their modules say which rows justify them):

* ``construct``: ``pystator._unvalidated.construct`` (records made without validation);
* ``field_copier``: ``pystator._unvalidated.field_copier`` (a result's per-call copy);
* ``compact_json``: ``pystator._json.compact_iterencode`` (the C JSON encoder called directly);
* ``frozen_records``: ``pystator.stores.frozen_records`` (the memory store's record copies);
* ``private_copy``: ``pystator.runtime.orchestration.record_cache.private_copy``;
* ``result_json``: ``pystator.runtime.orchestration.result_json`` (a result's stored JSON made
  once per shared result, and copied);
* ``held_connections``: ``pystator.stores.redis.connections.HeldConnections`` (a Redis
  connection kept per thread for ``load`` and ``commit``);
* ``psycopg_cursor``: ``pystator.stores.sql.connections.SQLConnections.cursor`` (a psycopg
  cursor kept per thread for the PostgreSQL store's ``load`` and ``commit``);
* ``fast_expr``: ``pystator.engine.expr.fast`` (one-comparison guards, two-operand assigns);
* ``fast_select``: the machine's sync fast path, ``pystator.runtime.fast_select`` (``select``,
  ``attach``, ``model_view``).
"""

from __future__ import annotations

import os

TRICKS = (
    "construct",
    "field_copier",
    "compact_json",
    "frozen_records",
    "private_copy",
    "result_json",
    "held_connections",
    "psycopg_cursor",
    "fast_expr",
    "fast_select",
)
"""Every trick's name, as ``PYSTATOR_PLAIN_TWINS`` takes it."""

ENV = "PYSTATOR_PLAIN_TWINS"


def _requested() -> frozenset[str]:
    names = {name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip()}
    if "all" in names:
        return frozenset(TRICKS)
    unknown = names.difference(TRICKS)
    if unknown:
        raise RuntimeError(
            f"{ENV}: unknown trick(s) {', '.join(sorted(unknown))}; "
            f"the tricks are: {', '.join(TRICKS)} (or all)"
        )
    return frozenset(names)


PLAIN = _requested()
"""The tricks swapped for their plain twins in this process (read once, at import)."""


def use_plain_twin(trick: str) -> bool:
    """Whether ``trick`` (one of ``TRICKS``) runs as its plain twin in this process."""
    if trick not in TRICKS:
        raise ValueError(f"unknown trick {trick!r}; the tricks are: {', '.join(TRICKS)}")
    return trick in PLAIN
