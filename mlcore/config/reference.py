"""The config reference, generated from the section dataclasses themselves.

Every key's type and default come from `dataclasses.fields` of the classes in sections.py, and
its explanation from the attribute docstring under the field (read with `ast`), so the docs'
reference cannot drift from the schema. The docs build calls `markdown()` (a MkDocs hook,
docs/hooks/config_reference.py). No torch here: only sections.py, schema.py and load.py.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Union

import yaml

from mlcore.config import load, sections
from mlcore.config.schema import _type_name


@dataclass(frozen=True)
class Key:
    """One config key: `key` is its dotted path from the top (`trainer.early_stopping.mode`)."""

    key: str
    type: str
    default: str
    doc: str
    section: bool  # a mapping of further keys (its own keys follow it)


def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass: field name -> the string literal right under
    the field's line, whitespace collapsed. A field without one is missing from the dict."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # the ClassDef's statements
    docs = {}
    for stmt, after in zip(body, body[1:]):
        doc = _string(after)
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and doc:
            docs[stmt.target.id] = " ".join(doc.split())
    return docs


def _string(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        value = stmt.value.value
        return value if isinstance(value, str) else None
    return None


def _section_type(tp: Any) -> type | None:
    """The dataclass a field holds, also through `X | None`; None for a plain value."""
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)]
        return inner[0] if inner else None
    return None


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise ValueError(f"config field {f.name} has no default")  # every key is optional


def format_value(value: Any) -> str:
    """A default as YAML writes it: null, true, [0.9, 0.999], 1.0e-08."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return yaml.safe_dump(value).removesuffix("\n...\n").strip()
    return str(value)


def all_keys(cls: type = sections.Config, prefix: str = "") -> list[Key]:
    """Every key of `cls`, depth first, a section before its own keys."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp, dotted = hints[f.name], prefix + f.name
        sub = _section_type(tp)
        default = _default(f)
        shown = "null" if default is None else "(section)" if sub else format_value(default)
        out.append(Key(dotted, _type_name(tp), shown, docs.get(f.name, ""), sub is not None))
        if sub is not None:
            out.extend(all_keys(sub, dotted + "."))
    return out


def _gan_notes() -> list[str]:
    """A GAN's own defaults (sections.GAN_DEFAULTS, load.GAN_OPTIMIZER / GAN_MONITOR)."""
    model = ", ".join(f"`model.{k}: {format_value(v)}`" for k, v in sections.GAN_DEFAULTS.items())
    opt = ", ".join(f"`{k}: {format_value(v)}`" for k, v in load.GAN_OPTIMIZER.items())
    monitor = load.GAN_MONITOR["monitor"]
    return [
        f"For `model.name: gan`, the GAN keys left null take {model}; `optimizer` and "
        f"`discriminator_optimizer` default to {opt} (DCGAN's), and `trainer.checkpoint.monitor` "
        f"and `trainer.early_stopping.monitor` to `{monitor}`. Every other model refuses the "
        "GAN keys.",
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """The reference as Markdown: one table per top-level section."""
    lines: list[str] = []
    for key in all_keys():
        if "." not in key.key:  # a top-level section starts a table
            lines += ["", f"## `{key.key}`", "", key.doc, ""]
            lines += ["| key | type | default | what it does |", "|---|---|---|---|"]
            continue
        name = f"**`{key.key}`**" if key.section else f"`{key.key}`"
        cells = (name, key.type, f"`{key.default}`", key.doc)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "## A GAN's defaults", "", *_gan_notes(), ""]
    return "\n".join(lines).lstrip("\n")
