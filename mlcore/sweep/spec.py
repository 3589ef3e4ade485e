"""What a sweep runs: the grid, the named variants and the seeds, and the trials they make.

A sweep file is an ordinary config with a `sweep:` section (the config loader drops it, so
`mlcore train` on the same file trains the base config):

    sweep:
      grid: {optimizer.lr: [0.1, 0.01]}          # product of every key's list
      variants: {sgd: {optimizer.name: sgd}, adam: {optimizer.name: adam}}
      seeds: 3                                   # or a list [0, 1, 2]
      metric: val/accuracy                       # compare's default --metric
      target: val/accuracy=0.95                  # compare's default --target

Trials = variants x grid x seeds. `--grid KEY=V1,V2` replaces the file's list for KEY (other
keys of the file's grid stay); `--seeds` / `--seed-list` replace the file's seeds.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.config.load import (
    SWEEP_SECTION,
    apply_overrides,
    dump,
    read_base_tree,
    read_yaml,
    safe_load,
    validate,
)
from mlcore.errors import MlcoreError

SECTION_KEYS = ("grid", "variants", "seeds", "metric", "target")
MAX_ID = 120  # characters of a trial's folder name (file systems allow 255; keep ls readable)
_UNSAFE = re.compile(r"[^A-Za-z0-9._,=+-]")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Trial:
    id: str  # folder name under SWEEP_DIR/runs
    variant: str  # the id without its seed: the row `compare` puts it in
    overrides: tuple[str, ...]  # KEY=VALUE for --set (the sweep's own --set excluded)
    seed: int


@dataclass(frozen=True)
class SweepSpec:
    config: Path
    sets: tuple[str, ...] = ()
    grid: dict[str, list[Any]] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    metric: str | None = None
    target: str | None = None
    config_hash: str = ""

    def identity(self) -> dict[str, Any]:
        """What must match for a sweep directory to be resumed (seeds may grow)."""
        grid = {k: [format_value(v) for v in vs] for k, vs in self.grid.items()}
        return {"config_hash": self.config_hash, "grid": grid, "variants": self.variants}


def format_value(value: Any) -> str:
    """A value as `--set` text that parses back to the same value (YAML flow = JSON)."""
    if isinstance(value, str):
        try:
            same = safe_load(value) == value
        except Exception:  # noqa: BLE001 - any YAML trouble: quote it
            same = False
        return value if same else json.dumps(value)
    if isinstance(value, float):
        return repr(value)  # 0.01, 1e-05: the config loader reads both as floats
    if isinstance(value, (list, dict, bool)) or value is None:
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def split_values(text: str) -> list[str]:
    """`0.1,0.01` -> ['0.1', '0.01']; commas inside [...] or {...} do not split
    (`model.hidden=[64,64],[32]`)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def parse_grid_flag(text: str) -> tuple[str, list[Any]]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise MlcoreError(f"--grid {text!r}: expected KEY=V1,V2,..., e.g. optimizer.lr=0.1,0.01")
    values = []
    for piece in split_values(raw):
        if not piece.strip():
            raise MlcoreError(f"--grid {key}: empty value in {raw!r}")
        try:
            values.append(safe_load(piece))
        except Exception:  # noqa: BLE001 - yaml.YAMLError and friends
            raise MlcoreError(f"--grid {key}: cannot parse value {piece!r}") from None
    return key, values


def _section(path: Path) -> dict[str, Any]:
    tree = read_yaml(path)
    section = tree.get(SWEEP_SECTION) or {}
    if not isinstance(section, dict):
        raise MlcoreError(f"{path}: sweep: must be a mapping ({', '.join(SECTION_KEYS)})")
    for key in section:
        if key not in SECTION_KEYS:
            raise MlcoreError(f"{path}: sweep.{key}: unknown key; valid: {', '.join(SECTION_KEYS)}")
    return section


def _grid(path: Path, section: dict[str, Any], flags: list[str]) -> dict[str, list[Any]]:
    grid = section.get("grid") or {}
    if not isinstance(grid, dict):
        raise MlcoreError(f"{path}: sweep.grid: must map config keys to lists of values")
    grid = {str(k): v for k, v in grid.items()}
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise MlcoreError(f"{path}: sweep.grid.{key}: must be a non-empty list of values")
    flagged: set[str] = set()
    for text in flags:  # a flag replaces the file's list for its key
        key, values = parse_grid_flag(text)
        if key in flagged:  # the second would silently win: likely a typo for another key
            raise MlcoreError(
                f"--grid {key}: given twice; give every value in one flag, e.g. "
                f"--grid {key}=V1,V2,V3"
            )
        flagged.add(key)
        grid[key] = values
    for key, values in grid.items():
        if key == "run.seed":
            raise MlcoreError(f"grid {key}: give seeds with --seeds N or --seed-list 0,1,2")
        texts = [format_value(v) for v in values]
        if len(set(texts)) != len(texts):
            raise MlcoreError(f"grid {key}: a value is repeated in {texts}")
    return grid


def _variants(path: Path, section: dict[str, Any], grid: dict) -> dict[str, dict[str, Any]]:
    variants = section.get("variants") or {}
    if not isinstance(variants, dict):
        raise MlcoreError(f"{path}: sweep.variants: must map names to {{key: value}} mappings")
    for name, overrides in variants.items():
        where = f"{path}: sweep.variants.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise MlcoreError(f"{where}: a name is letters, digits, '_', '.', '-'")
        if not isinstance(overrides, dict) or not overrides:
            raise MlcoreError(f"{where}: must be a mapping of config keys to values")
        for key in overrides:
            if key == "run.seed" or key in grid:
                why = "seeds come from sweep.seeds" if key == "run.seed" else "it is in the grid"
                raise MlcoreError(f"{where}: {key} cannot be set here ({why})")
    return variants


def _seeds(path: Path, section: dict, seeds: int | None, seed_list: str | None, base: int):
    if seeds is not None and seed_list is not None:
        raise MlcoreError("--seeds and --seed-list: give one of them")
    if seeds is not None:
        value: Any = seeds
    elif seed_list is not None:
        try:
            value = [int(s) for s in seed_list.split(",")]
        except ValueError:
            raise MlcoreError(f"--seed-list {seed_list!r}: expected integers, e.g. 0,1,2") from None
    else:
        value = section.get("seeds", [base])
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise MlcoreError(f"seeds {value}: must be at least 1")
        value = list(range(value))
    ok = (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    )
    if not ok or len(set(value)) != len(value):
        raise MlcoreError(f"{path}: seeds {value!r}: a count, or a list of distinct integers >= 0")
    return tuple(value)


def build_spec(
    config: Path,
    grid_flags: list[str] = (),  # type: ignore[assignment]
    sets: list[str] = (),  # type: ignore[assignment]
    seeds: int | None = None,
    seed_list: str | None = None,
) -> SweepSpec:
    """Read the file's sweep section, apply the flags, validate the base config."""
    section = _section(config)
    base_tree = read_base_tree(config)
    base = validate(apply_overrides(copy.deepcopy(base_tree), list(sets)), source=str(config))
    grid = _grid(config, section, list(grid_flags))
    for key in ("metric", "target"):
        if section.get(key) is not None and not isinstance(section[key], str):
            raise MlcoreError(f"{config}: sweep.{key}: must be a string, e.g. val/accuracy")
    return SweepSpec(
        config=config,
        sets=tuple(sets),
        grid=grid,
        variants=_variants(config, section, grid),
        seeds=_seeds(config, section, seeds, seed_list, base.run.seed),
        metric=section.get("metric"),
        target=section.get("target"),
        config_hash=hashlib.sha256(dump(base).encode()).hexdigest()[:16],
    )


def make_trials(spec: SweepSpec) -> list[Trial]:
    """variants x grid x seeds, in that order (seeds innermost)."""
    variants = list(spec.variants.items()) or [("", {})]
    keys = list(spec.grid)
    combos = list(itertools.product(*(spec.grid[k] for k in keys)))
    rows = []
    for (name, bundle), combo in itertools.product(variants, combos):
        overrides = [f"{k}={format_value(v)}" for k, v in bundle.items()]
        overrides += [f"{k}={format_value(v)}" for k, v in zip(keys, combo, strict=True)]
        grid_part = [f"{k}={format_value(v)}" for k, v in zip(keys, combo, strict=True)]
        rows.append((name, grid_part, tuple(overrides)))
    long = any(len(_join(name, part, max(spec.seeds))) > MAX_ID for name, part, _ in rows)
    trials = []
    for name, grid_part, overrides in rows:
        if long:  # short keys: optimizer.lr=0.01 -> lr=0.01
            grid_part = [p.split("=", 1)[0].rsplit(".", 1)[-1] + "=" + p.split("=", 1)[1]
                         for p in grid_part]  # fmt: skip
        for seed in spec.seeds:
            trial_id = _folder_name(_join(name, grid_part, seed))
            variant = trial_id.rsplit(",seed=", 1)[0] if trial_id.count(",seed=") else "base"
            trials.append(Trial(trial_id, variant, overrides, seed))
    ids = [t.id for t in trials]
    if len(set(ids)) != len(ids):  # short keys collided (model.hidden and d.hidden): hash them
        trials = [_hashed(t) for t in trials]
    return trials


def _join(variant: str, grid_part: list[str], seed: int) -> str:
    return ",".join([*([variant] if variant else []), *grid_part, f"seed={seed}"])


def _folder_name(text: str) -> str:
    name = _UNSAFE.sub("_", text)
    if len(name) > MAX_ID:  # keep the readable start and the seed; a hash keeps it unique
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        seed = name.rsplit(",seed=", 1)[-1]
        name = f"{name[: MAX_ID - 30]}-{digest},seed={seed}"
    return name


def _hashed(trial: Trial) -> Trial:
    digest = hashlib.sha1(",".join(trial.overrides).encode()).hexdigest()[:8]
    variant = f"{trial.variant[: MAX_ID - 30]}-{digest}"
    return Trial(f"{variant},seed={trial.seed}", variant, trial.overrides, trial.seed)


def validate_trials(spec: SweepSpec, trials: list[Trial]) -> None:
    """Every trial's config validated before any trial runs: a bad grid value fails now,
    in one line, not after hours of the trials before it."""
    tree = read_base_tree(spec.config)
    for trial in trials:
        overrides = [*spec.sets, *trial.overrides, f"run.seed={trial.seed}"]
        try:
            validate(apply_overrides(copy.deepcopy(tree), overrides), source=str(spec.config))
        except MlcoreError as err:
            raise MlcoreError(f"trial {trial.id}: {err}") from None


def train_args(spec: SweepSpec, trial: Trial, run_dir: Path) -> list[str]:
    """The `mlcore train` arguments of a trial (after `mlcore`)."""
    sets = [*spec.sets, *trial.overrides, f"run.seed={trial.seed}"]
    args = ["train", str(spec.config)]
    for text in sets:
        args += ["--set", text]
    return [*args, "--run-dir", str(run_dir), "--quiet"]
