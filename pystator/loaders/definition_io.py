"""Read and write ``MachineDefinition`` from YAML, JSON and dicts, with every problem reported.

All loaders end in ``definition_from_data``: Pydantic validates the fields, the cross-reference
checks run, and every problem found (field errors and, as far as the valid parts allow, broken
references) is raised in one ``ConfigurationError`` whose issues carry a path such as
``transitions[3].dest`` (and, for YAML, the line).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from pystator.errors import ConfigIssue, ConfigurationError
from pystator.loaders.files import read_text
from pystator.loaders.safe_yaml import (
    DEFAULT_MAX_BYTES,
    MAX_DEPTH,
    LoadedYAML,
    YAMLFloat,
    load_yaml_text,
)
from pystator.models.checks import MAX_REGION_NESTING, REGIONS_TOO_DEEP, collect_issues
from pystator.models.definition import (
    DURATION_PATTERN,
    TRIGGER_PATTERN,
    MachineDefinition,
    StateDefinition,
    TransitionDefinition,
)
from pystator.models.names import CALLABLE_NAME_PATTERN, NAME_RE

PathLike = str | os.PathLike[str]

_UNION_TAGS = {
    *("str", "int", "float", "bool", "none", "constrained-str"),
    *("ActionSpec", "AssignSpec", "RaiseSpec", "GuardSpec", "StateDefinition"),
}
# The two object branches of an action list item, and the key that says which one is meant.
_ACTION_BRANCHES = {"ActionSpec": "name", "AssignSpec": "assign", "RaiseSpec": "raise"}
_FIRST_BRANCH = "ActionSpec"
_UNION_TAG_PREFIXES = ("literal[", "tuple[", "list[", "dict[", "function-", "nullable[")


def _is_union_tag(part: str | int) -> bool:
    return isinstance(part, str) and (part in _UNION_TAGS or part.startswith(_UNION_TAG_PREFIXES))


def format_path(loc: tuple[str | int, ...]) -> str:
    """``('transitions', 3, 'dest')`` -> ``'transitions[3].dest'``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _describe(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    value = error.get("input")
    if kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern")
        if pattern in (NAME_RE.pattern, TRIGGER_PATTERN):
            return (
                f"{value!r} is not a valid name: use letters, digits and '_', "
                "starting with a letter"
            )
        if pattern == CALLABLE_NAME_PATTERN:
            return f"{value!r} is not a valid name: use letters, digits, '_', '.', ':' or '-'"
        if pattern == DURATION_PATTERN:
            return f"{value!r} is not a delay: use 5000 (ms), '250ms', '5s', '1.5m' or '2h'"
    if kind == "extra_forbidden":
        return "unknown key (check its spelling and its indentation)"
    if kind == "missing":
        return "required key is missing"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


_ACTION_ITEM = (
    "must be an action name, {name, params}, {assign: {field: expression}} or {raise: EVENT}"
)
_UNION_MESSAGES = {
    "source": "must be a state name, a list of state names, or '*'",
    "guards": "must be a guard name, {name, params} or {expr}",
    "actions": _ACTION_ITEM,
    "on_enter": _ACTION_ITEM,
    "on_exit": _ACTION_ITEM,
}


def _meant_branches(errors: list[Any]) -> list[Any]:
    """Errors of an action list item without those of the object branch it did not mean.

    ``{name: ...}`` is an action, ``{assign: ...}`` an assign and ``{raise: ...}`` an internal
    event: when an item has the key of one branch, the errors of the branches whose key it
    lacks are left out (they would only say "assign: required key is missing" about a
    misspelt action). An item with none of the keys keeps the errors of its first branch but
    not the missing key (``{nmae: x}`` is reported as the unknown key ``nmae``); with nothing
    else wrong (``{}``), the item is reported as a whole.
    """
    lacking = _lacking_branch_keys(errors)
    if not lacking:
        return errors
    return [error for error in errors if not _is_unmeant_branch(error, lacking)]


def _lacking_branch_keys(errors: list[Any]) -> dict[tuple[Any, ...], set[str]]:
    """For each action list item (by location), the object branches whose key it lacks."""
    lacking: dict[tuple[Any, ...], set[str]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        for i, part in enumerate(loc):
            if part in _ACTION_BRANCHES:
                if error["type"] == "missing" and loc[i + 1 :] == (_ACTION_BRANCHES[part],):
                    lacking.setdefault(loc[:i], set()).add(part)
                break
    return lacking


def _is_unmeant_branch(error: Any, lacking: Mapping[tuple[Any, ...], set[str]]) -> bool:
    """Whether ``error`` is about an object branch its item did not mean (see
    ``_meant_branches``)."""
    loc = tuple(error["loc"])
    branch = next((i for i, p in enumerate(loc) if p in _ACTION_BRANCHES), None)
    if branch is None:
        return False
    missing = lacking.get(loc[:branch], set())
    if loc[branch] in missing and len(missing) < len(_ACTION_BRANCHES):
        return True
    return len(missing) == len(_ACTION_BRANCHES) and (
        loc[branch] != _FIRST_BRANCH or error["type"] == "missing"
    )


_Described = tuple[str, Mapping[str, Any]]
"""A Pydantic error with its message."""


def issues_from_validation(
    exc: ValidationError, prefix: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], str]]:
    """Pydantic errors as (location, message), one per location, union branches merged."""
    grouped: dict[tuple[str | int, ...], list[_Described]] = {}
    for error in _meant_branches(exc.errors(include_url=False)):
        loc = tuple(p for p in error["loc"] if not _is_union_tag(p))
        grouped.setdefault(prefix + loc, []).append((_describe(error), error))
    # An {name, params} entry that fails inside also fails the union's plain-name branch, and
    # a list whose items all failed is also "too short": a deeper error says it better.
    deeper = {loc[:i] for loc in grouped for i in range(len(loc))}
    return [
        (loc, _merged_message(loc, entries))
        for loc, entries in grouped.items()
        if not (
            loc in deeper and all(e["type"] in {"string_type", "too_short"} for _, e in entries)
        )
    ]


def _merged_message(loc: tuple[str | int, ...], entries: list[_Described]) -> str:
    """One message for the errors at one location, those of a union's branches merged."""
    messages = list(dict.fromkeys(m for m, _ in entries))
    # A value that matched no branch of a union: say what the field accepts.
    field = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if field in _UNION_MESSAGES and all(e["type"] == "string_type" for _, e in entries):
        return _UNION_MESSAGES[field]  # an object with no key of any branch
    if len(messages) == 1:
        return messages[0]
    pattern_msg = next((m for m, e in entries if e["type"] == "string_pattern_mismatch"), None)
    if pattern_msg is not None and isinstance(entries[0][1].get("input"), str):
        return pattern_msg
    if field in _UNION_MESSAGES:
        return _UNION_MESSAGES[field]
    return "; or ".join(messages)


def _partial_cross_check(data: Mapping[str, Any]) -> list[ConfigIssue]:
    """Cross-reference checks over the items that did validate, after a field error."""
    raw_states = data.get("states")
    raw_transitions = data.get("transitions", [])
    if not isinstance(raw_states, list) or not isinstance(raw_transitions, list):
        return []
    state_adapter = TypeAdapter(StateDefinition)
    transition_adapter = TypeAdapter(TransitionDefinition)
    states: list[StateDefinition | None] = []
    partial: list[str] = []
    for raw in raw_states:
        try:
            states.append(state_adapter.validate_python(raw))
        except ValidationError:
            states.append(None)
            if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
                partial.append(raw["name"])
    transitions: list[TransitionDefinition | None] = []
    for raw in raw_transitions:
        try:
            transitions.append(transition_adapter.validate_python(raw))
        except ValidationError:
            transitions.append(None)
    return collect_issues(states, transitions, partial_names=partial)


def _regions_too_deep(data: Mapping[str, Any]) -> ConfigIssue | None:
    """The first region (in document order) written inside more than ``MAX_REGION_NESTING``
    regions, in plain data; ``None`` when there is none. Walks with a stack."""
    states = data.get("states")
    if not isinstance(states, list):
        return None
    todo: list[tuple[str, Any, int]] = [(f"states[{i}]", s, 0) for i, s in enumerate(states)]
    todo.reverse()
    while todo:
        path, state, nesting = todo.pop()
        regions = state.get("regions") if isinstance(state, Mapping) else None
        if not isinstance(regions, list):
            continue
        below: list[tuple[str, Any, int]] = []
        for r, region in enumerate(regions):
            where = f"{path}.regions[{r}]"
            if nesting >= MAX_REGION_NESTING:
                return ConfigIssue(where, REGIONS_TOO_DEEP)
            inner = region.get("states") if isinstance(region, Mapping) else None
            if isinstance(inner, list):
                below += [(f"{where}.states[{k}]", s, nesting + 1) for k, s in enumerate(inner)]
        todo.extend(reversed(below))
    return None


def definition_from_data(
    data: Any, *, source: str | None = None, document: LoadedYAML | None = None
) -> MachineDefinition:
    """Validate plain data (a dict) into a ``MachineDefinition`` or raise every problem."""
    if isinstance(data, MachineDefinition):
        return data
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigurationError(
            "a machine definition must be a mapping with 'meta', 'states' and 'transitions', "
            f"got {kind}",
            source=source,
        )
    try:
        return MachineDefinition.model_validate(data)
    except ConfigurationError as exc:
        # Field validation passed; the cross-reference checks found problems.
        raise _with_lines(exc.issues, document, source) from None
    except ValidationError as exc:
        too_deep = _regions_too_deep(data)
        if too_deep is not None:
            # Past Pydantic's own depth limit its message would be a path thousands of
            # characters long: say what the checks would have said.
            raise _with_lines([too_deep], document, source) from None
        issues = [
            ConfigIssue(format_path(loc), message) for loc, message in issues_from_validation(exc)
        ]
        issues.extend(_partial_cross_check(data))
        raise _with_lines(issues, document, source) from None


def _parse_path(path: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for chunk in path.replace("[", ".[").split("."):
        if not chunk:
            continue
        if chunk.startswith("[") and chunk.endswith("]") and chunk[1:-1].isdigit():
            parts.append(int(chunk[1:-1]))
        else:
            parts.append(chunk)
    return tuple(parts)


def _with_lines(
    issues: list[ConfigIssue], document: LoadedYAML | None, source: str | None
) -> ConfigurationError:
    if document is not None:
        for issue in issues:
            if issue.path and not issue.path.startswith("line "):
                line = document.line_of(_parse_path(issue.path))
                if line is not None:
                    issue.message = f"{issue.message} (line {line})"
    return ConfigurationError(issues, source=source)


def load_yaml_string(
    text: str, *, source: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> MachineDefinition:
    """Parse and validate a YAML definition."""
    try:
        document = load_yaml_text(text, max_bytes=max_bytes)
    except ConfigurationError as exc:
        raise ConfigurationError(exc.issues, source=source) from None
    data = document.data
    meta = data.get("meta") if isinstance(data, dict) else None
    if isinstance(meta, dict) and isinstance(meta.get("version"), YAMLFloat):
        meta["version"] = meta["version"].text  # "1.10" as written, not the float 1.1
    return definition_from_data(data, source=source, document=document)


def load_yaml_file(path: PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> MachineDefinition:
    """Read, parse and validate a YAML definition file."""
    return load_yaml_string(read_text(path, max_bytes), source=str(path), max_bytes=max_bytes)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key '{key}'")
        out[key] = value
    return out


# A string, "unrolled" (no backtracking). An unterminated one runs to the end of the text, so
# every match attempt succeeds and the scan stays linear: were it allowed to fail, the engine
# would rescan to the end from every later quote (quadratic on '["\\"\\"\\"...').
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)'
_JSON_STRING = re.compile(_STRING, re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_JSON_TOKEN = re.compile(_STRING + r"|[\[\]{}]", re.DOTALL)


def _too_deep_at(text: str, limit: int) -> int | None:
    """Where the JSON ``text`` first nests deeper than ``limit`` (brackets outside strings),
    or ``None``. One pass over the brackets alone; the offset is found only for a refusal."""
    brackets = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text))
    depth = 0
    for char in brackets:
        if char == "[" or char == "{":
            depth += 1
            if depth > limit:
                break
        else:
            depth -= 1
    else:
        return None
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        char = match.group()
        if char == "[" or char == "{":
            depth += 1
            if depth > limit:
                return match.start()
        elif char == "]" or char == "}":
            depth -= 1
    return 0


def parse_json_text(text: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Parse JSON strictly: no NaN/Infinity, no duplicate keys, bounded size and depth."""
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > max_bytes:
        raise ConfigurationError(f"JSON input is larger than the limit of {max_bytes} bytes")
    import json  # not imported with pystator: only JSON definitions need it

    if isinstance(text, bytes):
        try:  # as json.loads decodes bytes (UTF-8, -16 or -32)
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        except UnicodeDecodeError as exc:
            raise ConfigurationError(f"invalid JSON: {exc}") from None
    too_deep = _too_deep_at(text, MAX_DEPTH)
    if too_deep is not None:
        # Checked before parsing: ``json`` recurses once per level (the same limit as YAML).
        line = text.count("\n", 0, too_deep) + 1
        raise ConfigurationError(
            [ConfigIssue(f"line {line}", f"JSON nested too deeply (more than {MAX_DEPTH} levels)")]
        )

    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            [ConfigIssue(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")]
        ) from None
    except ValueError as exc:
        raise ConfigurationError(f"invalid JSON: {exc}") from None


def load_json_string(
    text: str | bytes, *, source: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> MachineDefinition:
    """Parse and validate a JSON definition."""
    try:
        data = parse_json_text(text, max_bytes=max_bytes)
    except ConfigurationError as exc:
        raise ConfigurationError(exc.issues, source=source) from None
    return definition_from_data(data, source=source)


def load_json_file(path: PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> MachineDefinition:
    """Read, parse and validate a JSON definition file."""
    return load_json_string(read_text(path, max_bytes), source=str(path), max_bytes=max_bytes)


def load_file(path: PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> MachineDefinition:
    """Load a ``.json`` file as JSON and anything else as YAML."""
    if str(path).lower().endswith(".json"):
        return load_json_file(path, max_bytes=max_bytes)
    return load_yaml_file(path, max_bytes=max_bytes)


def definition_to_dict(definition: MachineDefinition) -> dict[str, Any]:
    """The plain-data form; ``definition_from_data`` inverts it.

    ``meta`` is written in full; states and transitions leave out keys at their default.
    """
    data = definition.model_dump(mode="json", exclude_defaults=True)
    data["meta"] = definition.meta.model_dump(mode="json", exclude_none=True)
    return data


def definition_to_json(definition: MachineDefinition, *, indent: int | None = 2) -> str:
    import json  # not imported with pystator

    return json.dumps(definition_to_dict(definition), indent=indent, ensure_ascii=False)


class _Dumper(yaml.SafeDumper):
    """Writes strings YAML 1.1 readers would misread (``on``, ``no``, ...) in quotes."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if value.lower() in {"on", "off", "yes", "no", "y", "n", "true", "false", "null", "~"}:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)


_YAML_RISKY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")


def definition_to_yaml(definition: MachineDefinition, *, schema_ref: str | None = None) -> str:
    """YAML text of the definition (keys in model order, defaults left out)."""
    head = f"# yaml-language-server: $schema={schema_ref}\n" if schema_ref else ""
    data = definition_to_dict(definition)
    options: dict[str, Any] = {
        "Dumper": _Dumper,
        "sort_keys": False,
        "default_flow_style": False,
        "width": 100,
    }
    body: str = yaml.dump(data, allow_unicode=True, **options)
    if _YAML_RISKY.search(body):
        # Line separators and control characters written raw would not read back the same:
        # let PyYAML escape every non-ASCII character instead.
        body = yaml.dump(data, allow_unicode=False, **options)
    return head + body
