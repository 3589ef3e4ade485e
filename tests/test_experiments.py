"""experiments/*.yaml: each is an ordinary config plus a `sweep:` section (the format of
`mlcore sweep`). Every file parses, its sweep section is well formed, and every trial (grid x
variants x seeds, applied as --set overrides) is a valid config whose parts build and whose
metric and target are columns its runs will log; `mlcore sweep`'s own planner agrees."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml

from mlcore.config import load_config

EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.yaml"))
SWEEP_KEYS = {"grid", "variants", "seeds", "metric", "target"}


def _sweep(path: Path) -> tuple[dict, dict]:
    tree = yaml.safe_load(path.read_text())
    return tree, tree.pop("sweep")


def _seeds(sweep: dict) -> list[int]:
    seeds = sweep.get("seeds", 1)
    return list(range(seeds)) if isinstance(seeds, int) else list(seeds)


def _combinations(sweep: dict) -> list[tuple[str, list[str]]]:
    """(name, overrides) per grid point x variant, seeds apart; values as YAML flow text."""
    grid = sweep.get("grid") or {}
    variants = sweep.get("variants") or {"base": {}}
    points = [dict(zip(grid, vs)) for vs in itertools.product(*grid.values())] or [{}]
    out = []
    for (vname, bundle), point in itertools.product(variants.items(), points):
        both = {**point, **bundle}
        name = ",".join([vname, *(f"{k}={json.dumps(v)}" for k, v in point.items())])
        out.append((name, [f"{k}={json.dumps(v)}" for k, v in both.items()]))
    return out


def _base_file(path: Path, tmp_path: Path) -> Path:
    tree, _ = _sweep(path)
    base = tmp_path / path.name
    base.write_text(yaml.safe_dump(tree))
    return base


def test_there_is_one_file_per_claim():
    assert [p.name[:2] for p in EXPERIMENTS] == [f"{i:02d}" for i in range(1, 14)]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_sweep_section_is_well_formed(path):
    tree, sweep = _sweep(path)
    assert set(sweep) <= SWEEP_KEYS, set(sweep) - SWEEP_KEYS
    assert sweep.get("grid") or sweep.get("variants"), "nothing to compare"
    for key, values in (sweep.get("grid") or {}).items():
        assert isinstance(values, list) and len(values) >= 2, key
        assert len({json.dumps(v) for v in values}) == len(values), f"{key}: repeated value"
    for name, bundle in (sweep.get("variants") or {}).items():
        assert isinstance(bundle, dict) and bundle, name
        assert not set(bundle) & set(sweep.get("grid") or {}), f"{name} overlaps the grid"
    seeds = _seeds(sweep)
    assert len(seeds) >= 3 and all(isinstance(s, int) and s >= 0 for s in seeds)
    assert isinstance(sweep["metric"], str) and "/" in sweep["metric"]
    if "target" in sweep:
        key, sep, value = sweep["target"].partition("=")
        assert sep and "/" in key and float(value) == float(value)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_trial_config_validates(path, tmp_path):
    _, sweep = _sweep(path)
    base = _base_file(path, tmp_path)
    seen = set()
    for _name, overrides in _combinations(sweep):
        for seed in _seeds(sweep):
            cfg = load_config(base, [*overrides, f"run.seed={seed}"])
            assert cfg.run.seed == seed
            seen.add(json.dumps(cfg.to_dict(), sort_keys=True))
    # no two trials are the same run: every variant and grid value changes something
    assert len(seen) == len(_combinations(sweep)) * len(_seeds(sweep)), path.name


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_mlcore_sweep_plans_the_same_trials(path):
    """The sweep planner itself (what `mlcore sweep --dry-run` runs) accepts the file and
    makes exactly the trials above, each validated."""
    from mlcore.sweep.spec import build_spec, make_trials, validate_trials

    spec = build_spec(path)
    trials = make_trials(spec)
    validate_trials(spec, trials)
    _, sweep = _sweep(path)
    assert len(trials) == len(_combinations(sweep)) * len(_seeds(sweep))
    assert len({t.variant for t in trials}) == len(_combinations(sweep))
    assert spec.metric == sweep["metric"]


@pytest.mark.slow
@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_trial_builds_and_logs_its_metric(path, tmp_path):
    """The parts build (the model fits the data, the monitors exist) and the sweep's metric
    and target are metrics.csv columns of the run: checked on each trial's seed-0 config."""
    from mlcore.api import SilentReporter, build_parts_from
    from mlcore.training.trainer import Trainer

    _, sweep = _sweep(path)
    base = _base_file(path, tmp_path)
    wanted = {sweep["metric"]}
    if "target" in sweep:
        wanted.add(sweep["target"].partition("=")[0])
    first = _combinations(sweep)[0][0]
    for name, overrides in _combinations(sweep):
        cfg = load_config(base, overrides)
        if cfg.model.name == "gan" and name != first:  # a GAN's parts include its judge
            continue
        parts = build_parts_from(cfg, base)
        columns = Trainer(parts, None, SilentReporter()).columns
        assert wanted <= set(columns), f"{name}: {wanted - set(columns)} not in {columns}"
