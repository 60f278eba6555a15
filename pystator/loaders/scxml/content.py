"""Executable content both ways: action lists <-> ``<onentry>``/``<onexit>``/``<transition>``
bodies.

=========================================  ==============================================
PyStator action item                       SCXML
=========================================  ==============================================
``{raise: EVENT}``                         ``<raise event="EVENT"/>``
``{assign: {a: "x + 1"}}``                 ``<assign location="a" expr="x + 1"/>``
``{assign: {a: ..., b: ...}}``             one ``<assign>`` per key, the later ones with
                                           ``ps:with-previous="true"`` (one mapping is
                                           computed at once; SCXML's assigns one by one)
a transition's ``assign:`` key             its ``<assign>`` elements with
                                           ``ps:assign-key="true"``, first
``notify`` (a registered action)           ``<ps:action name="notify"/>``
``{name: notify, params: {...}}``          ``<ps:action name="notify" params="{...}"/>``
=========================================  ==============================================

Reading also collects a state's timer idiom (``<send event delay>`` in ``<onentry>``,
``<cancel sendid>`` in ``<onexit>``; see ``conventions``) and refuses everything else SCXML
can run (``<script>``, ``<if>``, ``<foreach>``, ``<log>``, other ``<send>``s, ...) with the
element's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pystator.errors import ConfigIssue
from pystator.loaders.scxml.conventions import json_text, json_value
from pystator.loaders.scxml.xml_io import Element, scxml
from pystator.models.definition import (
    ASSIGN_FIELD_PATTERN,
    ActionItem,
    ActionSpec,
    RaiseSpec,
)

Block = Literal["onentry", "onexit", "transition"]

REFUSED: dict[str, str] = {
    "script": "PyStator runs no code written in a definition; register an action and name "
    "it with <ps:action name=...>",
    "if": "PyStator's executable content has no branches; use guarded transitions "
    "(cond) or an action",
    "elseif": "PyStator's executable content has no branches; use guarded transitions "
    "(cond) or an action",
    "else": "PyStator's executable content has no branches; use guarded transitions "
    "(cond) or an action",
    "foreach": "PyStator's executable content has no loops; use an action",
    "log": "PyStator's executable content does not log; use an action "
    "(<ps:action name=...>) or a hook",
    "invoke": "PyStator machines do not start other services or machines; start them "
    "from an action",
    "finalize": "PyStator machines do not invoke other services",
    "datamodel": "PyStator's data model is the context passed to process(); declare its "
    "keys in the definition's context: section",
    "data": "PyStator's data model is the context passed to process()",
    "donedata": "PyStator's done events carry no data",
    "content": "PyStator's events carry no content",
    "param": "PyStator's events carry no parameters",
}

_SEND_PS = frozenset({"after"})
_ASSIGN_FIELD = re.compile(ASSIGN_FIELD_PATTERN)
# SCXML's system variables and In(): the expression language has neither.
_SYSTEM_VARIABLE = re.compile(r"(?<![\w.])(_event|_sessionid|_name|_ioprocessors|_x)\b")
_IN_PREDICATE = re.compile(r"(?<![\w.])In\s*\(")


def item_elements(
    items: tuple[ActionItem, ...], assign_key: dict[str, str] | None = None
) -> list[Element]:
    """The elements of an action list (a transition's ``assign:`` key first)."""
    out = _assign_elements(assign_key, key=True) if assign_key else []
    for item in items:
        if isinstance(item, str):
            out.append(Element("ps", "action", {"name": item}))
        elif isinstance(item, ActionSpec):
            out.append(
                Element("ps", "action", {"name": item.name, "params": json_text(item.params)})
            )
        elif isinstance(item, RaiseSpec):
            out.append(scxml("raise", event=item.event))
        else:
            out.extend(_assign_elements(item.assign, key=False))
    return out


def _assign_elements(mapping: dict[str, str], *, key: bool) -> list[Element]:
    out: list[Element] = []
    for j, (location, expr) in enumerate(mapping.items()):
        element = scxml("assign", location=location, expr=expr)
        if key:
            element.ps["assign-key"] = "true"
        elif j:
            element.ps["with-previous"] = "true"
        out.append(element)
    return out


# ----------------------------------------------------------------------------------- reading
@dataclass(slots=True)
class Send:
    """``<send event delay [id]>`` in a state's ``<onentry>``: a timer of that state."""

    event: str
    delay: str
    id: str | None
    exact: str | None
    """``ps:after``: the exact ``after`` value, when the delay alone does not give it."""
    line: int


@dataclass(slots=True)
class Content:
    """What a block held: action items (with their lines), a transition's ``assign:`` key,
    and a state's timer sends and cancels."""

    items: list[tuple[Any, int]] = field(default_factory=list)
    assign_key: dict[str, str] = field(default_factory=dict)
    assign_line: int = 0
    sends: list[Send] = field(default_factory=list)
    cancels: list[tuple[str, int]] = field(default_factory=list)


def expression_issue(text: str, what: str, line: int) -> ConfigIssue | None:
    """A problem an SCXML expression has in PyStator beyond its syntax (which the
    expression compiler checks): SCXML's system variables, ``In()``."""
    variable = _SYSTEM_VARIABLE.search(text)
    if variable is not None:
        return ConfigIssue(
            f"line {line}",
            f"{what} reads {variable.group(1)}, one of SCXML's system variables, which "
            "PyStator does not have: an event's payload is laid over the context, so read "
            "its keys by name",
        )
    if _IN_PREDICATE.search(text):
        return ConfigIssue(
            f"line {line}",
            f"{what} calls In(): PyStator's guards read the context, not the configuration",
        )
    return None


def unsupported(element: Element, reason: str) -> ConfigIssue:
    """``line 12: <invoke> is not supported: ...``."""
    return ConfigIssue(f"line {element.line}", f"{element.label} is not supported: {reason}")


def unknown_attributes(
    element: Element, allowed: frozenset[str], allowed_ps: frozenset[str] = frozenset()
) -> list[ConfigIssue]:
    """One issue per attribute of ``element`` PyStator does not read."""
    issues = [
        ConfigIssue(
            f"line {element.line}",
            f"{element.label} attribute '{name}' is not supported",
        )
        for name in element.attrs
        if name not in allowed
    ]
    issues.extend(
        ConfigIssue(
            f"line {element.line}", f"{element.label} attribute 'ps:{name}' is not PyStator's"
        )
        for name in element.ps
        if name not in allowed_ps
    )
    return issues


class ContentReader:
    """Reads the executable content of one block, adding problems to ``issues``."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues

    def read(self, block: Element, kind: Block, content: Content) -> None:
        """Add the items of ``block`` (an ``<onentry>``, ``<onexit>`` or ``<transition>``)
        to ``content``."""
        for element in block.children:
            if element.space == "other":
                continue  # another namespace's data (an editor's): not PyStator's business
            if element.space == "ps":
                self._ps_element(element, content)
            elif element.tag == "raise":
                self._raise(element, content)
            elif element.tag == "assign":
                self._assign(element, kind, content)
            elif element.tag == "send":
                self._send(element, kind, content)
            elif element.tag == "cancel":
                self._cancel(element, kind, content)
            elif element.tag in REFUSED:
                self.issues.append(unsupported(element, REFUSED[element.tag]))
            else:
                self.issues.append(
                    unsupported(
                        element, f"it is not executable content PyStator knows (in <{kind}>)"
                    )
                )

    def _ps_element(self, element: Element, content: Content) -> None:
        if element.tag != "action":
            self.issues.append(unsupported(element, "PyStator's namespace has no such element"))
            return
        self.issues.extend(unknown_attributes(element, frozenset({"name", "params"})))
        name = element.attrs.get("name")
        if name is None:
            self.issues.append(ConfigIssue(f"line {element.line}", "<ps:action> needs a name"))
            return
        if "params" not in element.attrs:
            content.items.append((name, element.line))
            return
        try:
            params = json_value(element.attrs["params"], "<ps:action> params")
        except ValueError as exc:
            self.issues.append(ConfigIssue(f"line {element.line}", str(exc)))
            return
        content.items.append(({"name": name, "params": params}, element.line))

    def _raise(self, element: Element, content: Content) -> None:
        self.issues.extend(unknown_attributes(element, frozenset({"event"})))
        event = element.attrs.get("event")
        if event is None:
            self.issues.append(ConfigIssue(f"line {element.line}", "<raise> needs an event"))
            return
        content.items.append(({"raise": event}, element.line))

    def _assign(self, element: Element, kind: Block, content: Content) -> None:
        line = element.line
        self.issues.extend(
            unknown_attributes(
                element,
                frozenset({"location", "expr"}),
                frozenset({"with-previous", "assign-key"}),
            )
        )
        location, expr = element.attrs.get("location"), element.attrs.get("expr")
        if expr is None:
            self.issues.append(
                unsupported(element, "an <assign> without expr (content) has no PyStator form")
            )
            return
        if location is None or not _ASSIGN_FIELD.match(location):
            self.issues.append(
                ConfigIssue(
                    f"line {line}",
                    f"<assign location={location!r}> is not supported: PyStator assigns "
                    "top-level context keys (letters, digits and _)",
                )
            )
            return
        issue = expression_issue(expr, f"<assign location='{location}'> expr", line)
        if issue is not None:
            self.issues.append(issue)
        self._add_assign(element, kind, content, location, expr)

    def _add_assign(
        self, element: Element, kind: Block, content: Content, location: str, expr: str
    ) -> None:
        line = element.line
        if element.ps.get("assign-key") == "true":
            if kind != "transition":
                self.issues.append(
                    ConfigIssue(f"line {line}", "ps:assign-key belongs to a transition's <assign>")
                )
            content.assign_line = content.assign_line or line
            content.assign_key[location] = expr
            return
        previous = content.items[-1][0] if content.items else None
        if element.ps.get("with-previous") == "true":
            if not (isinstance(previous, dict) and "assign" in previous):
                self.issues.append(
                    ConfigIssue(f"line {line}", "ps:with-previous follows no <assign>")
                )
                return
            if location in previous["assign"]:
                self.issues.append(
                    ConfigIssue(f"line {line}", f"'{location}' is assigned twice in one item")
                )
                return
            previous["assign"][location] = expr
            return
        content.items.append(({"assign": {location: expr}}, line))

    def _send(self, element: Element, kind: Block, content: Content) -> None:
        if kind != "onentry":
            self.issues.append(
                unsupported(
                    element,
                    "only a <send event delay> in a state's <onentry> (a delayed transition, "
                    f"cancelled on exit) has a PyStator form, not one in <{kind}>",
                )
            )
            return
        extra = [name for name in element.attrs if name not in {"event", "delay", "id"}]
        if extra or element.children:
            what = f"attribute '{extra[0]}'" if extra else f"child {element.children[0].label}"
            self.issues.append(
                unsupported(
                    element,
                    f"{what}: only <send event delay [id]>, a delayed event to the machine "
                    "itself (a delayed transition), has a PyStator form",
                )
            )
            return
        self.issues.extend(unknown_attributes(element, frozenset(element.attrs), _SEND_PS))
        event, delay = element.attrs.get("event"), element.attrs.get("delay")
        if event is None or delay is None:
            self.issues.append(
                unsupported(
                    element,
                    "a <send> without both event and delay is not a delayed transition; "
                    "raise internal events with <raise>",
                )
            )
            return
        send = Send(event, delay, element.attrs.get("id"), element.ps.get("after"), element.line)
        content.sends.append(send)

    def _cancel(self, element: Element, kind: Block, content: Content) -> None:
        sendid = element.attrs.get("sendid")
        if kind != "onexit" or sendid is None or len(element.attrs) > 1:
            self.issues.append(
                unsupported(
                    element,
                    "only <cancel sendid> in <onexit>, cancelling the state's own delayed "
                    "<send>, has a PyStator form",
                )
            )
            return
        content.cancels.append((sendid, element.line))
