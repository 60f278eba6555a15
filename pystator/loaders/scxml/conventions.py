"""The forms both directions of the SCXML interchange agree on.

* Timers: a delayed transition ``i`` of source ``S`` is written as SCXML's idiom, a
  ``<send event="_after.S.i" delay="5s" id="_after.S.i"/>`` in ``S``'s ``<onentry>``, its
  ``<cancel sendid>`` in ``<onexit>``, and a transition on that event; a state's timeout the
  same with ``_timeout.S``. The events start with ``_``, which no PyStator trigger can: SCXML
  matches event descriptors by prefix (``go`` also matches ``go.x``), so an event beginning
  with a trigger's name could be taken by that trigger's transitions.
* Delays: SCXML's are CSS2 times (``5s``, ``250ms``, ``.5s``); ``delay_text`` writes one from
  milliseconds and ``delay_value`` reads one back into an ``after`` value.
* Guards: the inline ``expr`` guards of a transition, joined with ``and``, are its ``cond``.
* JSON: params, metadata, guard lists and the context contract travel as compact JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pystator.errors import ConfigurationError
from pystator.loaders.definition_io import parse_json_text
from pystator.models.definition import DURATION_RE, GuardSpec, duration_ms

TYPE_OF_TAG = {"state": "stable", "parallel": "parallel", "final": "terminal", "history": "history"}
"""The state type an SCXML element stands for, when ``ps:type`` does not say another."""

AFTER_EVENT = "_after.{state}.{index}"
TIMEOUT_EVENT = "_timeout.{state}"

_CSS2_TIME = re.compile(r"^\s*(\d*\.?\d+)\s*(ms|s)\s*$")


def after_event(state: str, index: int) -> str:
    """The event (and send id) of delayed transition ``index`` armed by ``state``."""
    return AFTER_EVENT.format(state=state, index=index)


def timeout_event(state: str) -> str:
    """The event (and send id) of ``state``'s timeout."""
    return TIMEOUT_EVENT.format(state=state)


def delay_text(ms: int) -> str:
    """A CSS2 time for ``ms`` milliseconds: ``"5s"`` when whole seconds, else ``"250ms"``."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def after_text(after: int | str) -> tuple[str, str | None]:
    """SCXML's ``delay`` for an ``after`` value, and the exact value when the delay alone
    would not read back as it (``5000``, ``"1.5m"``, ``"2000ms"``); else ``None``."""
    delay = delay_text(duration_ms(after))
    exact = None if after == delay else str(after)
    return delay, exact


def after_value(exact: str) -> int | str:
    """An exact ``after`` written by ``after_text``: digits are milliseconds."""
    return int(exact) if exact.isdigit() else exact


def delay_value(delay: str) -> int | str:
    """The ``after`` value of an SCXML ``delay``: kept as written when PyStator reads it
    (``"5s"``, ``"1.5s"``, ``"250ms"``), else in milliseconds (``".5s"`` -> ``500``).

    Raises ``ValueError`` for anything but a CSS2 time in seconds or milliseconds.
    """
    match = _CSS2_TIME.match(delay)
    if match is None:
        raise ValueError(
            f"delay {delay!r} is not a time: SCXML writes delays as CSS2 times ('5s', '250ms')"
        )
    if DURATION_RE.match(delay):
        duration_ms(delay)  # in range, or ValueError
        return delay.strip()
    number, unit = float(match.group(1)), match.group(2)
    return duration_ms(round(number * (1000 if unit == "s" else 1)))


def seconds_text(seconds: float) -> str:
    """``10.0`` -> ``"10"``; other floats by ``repr`` (which reads back exactly)."""
    return str(int(seconds)) if seconds.is_integer() else repr(seconds)


def cond_of(guards: tuple[str | GuardSpec, ...]) -> str | None:
    """The ``cond`` of a guard list: its ``expr`` guards (see ``join_exprs``)."""
    return join_exprs([g.expr for g in guards if isinstance(g, GuardSpec) and g.expr is not None])


def join_exprs(exprs: list[str]) -> str | None:
    """Expressions joined with ``and``, each in parentheses when there are several; ``None``
    when there is none."""
    if not exprs:
        return None
    if len(exprs) == 1:
        return exprs[0]
    return " and ".join(f"({e})" for e in exprs)


def json_text(value: Any) -> str:
    """Compact JSON (non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def json_value(text: str, where: str) -> Any:
    """Parse the JSON of a PyStator attribute or element; ``where`` names it in the error."""
    try:
        return parse_json_text(text)
    except ConfigurationError as exc:
        raise ValueError(f"{where} is not valid JSON ({exc.issues[0].message})") from None
