"""Reading a config: YAML (safe_load) + `--set` overrides, validated once into `Config`.

Must not import torch, like the sections it builds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mlcore.config.schema import SchemaError, build
from mlcore.config.sections import Config
from mlcore.errors import MlcoreError


class _Loader(yaml.SafeLoader):
    """safe_load, plus floats written as `1e-3`: YAML 1.1 (PyYAML) reads those as strings,
    which surprises everyone who writes a learning rate."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=v` -> (['a', 'b'], v) with v parsed as a YAML scalar or flow value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not p for p in key.strip().split(".")):
        raise MlcoreError(f"--set {text!r}: expected KEY=VALUE, e.g. --set optimizer.lr=0.01")
    try:
        value = safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise MlcoreError(
            f"--set {key}: cannot parse value {raw!r}: {_yaml_problem(err)}"
        ) from None
    return key.strip().split("."), value


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        path, value = parse_override(text)
        node = tree
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise MlcoreError(f"--set {'.'.join(path)}: {part!r} is not a section")
            node = child
        node[path[-1]] = value
    return tree


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Load a YAML mapping with safe_load; every failure is an MlcoreError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MlcoreError(f"{path}: no such config file")
    try:
        tree = safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise MlcoreError(f"{path}: invalid YAML: {_yaml_problem(err)}") from None
    except UnicodeDecodeError:
        raise MlcoreError(f"{path}: not a text file (UTF-8 expected)") from None
    if tree is None or tree == {}:  # a file that sets nothing is a mistake, not "all defaults"
        raise MlcoreError(f"{path}: empty config; see configs/ for examples")
    if not isinstance(tree, dict):
        kind = type(tree).__name__
        raise MlcoreError(f"{path}: the top level must be a mapping of sections, got a {kind}")
    return tree


# A config file may carry a `sweep:` section (`mlcore sweep` reads it, mlcore/sweep/spec.py);
# training that file trains the base config, so every other reader drops the section.
SWEEP_SECTION = "sweep"


def read_base_tree(path: str | Path) -> dict[str, Any]:
    """The config file's tree without its sweep section."""
    tree = read_yaml(path)
    tree.pop(SWEEP_SECTION, None)
    if not tree:
        raise MlcoreError(f"{path}: the file holds only a sweep section; add the base config")
    return tree


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override and validate a config file; raise MlcoreError naming file and key."""
    tree = apply_overrides(read_base_tree(path), list(overrides))
    return validate(tree, source=str(path))


# A GAN's defaults where a classifier's would not work: Adam at lr 2e-4 with beta1 0.5 for
# both networks (Radford et al., 2016, DCGAN, section 4), and sample quality as the monitor.
GAN_OPTIMIZER = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
GAN_MONITOR = {"monitor": "val/score"}


def _gan_defaults(tree: dict[str, Any]) -> dict[str, Any]:
    """Fill in the GAN defaults for the keys the user left out (before validation, which
    cannot tell a default from a value the user wrote)."""
    model = tree.get("model")
    if not isinstance(model, dict) or model.get("name") != "gan":
        return tree
    tree = dict(tree)
    for section in ("optimizer", "discriminator_optimizer"):
        given = tree.get(section)
        if given is None or isinstance(given, dict):
            opt = dict(given or {})
            if opt.get("name", "adam") == "adam":
                opt = {**GAN_OPTIMIZER, **opt}
            tree[section] = opt
    trainer = tree.get("trainer")
    if trainer is None or isinstance(trainer, dict):
        trainer = dict(trainer or {})
        for key in ("checkpoint", "early_stopping"):
            if trainer.get(key) is None or isinstance(trainer.get(key), dict):
                trainer[key] = {**GAN_MONITOR, **(trainer.get(key) or {})}
        tree["trainer"] = trainer
    return tree


def validate(tree: dict[str, Any], source: str = "<config>") -> Config:
    try:
        return build(Config, _gan_defaults(tree))
    except SchemaError as err:
        raise MlcoreError(f"{source}: {err.key}: {err.message}") from None


def dump(config: Config) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None)
