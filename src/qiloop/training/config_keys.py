"""Key handling for nested pydantic configs; moved to :mod:`qiloop.core.config_keys` (the device uses it too)."""

from qiloop.core.config_keys import (
    build,
    check,
    describe,
    is_mapping_field,
    merge,
    parse_override,
    section_of,
    set_dotted,
    unknown_key,
)

__all__ = [
    "build",
    "check",
    "describe",
    "is_mapping_field",
    "merge",
    "parse_override",
    "section_of",
    "set_dotted",
    "unknown_key",
]
