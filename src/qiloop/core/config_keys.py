"""Key handling for nested pydantic configs: dotted overrides, unknown-key errors, merging.

Pure functions over plain dicts and model classes, shared by every config that
is built from files and ``key=value`` strings (training on a workstation, the
inference app on a device), so they live in ``core``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from qiloop.core.errors import ConfigurationError, require
from qiloop.core.records import describe as describe_fields

M = TypeVar("M", bound=BaseModel)


def section_of(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    """The model class of field ``key`` when it is a nested section, else ``None``."""
    annotation = model.model_fields[key].annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def is_mapping_field(model: type[BaseModel], key: str) -> bool:
    """True for free-form ``dict`` fields (their keys are data, e.g. split names) and for unions of
    sections (a discriminated union: which keys are valid depends on the chosen member, so the
    model's own validation names the unknown ones)."""
    annotation = model.model_fields[key].annotation
    if getattr(annotation, "__origin__", None) is dict or annotation is dict:
        return True
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return all(isinstance(a, type) and issubclass(a, BaseModel) for a in members)
    return False


def unknown_key(model: type[BaseModel], key: str, where: str, source: str) -> ConfigurationError:
    """The error for ``key`` not being a field of ``model``: names it and lists the valid ones."""
    valid = list(model.model_fields)
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], valid, n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    scope = f" under {where!r}" if where else ""
    return ConfigurationError(f"unknown key {key!r} in {source}{guess}", hint=f"valid keys{scope}: {', '.join(valid)}")


def check(model: type[BaseModel], data: Mapping[str, Any], source: str, prefix: str = "") -> None:
    """Raise :class:`ConfigurationError` for the first key of ``data`` that ``model`` does not have."""
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in model.model_fields:
            raise unknown_key(model, dotted, prefix.rstrip("."), source)
        sub = section_of(model, key)
        if sub is not None and isinstance(value, Mapping):
            check(sub, value, source, f"{dotted}.")


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` laid over it, nested mappings merged key by key."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(item: str) -> tuple[str, Any]:
    """``"augment.mosaic=0.5"`` -> ``("augment.mosaic", 0.5)``; the value is read as a YAML scalar.

    Example:
        >>> parse_override("classes=[scratch, dent]")
        ('classes', ['scratch', 'dent'])
    """
    yaml = require("yaml", "edge")

    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigurationError(
            f"override {item!r} is not key=value", hint="write it like epochs=3 or augment.mosaic=0"
        )
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"cannot read the value of {key!r}: {text!r}", hint="quote it as YAML") from exc
    return key, value


def set_dotted(model: type[BaseModel], data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b] = value`` for ``key == "a.b"``, checking each part against ``model``."""
    parts = key.split(".")
    node, current = data, model
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(parts[:depth])
        if current is None:  # inside a free-form mapping: any key goes
            node = node.setdefault(part, {})
            continue
        if part not in current.model_fields:
            raise unknown_key(current, ".".join(parts[: depth + 1]), where, "overrides")
        sub = section_of(current, part)
        if sub is None and not is_mapping_field(current, part):
            raise ConfigurationError(f"{part!r} is a value, not a section: {key!r}", hint=f"write {part}=VALUE")
        child = node.get(part)
        node[part] = child = dict(child) if isinstance(child, Mapping) else {}
        node, current = child, sub
    last = parts[-1]
    if current is not None and last not in current.model_fields:
        raise unknown_key(current, key, ".".join(parts[:-1]), "overrides")
    node[last] = value


def describe(exc: ValidationError) -> str:
    """One line per problem: ``dotted.key: message (got value)``."""
    return describe_fields(exc, root="config")


def build(model: type[M], data: Mapping[str, Any], source: str = "configuration") -> M:
    """Validate a plain mapping into ``model``, naming any unknown key (with the valid ones) or invalid value.

    Raises:
        ConfigurationError: An unknown key or an invalid value.
    """
    check(model, data, source)
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigurationError(f"invalid {source}: {describe(exc)}", hint="correct the named key(s)") from exc
