"""Typed configuration from TOML: dataclass schemas, validation, overrides.

A schema is a dataclass whose fields carry their own checks in ``field(metadata=...)``:
``min``/``max`` (inclusive), ``gt`` (exclusive lower bound), ``choices``, ``length`` (for lists),
``doc``. :func:`build` turns a TOML table into the dataclass, failing with a
:class:`~occpose.errors.ConfigError` that names the file, the dotted key and what was expected.
Unknown keys are errors. Supported field types: ``bool``, ``int``, ``float``, ``str``,
``list[...]`` of those, ``dict[str, Schema]``, ``list[Schema]``, nested schemas and ``X | None``.
TOML is read with ``tomllib`` (Python 3.11+) or, on Python 3.10 (the Python of Blender 3.4 to
4.0), with :mod:`occpose.tomlsubset`.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any

from .errors import ConfigError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Blender 3.4 to 4.0): occpose's own TOML reader
    from . import tomlsubset as tomllib


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file; missing, unreadable or malformed files raise ConfigError."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: preset file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML preset file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read preset ({e})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML syntax error: {e}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"section.key=value"`` -> (["section", "key"], parsed TOML value; bare words are strings)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. benchmark.frames=100")
    key, raw = text.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"--set {text!r}: empty key part in {key!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return parts, value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``--set`` overrides to a raw TOML dict (a deep copy is returned)."""
    import copy

    data = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {p!r} is not a table")
        node[parts[-1]] = value
    return data


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        (arg, *_) = typing.get_args(tp) or (Any,)
        return f"a list of {_type_name(arg)}"
    if origin is dict:
        return "a table"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _check_scalar(tp: Any, value: Any, where: str, file: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{file}: '{where}' must be a finite number, got {value}")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is Any:
        return value
    raise ConfigError(f"{file}: '{where}' must be {_type_name(tp)}, got {value!r}")


def _convert(tp: Any, value: Any, where: str, file: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, where, file)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: '{where}' must be a table, got {value!r}")
        return build(tp, value, where, file)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{file}: '{where}' must be {_type_name(tp)}, got {value!r}")
        (arg,) = typing.get_args(tp)[:1] or (Any,)
        return [_convert(arg, v, f"{where}[{i}]", file) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: '{where}' must be a table, got {value!r}")
        _, arg = typing.get_args(tp)
        return {str(k): _convert(arg, v, f"{where}.{k}", file) for k, v in value.items()}
    return _check_scalar(tp, value, where, file)


def _check_meta(meta: dict, value: Any, where: str, file: str) -> None:
    if value is None:
        return
    if "length" in meta and len(value) != meta["length"]:
        raise ConfigError(f"{file}: '{where}' must have {meta['length']} elements, got {len(value)}")
    if isinstance(value, dict):
        items = [(f"{where}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(where, v) for v in value]
    else:
        items = [(where, value)]
    for item_where, v in items:
        if "choices" in meta and v not in meta["choices"]:
            raise ConfigError(f"{file}: '{item_where}' must be one of {', '.join(map(str, meta['choices']))}, "
                              f"got {v!r}")
        if "gt" in meta and not v > meta["gt"]:
            raise ConfigError(f"{file}: '{item_where}' must be greater than {meta['gt']}, got {v!r}")
        if "min" in meta and not v >= meta["min"]:
            raise ConfigError(f"{file}: '{item_where}' must be at least {meta['min']}, got {v!r}")
        if "max" in meta and not v <= meta["max"]:
            raise ConfigError(f"{file}: '{item_where}' must be at most {meta['max']}, got {v!r}")
    if meta.get("nonempty") and len(value) == 0:
        raise ConfigError(f"{file}: '{where}' must not be empty")


def build(cls: type, data: dict, where: str = "", file: str = "<config>"):
    """Build dataclass ``cls`` from a TOML table, checking keys, types and field metadata."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in fields:
            raise ConfigError(f"{file}: unknown key '{prefix}{key}'; expected one of "
                              f"{', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{file}: missing required key '{prefix}{name}' "
                                  f"({_type_name(hints[name])})")
            continue
        value = _convert(hints[name], data[name], f"{prefix}{name}", file)
        _check_meta(dict(f.metadata), value, f"{prefix}{name}", file)
        kwargs[name] = value
    return cls(**kwargs)


def to_plain(obj: Any) -> Any:
    """Dataclass tree -> JSON/TOML-compatible dicts and lists."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


def opt(default: Any = dataclasses.MISSING, **meta: Any):
    """A dataclass field with a default (lists/dicts copied) and validation metadata."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def is_safe_name(name: str) -> bool:
    """Whether ``name`` is non-empty letters, digits, '-' and '_' only (safe in file names)."""
    return name.replace("_", "").replace("-", "").isalnum()
