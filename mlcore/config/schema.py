"""Turn a plain YAML tree into frozen, typed dataclasses, naming the key of every mistake.

Why not pydantic: this runs on every `mlcore config` and on every config error, which must
answer in well under 0.2 s; building pydantic models costs more than the rest of start-up.
The rules are few: the dataclass field types say what is allowed, `__post_init__` checks
ranges and raises `SchemaError`, and unknown keys are refused with the closest valid name.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin


class SchemaError(ValueError):
    """A value that does not fit its field; `key` is the dotted path from the root."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        item = get_args(tp)[0]
        plural = {int: "integers", float: "numbers", str: "strings"}.get(item)
        return f"a list of {plural}" if plural else f"a list of {_type_name(item)}"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        tp, str(tp)
    )


# YAML bools are not numbers here, though Python says True == 1.
_SCALARS = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
}


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Return `value` as type `tp`, or raise SchemaError naming `key`."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in get_args(tp):
            return None
        for option in get_args(tp):
            if option is type(None):
                continue
            try:
                return _convert(option, value, key)
            except SchemaError:
                continue
        raise SchemaError(key, f"must be {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        allowed = get_args(tp)
        if value in allowed and type(value) is type(allowed[0]):
            return value
        hint = _closest(value, [str(a) for a in allowed])
        raise SchemaError(
            key, f"unknown value {value!r}{hint}; allowed: {', '.join(map(str, allowed))}"
        )
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise SchemaError(key, f"must be {_type_name(tp)}, got {value!r}")
        (item,) = get_args(tp)
        return tuple(_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    accepts = _SCALARS.get(tp)
    if accepts is not None and accepts(value):
        return float(value) if tp is float else value
    raise SchemaError(key, f"must be {_type_name(tp)}, got {value!r}")


def _closest(name: Any, valid: list[str]) -> str:
    match = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def build(cls: type, data: Any, prefix: str = "") -> Any:
    """Build dataclass `cls` from a mapping, refusing unknown keys and wrong types."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SchemaError(prefix, f"must be a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in data:
        if name not in fields:
            where = f"{prefix}.{name}" if prefix else str(name)
            hint = _closest(name, list(fields))
            raise SchemaError(where, f"unknown key{hint}; valid keys: {', '.join(fields)}")
    values = {}
    for name in fields:
        if name in data:
            where = f"{prefix}.{name}" if prefix else name
            values[name] = _convert(hints[name], data[name], where)
    try:
        return cls(**values)
    except SchemaError as err:
        # __post_init__ names the field relative to its own section.
        raise SchemaError(f"{prefix}.{err.key}" if prefix else err.key, err.message) from None


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain YAML-able data (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def check(condition: bool, key: str, message: str) -> None:
    """For `__post_init__`: raise SchemaError(key, message) unless `condition` holds."""
    if not condition:
        raise SchemaError(key, message)
