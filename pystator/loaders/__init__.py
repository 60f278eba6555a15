"""Loaders: YAML, JSON and dicts in, ``MachineDefinition`` out (and back).

* ``definition_io``: read and write a definition from YAML, JSON and dicts, every problem
  reported as a ``ConfigurationError`` naming its path;
* ``files``: read a definition file a user names (a regular file, bounded, never a hang);
* ``safe_yaml``: the YAML reader for untrusted files (no tags, no aliases, no duplicate keys,
  bounded in size and depth).
"""

from pystator.loaders.definition_io import (
    definition_from_data,
    definition_to_dict,
    definition_to_json,
    definition_to_yaml,
    load_file,
    load_json_file,
    load_json_string,
    load_yaml_file,
    load_yaml_string,
    parse_json_text,
)
from pystator.loaders.safe_yaml import DEFAULT_MAX_BYTES, load_yaml_text

__all__ = [
    "DEFAULT_MAX_BYTES",
    "definition_from_data",
    "definition_to_dict",
    "definition_to_json",
    "definition_to_yaml",
    "load_file",
    "load_json_file",
    "load_json_string",
    "load_yaml_file",
    "load_yaml_string",
    "load_yaml_text",
    "parse_json_text",
]
