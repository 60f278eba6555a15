"""Render the rows of a run: a plain-text report for the terminal and a Markdown table."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence

from benchmarks.library import Library, distribution_version
from benchmarks.results import Figure, Role, Row


def load_average() -> str:
    """The 1-minute load average: other work on the machine inflates every figure."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def environment(libraries: Sequence[Library], load_at_start: str) -> list[tuple[str, str]]:
    """What the figures depend on: CPUs, load, interpreter and library versions."""
    versions = ", ".join(f"{lib.name} {lib.version}" for lib in libraries)
    support = ", ".join(f"{d} {distribution_version(d)}" for d in ("pydantic", "PyYAML"))
    return [
        ("CPUs", str(os.cpu_count())),
        ("load average (1 min)", f"{load_at_start} at start, {load_average()} at end"),
        ("python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("platform", platform.platform()),
        ("libraries", versions),
        ("support", support),
    ]


def _value(row: Row, figure: Figure) -> str:
    if figure.best is None:
        return figure.note or "n/a"
    text = row.unit.show(figure.best)
    if figure.median is not None:
        text += f" ({row.unit.show(figure.median)})"
    return text


def _ratio(row: Row, figure: Figure) -> str:
    if figure.role is Role.REFERENCE:
        return ""
    ratio = row.ratio(figure)
    if ratio is None:
        return "-"
    text = f"{_times(ratio)}x"
    if figure.role is Role.SUBJECT and 0 < ratio < 1:
        text += f" ({_times(1 / ratio)}x better)"
    return text


def _times(ratio: float) -> str:
    """Three significant digits, trailing zeros kept: 0.0464, 1.00, 13.0, 308."""
    if ratio >= 100:
        return f"{ratio:.0f}"
    if ratio >= 10:
        return f"{ratio:.1f}"
    if ratio >= 1:
        return f"{ratio:.2f}"
    return f"{ratio:.3g}"


def verdict(row: Row) -> str:
    met = row.met()
    if row.target is None:
        return ""
    return "MET" if met else ("MISSED" if met is False else "not judged")


def render_text(
    rows: Sequence[Row], libraries: Sequence[Library], mode: str, load_at_start: str
) -> str:
    lines = [f"PyStator benchmarks ({mode} run)"]
    lines += [f"  {key}: {value}" for key, value in environment(libraries, load_at_start)]
    lines += [
        "  figures: best of the repeats (median in brackets); ratio: figure / fastest peer's "
        "figure (row 8b: / process on the same configuration; rows 10: / the passing "
        "transition's), lower is better",
        "",
    ]
    width = max(len(f.library) for row in rows for f in row.figures)
    for row in rows:
        lines.append(f"{row.key}. {row.title} [{row.unit.label}]")
        lines.append(f"   {row.how}")
        for figure in row.figures:
            value = _value(row, figure)
            detail = f"   [{figure.note}]" if figure.best is not None and figure.note else ""
            lines.append(
                f"   {figure.library:<{width}}  {value:<24} {_ratio(row, figure):<26}{detail}"
            )
        if row.target is not None:
            lines.append(f"   target: {row.target.text}: {verdict(row)}")
        lines.append("")
    judged = [row for row in rows if row.target is not None]
    lines.append("Targets:")
    lines += [f"  {row.key:<3} {verdict(row):<7} {row.target.text}" for row in judged if row.target]
    return "\n".join(lines)


def render_markdown(rows: Sequence[Row], libraries: Sequence[Library]) -> str:
    names = [lib.name for lib in libraries]
    header = [
        "#",
        "measure",
        "unit",
        *names,
        "pystator / fastest peer (or reference)",
        "target",
        "result",
    ]
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in rows:
        cells = [row.key, row.title, row.unit.label]
        for name in names:
            figure = row.get(name)
            cells.append("" if figure is None else _value(row, figure))
        subject = row.subject
        cells.append("" if subject is None else _ratio(row, subject))
        cells.append("" if row.target is None else row.target.text)
        cells.append(verdict(row))
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    # A reference shared by several rows (the unhappy paths' passing transition) is listed
    # once, with every row it belongs to.
    owners: dict[Figure, list[Row]] = {}
    for row in rows:
        for figure in row.figures:
            if figure.role is Role.REFERENCE:
                owners.setdefault(figure, []).append(row)
    for figure, owned in owners.items():
        keys = ", ".join(row.key for row in owned)
        value = f"{_value(owned[0], figure)} {owned[0].unit.label}"
        out.append("")
        out.append(f"Reference in {keys}: {figure.note}: {value}.")
    return "\n".join(out)
