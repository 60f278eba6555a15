"""How the command line reads its arguments and how a command fails.

* ``Parser``: the argparse parser of every command and subcommand. A usage mistake becomes a
  ``UsageError`` (one line, exit 2) instead of argparse's usage dump.
* ``UsageError`` (exit 2) and ``CommandFailed`` (exit 1, for an outside reason): the two
  failures of the command line itself; ``pystator.cli.main`` prints either as one line.
* ``context_option``: the ``--context`` JSON object, read the same way by ``process`` and
  ``worker submit``.
"""

from __future__ import annotations

import argparse
from typing import Any

from pystator.errors import ConfigurationError


class UsageError(Exception):
    """The command line was used wrongly (a bad option, a missing argument): exit 2."""


class CommandFailed(Exception):
    """A command failed for an outside reason (an app module, Redis): exit 1, one line."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one ``UsageError`` line pointing to ``--help``."""

    def error(self, message: str) -> Any:  # argparse would print usage and exit 2
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def context_option(text: str | None) -> dict[str, Any]:
    """The ``--context`` JSON object (empty when not given)."""
    from pystator.loaders import parse_json_text

    if not text:
        return {}
    try:
        context = parse_json_text(text)
    except ConfigurationError as exc:
        raise UsageError(f"--context is not valid JSON: {exc.issues[0]}") from None
    if not isinstance(context, dict):
        raise UsageError("--context must be a JSON object")
    return context
