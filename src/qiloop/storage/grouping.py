"""The group of an image: what must stay together in one data split.

Crops of one photo are near-duplicates; if one crop trains and its sibling
tests, the test score lies. The group key is read from the file name by a
configurable regular expression, so each site can describe its own naming.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from qiloop.core.errors import ConfigurationError


def compile_group_pattern(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    """Compile ``pattern`` once, turning a bad expression into a :class:`ConfigurationError`."""
    if isinstance(pattern, re.Pattern):
        return pattern
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigurationError(
            f"group pattern {pattern!r} is not a valid regular expression: {exc}",
            hint="fix group_pattern (QILOOP_GROUP_PATTERN); use a named group (?P<group>...) for the key",
        ) from exc


def group_of(name: str, pattern: str | re.Pattern[str]) -> str:
    """Group key of the file ``name`` (a bare name or a path; only the last part counts).

    The key is the pattern's named group ``group`` if it has one, else its first
    group, else the whole match. A name the pattern does not match (or that
    captures nothing) is its own group: the name without its extension.

    Example:
        >>> group_of("image-2020-04-22-11-07-29-26-cropped-left-top.jpg", r"^(?P<group>.+?)-cropped")
        'image-2020-04-22-11-07-29-26'
        >>> group_of("tag-17.jpg_3", r"^(?P<group>.+?)-cropped")
        'tag-17'
    """
    base = PurePath(name).name
    match = compile_group_pattern(pattern).search(base)
    key = ""
    if match is not None:
        if "group" in match.re.groupindex:
            key = match.group("group") or ""
        elif match.re.groups:
            key = match.group(1) or ""
        else:
            key = match.group(0)
    return key or PurePath(base).stem or base
