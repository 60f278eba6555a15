"""Read ``<transition>`` elements as the definition's transitions.

=================================  ============================================================
SCXML                              PyStator
=================================  ============================================================
``event="a b"``                    one transition per event (``trigger: a``, ``trigger: b``)
no ``event``                       ``auto: true`` (an eventless transition)
the event of a timer ``<send>``    ``after`` (see ``timers``); ``ps:trigger`` the trigger
``cond="expr"``                    ``guards: [{expr: ...}]``; ``ps:guards`` the whole list
``target="X"``                     ``dest: X`` (several targets: refused)
``type="internal"``                ``internal: true`` when SCXML's rule makes it internal:
                                   targetless, or every target a proper descendant of the
                                   source; else SCXML takes it as external, and so does this
executable content                 ``actions`` (and ``assign``), see ``content``
=================================  ============================================================

Event names: PyStator's triggers are exact names (letters, digits, ``_``) or
``done.state.X``. SCXML matches descriptors by prefix (``go`` also matches ``go.fast``);
since no PyStator event has a dot, a descriptor that is a trigger name matches the same
events in both. A trailing ``.*`` means the same as none. ``*`` (any event), other dotted
descriptors (``error.execution``, ``done.invoke``) and ``done``/``done.state`` (every done
event) have no PyStator form and are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pystator.errors import ConfigIssue
from pystator.loaders.scxml.content import expression_issue, unknown_attributes
from pystator.loaders.scxml.conventions import after_value, delay_value, join_exprs, json_value
from pystator.loaders.scxml.records import TransitionRecord
from pystator.models.definition import TRIGGER_PATTERN

_TRIGGER = re.compile(TRIGGER_PATTERN)
_ATTRS = frozenset({"event", "cond", "target", "type"})
_PS = frozenset(
    {"index", "source", "trigger", "guards", "dest", "priority", "region", "description"}
    | {"timeout"}
)
_UNNUMBERED = math.inf

Built = tuple[dict[str, Any], dict[str, int]]
"""A transition's data, and the line of each of its paths (relative: ``""``,
``.actions[0]``)."""


def build_transitions(
    records: list[TransitionRecord],
    parents: Mapping[str, str | None],
    issues: list[ConfigIssue],
) -> list[Built]:
    """The definition's transitions, in its order: by ``ps:index`` (a transition written in
    several states once, from its first copy), else in document order."""
    built: list[tuple[tuple[float, int, int], dict[str, Any], dict[str, int]]] = []
    for record in records:
        element = record.element
        issues.extend(unknown_attributes(element, _ATTRS, _PS))
        if "timeout" in element.ps:
            _timeout(record, issues)
            continue
        base = _base(record, parents, issues)
        index = _index(record, issues)
        lines = {"": element.line}
        lines.update({f".actions[{k}]": line for k, (_, line) in enumerate(record.content.items)})
        if record.content.assign_line:
            lines[".assign"] = record.content.assign_line
        for sub, start in enumerate(_starts(record, index, issues)):
            built.append(((index, record.order, sub), {**start, **base}, lines))
    built.sort(key=lambda item: item[0])
    out: list[Built] = []
    seen: set[float] = set()
    for (index, _, _), data, lines in built:
        if index != _UNNUMBERED:
            if index in seen:
                continue  # another copy of a transition with several sources
            seen.add(index)
        out.append((data, lines))
    return out


def _index(record: TransitionRecord, issues: list[ConfigIssue]) -> float:
    text = record.element.ps.get("index")
    if text is None:
        return _UNNUMBERED
    if not text.isdigit():
        issues.append(
            ConfigIssue(f"line {record.element.line}", f"ps:index '{text}' is not a number")
        )
        return _UNNUMBERED
    return int(text)


def _starts(
    record: TransitionRecord, index: float, issues: list[ConfigIssue]
) -> list[dict[str, Any]]:
    """What starts the transition: a trigger per event, ``after``, or ``auto``."""
    line = record.element.line
    trigger = record.element.ps.get("trigger")
    if record.send is not None:
        try:
            exact = record.send.exact
            after = after_value(exact) if exact is not None else delay_value(record.send.delay)
        except ValueError as exc:
            issues.append(ConfigIssue(f"line {record.send.line}", str(exc)))
            return []
        event = record.events[0]
        if trigger is None and _TRIGGER.match(event):
            trigger = event
        return [{"after": after} | ({"trigger": trigger} if trigger is not None else {})]
    if trigger is not None:
        issues.append(
            ConfigIssue(
                f"line {line}", "ps:trigger belongs to a delayed transition (a timer's event)"
            )
        )
    if not record.events:
        return [{"auto": True}]
    if len(record.events) > 1 and index != _UNNUMBERED:
        issues.append(ConfigIssue(f"line {line}", "a transition with ps:index has one event"))
    starts = []
    for descriptor in record.events:
        problem = _event_problem(descriptor)
        if problem is not None:
            issues.append(
                ConfigIssue(
                    f"line {line}", f"<transition event='{descriptor}'> is not supported: {problem}"
                )
            )
        else:
            starts.append({"trigger": descriptor})
    return starts


def _event_problem(descriptor: str) -> str | None:
    """Why an event descriptor has no PyStator form, or ``None``."""
    if _TRIGGER.match(descriptor):
        return None
    if descriptor == "*":
        return "a transition on any event has no PyStator form: triggers are exact names"
    if descriptor in ("done", "done.state"):
        return "it matches every done event by prefix; name the state: done.state.<STATE>"
    if descriptor.split(".")[0] in ("error", "done"):
        return "PyStator raises no such event"
    return (
        "PyStator's triggers are names (letters, digits and _, starting with a letter) or "
        f"done.state.<STATE>, and SCXML would also match every event starting with "
        f"'{descriptor}.'"
    )


def _base(
    record: TransitionRecord, parents: Mapping[str, str | None], issues: list[ConfigIssue]
) -> dict[str, Any]:
    """Everything but what starts it: source, dest, internal, guards, actions and the rest."""
    element = record.element
    ps = element.ps
    line = element.line
    data: dict[str, Any] = {"source": _source(record, issues)}
    data.update(_target(record, parents, issues))
    guards = _guards(record, issues)
    if guards:
        data["guards"] = guards
    actions = [item for item, _ in record.content.items]
    if actions:
        data["actions"] = actions
    if record.content.assign_key:
        data["assign"] = record.content.assign_key
    if "priority" in ps:
        try:
            data["priority"] = int(ps["priority"])
        except ValueError:
            issues.append(
                ConfigIssue(f"line {line}", f"ps:priority '{ps['priority']}' is not a whole number")
            )
    for key in ("region", "description"):
        if key in ps:
            data[key] = ps[key]
    return data


def _target(
    record: TransitionRecord, parents: Mapping[str, str | None], issues: list[ConfigIssue]
) -> dict[str, Any]:
    """``dest`` and ``internal``: SCXML's internal rule (targetless, or a target inside the
    source); ``ps:dest`` is the dest of a PyStator internal transition to its own source,
    written targetless (which is what it does)."""
    element = record.element
    line = element.line
    found: dict[str, Any] = {}
    targets = element.attrs.get("target", "").split()
    if len(targets) > 1:
        issues.append(
            ConfigIssue(
                f"line {line}",
                f"<transition target='{' '.join(targets)}'> is not supported: a PyStator "
                "transition has one dest",
            )
        )
    if targets and "dest" in element.ps:
        issues.append(
            ConfigIssue(f"line {line}", "ps:dest belongs to a transition without a target")
        )
    dest = targets[0] if targets else element.ps.get("dest")
    if dest is not None:
        found["dest"] = dest
    kind = element.attrs.get("type")
    if kind not in (None, "internal", "external"):
        issues.append(ConfigIssue(f"line {line}", f"type '{kind}' is 'internal' or 'external'"))
    if kind == "internal" and (not targets or _below(targets[0], record.source, parents)):
        found["internal"] = True
    return found


def _source(record: TransitionRecord, issues: list[ConfigIssue]) -> Any:
    text = record.element.ps.get("source")
    if text is None or text == "*":
        return text or record.source
    try:
        return json_value(text, "ps:source")
    except ValueError as exc:
        issues.append(ConfigIssue(f"line {record.element.line}", str(exc)))
        return record.source


def _guards(record: TransitionRecord, issues: list[ConfigIssue]) -> list[Any]:
    element = record.element
    line = element.line
    cond = element.attrs.get("cond")
    if cond is not None:
        issue = expression_issue(cond, "cond", line)
        if issue is not None:
            issues.append(issue)
    if "guards" not in element.ps:
        return [] if cond is None else [{"expr": cond}]
    try:
        guards = json_value(element.ps["guards"], "ps:guards")
    except ValueError as exc:
        issues.append(ConfigIssue(f"line {line}", str(exc)))
        return []
    if not isinstance(guards, list):
        issues.append(ConfigIssue(f"line {line}", "ps:guards is a JSON list of guards"))
        return []
    exprs = [g["expr"] for g in guards if isinstance(g, dict) and isinstance(g.get("expr"), str)]
    if cond != join_exprs(exprs):
        issues.append(
            ConfigIssue(
                f"line {line}",
                "cond does not match the expr guards of ps:guards: change both, or drop "
                "ps:guards to keep only cond",
            )
        )
    return guards


def _below(target: str, source: str, parents: Mapping[str, str | None]) -> bool:
    """Whether ``target`` is a proper descendant of ``source`` (SCXML's internal rule)."""
    current = parents.get(target)
    while current is not None:
        if current == source:
            return True
        current = parents.get(current)
    return False


def _timeout(record: TransitionRecord, issues: list[ConfigIssue]) -> None:
    """A state's ``timeout``: the transition on its timer's event, marked ``ps:timeout``."""
    element = record.element
    line = element.line
    owner = record.owner
    targets = element.attrs.get("target", "").split()
    plain = set(element.attrs) <= {"event", "target"} and set(element.ps) == {"timeout"}
    if owner is None or len(targets) != 1 or not plain or record.content.items:
        issues.append(
            ConfigIssue(
                f"line {line}",
                "a ps:timeout transition takes its state's timer event to one target, with "
                "nothing else",
            )
        )
        return
    try:
        seconds = float(element.ps["timeout"])
    except ValueError:
        issues.append(
            ConfigIssue(
                f"line {line}", f"ps:timeout '{element.ps['timeout']}' is not a number of seconds"
            )
        )
        return
    owner.data["timeout"] = {"seconds": seconds, "destination": targets[0]}
    owner.timeout_line = line
