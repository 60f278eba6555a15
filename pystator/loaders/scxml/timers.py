"""Read SCXML's delayed-event idiom as PyStator's delayed transitions.

SCXML delays with ``<send event="E" delay="5s"/>``: the event reaches the machine when due,
whatever state it is in then, and any transition matching ``E`` may take it; ``<cancel>``
stops it. PyStator's ``after`` is a timer of its source state: armed on entry, cancelled on
exit, and when it fires it takes exactly its transition. The two mean the same when the
``<send>`` sits in a state's ``<onentry>`` and ``E`` is taken only by one transition of that
same state; that is what ``match_timers`` accepts (the transition becomes ``after: 5s``), and
anything else is refused with the reason:

* ``E`` is taken by a transition of another state, or by several of this state, or only by
  prefix (``timer`` matches ``timer.a``), or it is also raised with ``<raise>``;
* several states send ``E`` (each with its own transition) without a ``<cancel>`` in their
  ``<onexit>``, or states that can be active together (one inside the other, or in two
  regions of a parallel state): a late or shared event could fire another state's
  transition.

A single state's ``<send>`` without ``<cancel>`` is accepted: SCXML would still deliver the
event after the state was left, where nothing takes it, or, if the state was entered again
in the meantime, early; PyStator's timer is cancelled on exit (``docs/scxml.md`` says so).
"""

from __future__ import annotations

from collections.abc import Mapping

from pystator.errors import ConfigIssue
from pystator.loaders.scxml.content import Send
from pystator.loaders.scxml.records import StateRecord, TransitionRecord


def _matches(descriptor: str, event: str) -> bool:
    """SCXML's event matching: a descriptor matches the event and its dotted extensions."""
    return descriptor == "*" or event == descriptor or event.startswith(descriptor + ".")


def match_timers(
    states: list[StateRecord],
    transitions: list[TransitionRecord],
    raised: set[str],
    parents: Mapping[str, str | None],
    parallels: set[str],
    issues: list[ConfigIssue],
) -> None:
    """Pair each state's timer ``<send>`` with the transition that takes its event (setting
    the transition's ``send`` and ``owner``), or report why they cannot be paired."""
    by_event: dict[str, list[tuple[StateRecord, Send, bool]]] = {}
    for record in states:
        ids = {send.id for send in record.entry.sends if send.id is not None}
        cancelled = set()
        for sendid, line in record.exit.cancels:
            if sendid in ids:
                cancelled.add(sendid)
            else:
                issues.append(
                    ConfigIssue(
                        f"line {line}",
                        f"<cancel sendid='{sendid}'> cancels no <send> of the <onentry> of "
                        f"'{record.name}': only a state's own delayed transition can be "
                        "cancelled",
                    )
                )
        for send in record.entry.sends:
            by_event.setdefault(send.event, []).append((record, send, send.id in cancelled))
    for event, sends in by_event.items():
        _pair(event, sends, transitions, raised, parents, parallels, issues)


def _pair(
    event: str,
    sends: list[tuple[StateRecord, Send, bool]],
    transitions: list[TransitionRecord],
    raised: set[str],
    parents: Mapping[str, str | None],
    parallels: set[str],
    issues: list[ConfigIssue],
) -> None:
    record, send, _ = sends[0]
    where = f"event '{event}' (sent with a delay in state '{record.name}', line {send.line})"
    handlers = [t for t in transitions if any(_matches(d, event) for d in t.events)]
    senders = {r.name for r, _, _ in sends}
    problem = None
    stray = [t for t in handlers if t.source not in senders or t.events != [event]]
    if event in raised:
        problem = f"{where} is also raised with <raise>: a delayed transition's event is its own"
    elif stray:
        problem = (
            f"{where} is also taken by the transition at line {stray[0].element.line} "
            f"(state '{stray[0].source}'): a PyStator delayed transition is taken only by its "
            "own state's timer; give each timer an event of its own"
        )
    else:
        problem = _shared_event_problem(where, sends, handlers, parents, parallels)
    if problem is not None:
        issues.append(ConfigIssue(f"line {send.line}", problem))
        return
    for owner, timer, _ in sends:
        (handler,) = [t for t in handlers if t.source == owner.name]
        handler.send = timer
        handler.owner = owner


def _shared_event_problem(
    where: str,
    sends: list[tuple[StateRecord, Send, bool]],
    handlers: list[TransitionRecord],
    parents: Mapping[str, str | None],
    parallels: set[str],
) -> str | None:
    seen: set[str] = set()
    for owner, _, _ in sends:
        count = sum(1 for t in handlers if t.source == owner.name)
        if owner.name in seen:
            return f"{where} is sent twice by state '{owner.name}'"
        seen.add(owner.name)
        if count != 1:
            return (
                f"{where} is taken by {count} transitions of state '{owner.name}': a PyStator "
                "delayed transition is one transition with one timer"
            )
    if len(sends) == 1:
        return None
    names = ", ".join(f"'{owner.name}'" for owner, _, _ in sends)
    if not all(cancelled for _, _, cancelled in sends):
        return (
            f"{where} is sent with a delay by several states ({names}) without a <cancel> "
            "in their <onexit>: a late event could fire another state's transition; cancel "
            "each on exit (a PyStator delayed transition is cancelled when its state is left)"
        )
    for i, (first, _, _) in enumerate(sends):
        for second, _, _ in sends[i + 1 :]:
            if _together(first.name, second.name, parents, parallels):
                return (
                    f"{where} is sent by states '{first.name}' and '{second.name}', which can "
                    "be active together: their timers would take each other's transitions"
                )
    return None


def _together(a: str, b: str, parents: Mapping[str, str | None], parallels: set[str]) -> bool:
    """Whether states ``a`` and ``b`` can be active at once: one holds the other, or they
    sit in two regions of one parallel state."""
    above_a = _ancestors(a, parents)
    above_b = _ancestors(b, parents)
    if a in above_b or b in above_a:
        return True
    common = next((name for name in above_a if name in set(above_b)), None)
    return common is not None and common in parallels


def _ancestors(name: str, parents: Mapping[str, str | None]) -> list[str]:
    out: list[str] = []
    current = parents.get(name)
    while current is not None:
        out.append(current)
        current = parents.get(current)
    return out
