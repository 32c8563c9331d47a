"""Model references: how a user names a model version, parsed and resolved in pure code.

Grammar (an ``models:/`` prefix, as MLflow writes it, is accepted and ignored)::

    scratch-detector               the production version (the alias ``production``)
    scratch-detector/3             version 3 (the form qiloop prints)
    scratch-detector:3             version 3, as older results and feedback printed it
    scratch-detector@production    the version an alias points to
    scratch-detector@latest        the newest version, whatever its approval
    3, @production                 the same, for the default model name
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.models import PRODUCTION, ModelVersion

LATEST = "latest"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]*$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: a model name and either a version or an alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return f"{self.name}/{self.version}" if self.version is not None else f"{self.name}@{self.alias}"


def format_ref(name: str, version: int | str | None) -> str:
    """The one printed form of a model version, ``name/version``, which every command accepts.

    An unknown version prints as ``name/?``, which no command mistakes for a version.

    Example:
        >>> format_ref("scratch-detector", 2)
        'scratch-detector/2'
    """
    return f"{name}/{version if version not in (None, '') else '?'}"


def check_name(name: str) -> str:
    """Validate a registered model name (letters, digits, ``. _ -`` and spaces)."""
    if not _NAME.match(name):
        raise ConfigurationError(
            f"invalid model name {name!r}",
            hint="use letters, digits, '.', '_', '-' and spaces, starting with a letter or digit",
        )
    return name


def parse_ref(text: str, default_name: str | None = None) -> ModelRef:
    """Parse a model reference; a bare name means its production version.

    Raises:
        ConfigurationError: The text is not a reference (empty, bad version or alias).
    """
    ref = text.strip().removeprefix("models:/")
    name, at, alias = ref.rpartition("@") if "@" in ref else (ref, "", "")
    version: int | None = None
    if not at:
        head, slash, tail = ref.rpartition("/") if "/" in ref else ref.rpartition(":")
        if slash:
            if not tail.isdigit():
                raise ConfigurationError(
                    f"invalid model reference {text!r}: {tail!r} is not a version number",
                    hint="write NAME/VERSION (scratch-detector/3), NAME:VERSION, NAME@ALIAS or NAME",
                )
            name, version = head, int(tail)
        elif ref.isdigit() and default_name:
            name, version = default_name, int(ref)
        else:
            name, alias = ref, PRODUCTION
    if not name and default_name:
        name = default_name
    if not name:
        raise ConfigurationError(
            f"invalid model reference {text!r}: no model name", hint="write NAME, NAME/3 or NAME@ALIAS"
        )
    check_name(name)
    if version is not None and version < 1:
        raise ConfigurationError(f"invalid model reference {text!r}: versions start at 1")
    if alias and not _ALIAS.match(alias):
        raise ConfigurationError(f"invalid alias {alias!r} in {text!r}", hint="aliases are like production or latest")
    return ModelRef(name=name, version=version, alias=alias or None)


def describe(versions: Sequence[ModelVersion]) -> str:
    """One line listing versions with their approval and aliases, for hints."""
    if not versions:
        return "no versions are registered"
    parts = []
    for v in versions:
        aliases = f" @{','.join(v.aliases)}" if v.aliases else ""
        parts.append(f"{v.version} ({v.approval.value}{aliases})")
    return "versions: " + ", ".join(parts)


def resolve(ref: ModelRef, versions: Sequence[ModelVersion]) -> ModelVersion:
    """Pick the version ``ref`` names from all versions of its model.

    Raises:
        NotFoundError: No such version or alias; the hint lists what exists.
    """
    if ref.version is not None:
        found = [v for v in versions if v.version == ref.version]
    elif ref.alias == LATEST:
        found = sorted(versions, key=lambda v: v.version)[-1:]
    else:
        found = [v for v in versions if ref.alias in v.aliases]
    if found:
        return found[0]
    what = f"version {ref.version}" if ref.version is not None else f"a version with the alias {ref.alias!r}"
    hint = f"{ref.name} has {describe(versions)}"
    if ref.alias == PRODUCTION:
        hint += f"; approve one with: qiloop models approve {ref.name}/VERSION"
    raise NotFoundError(f"model {ref.name!r} has no {what}", hint=hint)
