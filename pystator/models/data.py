"""Free-form JSON data inside a definition: ``params``, ``metadata``, context defaults and enums.

Such data is checked to be what JSON can carry as is, and nested at most ``MAX_DATA_DEPTH``
levels, so every definition that validates can be written out as JSON and YAML and read back
(the YAML reader takes at most 100 levels in all; ``docs/configuration.md``, "Limits").
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator

MAX_DATA_DEPTH = 32
"""Levels of lists and objects a ``params``/``metadata`` value may nest (``{"a": [1]}`` is 2)."""


def json_data(value: Any) -> Any:
    """Return ``value`` if it is plain JSON data nested at most ``MAX_DATA_DEPTH`` levels.

    Refuses NaN and infinities (YAML ``.nan``, JSON ``1e400``) and non-JSON objects:
    serialised, they would become ``null`` or fail, the round trips would lose data and
    different definitions would share one hash. Walks with a stack, never recursively.
    """
    # A tuple only at the top: ``enum`` is one; inside, a tuple would come back as a list.
    todo: list[tuple[Any, int]] = [(list(value) if type(value) is tuple else value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            depth += 1
            if depth > MAX_DATA_DEPTH:
                raise ValueError(f"nested more than {MAX_DATA_DEPTH} levels deep")
            if isinstance(item, dict):
                if not all(isinstance(k, str) for k in item):
                    raise ValueError("keys must be strings")
                todo.extend((v, depth) for v in item.values())
            else:
                todo.extend((v, depth) for v in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{item} is not a JSON number")
        elif item is not None and not isinstance(item, str | int | float):
            raise ValueError(f"a {type(item).__name__} is not JSON data")
    return value


JSONDict = Annotated[dict[str, Any], AfterValidator(json_data)]
"""A JSON object of free-form data."""
JSONValue = Annotated[Any, AfterValidator(json_data)]
"""Any JSON value."""
