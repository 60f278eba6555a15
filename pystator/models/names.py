"""Naming rules shared by every model."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
"""States, regions and triggers: letters, digits and ``_``, starting with a letter."""

CALLABLE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:\-]*$"
"""Guards and actions may also use ``.``, ``:`` and ``-`` (``billing.charge``)."""

NAME_RE = re.compile(NAME_PATTERN)

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=200)]
CallableName = Annotated[str, StringConstraints(pattern=CALLABLE_NAME_PATTERN, max_length=200)]

__all__ = ["CALLABLE_NAME_PATTERN", "NAME_PATTERN", "NAME_RE", "CallableName", "Name"]
