"""Assemble the records of an SCXML document into the definition's plain data.

The flat ``states`` list is ordered by ``ps:pos`` where the document gives it (an exported
definition whose order differs from document order), else in document order; each state
written there gets its ``parent`` (``ps:parent`` when it differs from the enclosing element).
Transitions come ordered from ``transitions_in``. Every path gets the line of the element it
was read from, for the messages of the checks that run on the data.
"""

from __future__ import annotations

from typing import Any

from pystator.errors import ConfigIssue
from pystator.loaders.scxml.content import unknown_attributes, unsupported
from pystator.loaders.scxml.conventions import json_value
from pystator.loaders.scxml.records import RegionRecord, StateRecord
from pystator.loaders.scxml.transitions_in import Built
from pystator.loaders.scxml.xml_io import Element

_ROOT_ATTRS = frozenset({"version", "name", "initial", "datamodel", "binding"})
_ROOT_PS = frozenset(
    {"version", "strict-mode", "description", "expr-on-missing", "validate-context", "initial"}
)
_DATAMODELS = frozenset({"null", "ecmascript"})


def assemble(
    root: Element,
    name: str | None,
    states: list[StateRecord],
    regions: list[RegionRecord],
    transitions: list[Built],
    issues: list[ConfigIssue],
) -> tuple[dict[str, Any], dict[str, int]]:
    """The definition's dict (meta, states, transitions), and the line of each path."""
    lines: dict[str, int] = {"meta": root.line}
    data: dict[str, Any] = {"meta": _meta(root, name, issues)}
    flat = _flat_states(states, issues)
    data["states"] = [record.data for record in flat]
    for index, record in enumerate(flat):
        record.flat_path = f"states[{index}]"
    for record in states:
        _record_lines(record, lines)
        if record.form == "name" and set(record.data) != {"name"}:
            issues.append(
                ConfigIssue(
                    f"line {record.element.line}",
                    f"state '{record.name}' has fields of its own, but ps:form='name' lists it "
                    "by name alone: drop ps:form",
                )
            )
    for region in regions:
        lines[region.path] = region.element.line
        if not region.data["states"]:
            issues.append(
                ConfigIssue(
                    f"line {region.element.line}",
                    f"region '{region.name}' of <parallel id='{region.owner.name}'> holds no "
                    "state: a PyStator region holds states",
                )
            )
    data["transitions"] = []
    for index, (transition, where) in enumerate(transitions):
        data["transitions"].append(transition)
        for suffix, line in where.items():
            lines[f"transitions[{index}]{suffix}"] = line
    return data, lines


def root_sections(
    elements: list[Element], lines: dict[str, int], issues: list[ConfigIssue]
) -> dict[str, Any]:
    """``context`` and ``events`` from ``<ps:context>`` and ``<ps:events>`` (JSON)."""
    sections: dict[str, Any] = {}
    for element in elements:
        try:
            sections[element.tag] = json_value(element.text, element.label)
        except ValueError as exc:
            issues.append(ConfigIssue(f"line {element.line}", str(exc)))
        lines[element.tag] = element.line
    return sections


def _meta(root: Element, name: str | None, issues: list[ConfigIssue]) -> dict[str, Any]:
    issues.extend(unknown_attributes(root, _ROOT_ATTRS, _ROOT_PS))
    datamodel = root.attrs.get("datamodel")
    if datamodel is not None and datamodel not in _DATAMODELS:
        issues.append(
            unsupported(
                root,
                f"datamodel '{datamodel}': cond and expr are read in PyStator's expression "
                "language (docs/expressions.md)",
            )
        )
    machine_name = root.attrs.get("name", name)
    if machine_name is None:
        issues.append(
            ConfigIssue(f"line {root.line}", "<scxml> needs a name: PyStator machines are named")
        )
    meta: dict[str, Any] = {"machine_name": machine_name}
    initial = _initial(root, issues)
    if initial is not None:
        meta["initial"] = initial
    for attribute, key in (
        ("version", "version"),
        ("description", "description"),
        ("expr-on-missing", "expr_on_missing"),
    ):
        if attribute in root.ps:
            meta[key] = root.ps[attribute]
    for attribute, key in (
        ("strict-mode", "strict_mode"),
        ("validate-context", "validate_context"),
    ):
        value = root.ps.get(attribute)
        if value is not None:
            if value not in ("true", "false"):
                issues.append(
                    ConfigIssue(f"line {root.line}", f"ps:{attribute} is 'true' or 'false'")
                )
            meta[key] = value == "true"
    return meta


def _initial(root: Element, issues: list[ConfigIssue]) -> str | None:
    """``meta.initial``: the ``initial`` of ``<scxml>`` (one state), unless it is marked
    ``ps:initial="implied"`` (written for SCXML readers only)."""
    initial = root.attrs.get("initial")
    implied = root.ps.get("initial")
    if implied not in (None, "implied"):
        issues.append(ConfigIssue(f"line {root.line}", "ps:initial is 'implied' or absent"))
    if initial is None or implied == "implied":
        return None
    if len(initial.split()) != 1:
        issues.append(unsupported(root, f"initial '{initial}' names several states"))
        return None
    return initial.strip()


def _flat_states(states: list[StateRecord], issues: list[ConfigIssue]) -> list[StateRecord]:
    """The states of the definition's flat list, in its order: by ``ps:pos`` where given
    (unnumbered ones after, in document order), else in document order; each with its
    ``parent``."""
    flat = [r for r in states if r.form in (None, "flat", "listed") and (r.form or not r.region)]
    positions: dict[int, StateRecord] = {}
    for record in flat:
        parent = record.element.ps.get("parent", record.parent)
        if parent:
            record.data["parent"] = parent
        pos = record.element.ps.get("pos")
        if pos is None:
            continue
        if not pos.isdigit() or int(pos) in positions:
            issues.append(
                ConfigIssue(f"line {record.element.line}", f"ps:pos '{pos}' is not a new number")
            )
            continue
        record.pos = int(pos)
        positions[record.pos] = record
    for record in states:
        if record.region is not None and record.form is None and "parent" in record.element.ps:
            record.data["parent"] = record.element.ps["parent"]  # an inline state's own field
    return sorted(flat, key=lambda r: (r.pos if r.pos is not None else len(states), r.order))


def _record_lines(record: StateRecord, lines: dict[str, int]) -> None:
    if record.form == "name":
        return
    path = record.path
    lines[path] = record.element.line
    for key, content in (("on_enter", record.entry), ("on_exit", record.exit)):
        for k, (_, line) in enumerate(content.items):
            lines[f"{path}.{key}[{k}]"] = line
    if record.timeout_line:
        lines[f"{path}.timeout"] = record.timeout_line
