"""A sweep top-down: read and validate everything, check the sweep directory, then either
print the commands (--dry-run) or run what is missing, keeping sweep.json current."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.sweep.runner import (
    Finished,
    Runner,
    action,
    command,
    set_aside,
    shell_command,
    sweep_lock,
)
from mlcore.sweep.spec import SweepSpec, Trial, build_spec, make_trials, validate_trials
from mlcore.sweep.state import check_same_sweep, read_sweep, run_status, write_sweep


@dataclass
class Plan:
    spec: SweepSpec
    trials: list[Trial]
    sweep_dir: Path
    records: dict[str, dict[str, Any]]  # trial id -> status, best, error, duration_s
    todo: list[tuple[Trial, str]]  # (trial, "train" | "resume"), in order


def default_sweep_dir(config: Path) -> Path:
    return Path("sweeps") / config.stem


def plan_sweep(
    config: Path,
    grid_flags: list[str],
    sets: list[str],
    seeds: int | None,
    seed_list: str | None,
    sweep_dir: Path | None,
) -> Plan:
    """Everything checked before any trial runs or any file is written."""
    spec = build_spec(config, grid_flags, sets, seeds, seed_list)
    trials = make_trials(spec)
    validate_trials(spec, trials)
    sweep_dir = sweep_dir or default_sweep_dir(config)
    old = read_sweep(sweep_dir)
    check_same_sweep(sweep_dir, spec, old)
    earlier = {t["id"]: t for t in (old or {}).get("trials", [])}
    records = {}
    for trial in trials:
        record = run_status(sweep_dir, trial.id)
        if record["status"] == "pending" and earlier.get(trial.id, {}).get("status") == "failed":
            record = {"status": "failed", "error": earlier[trial.id].get("error")}
        records[trial.id] = record
    todo = [(t, what) for t in trials if (what := action(sweep_dir, t, records[t.id])) != "skip"]
    return Plan(spec, trials, sweep_dir, records, todo)


def dry_run(plan: Plan) -> list[str]:
    """sweep.json written; one shell command per trial still to run. A failed trial's run
    directory moves to failed/ first, as a run would, so that its command can start."""
    with sweep_lock(plan.sweep_dir):  # not beside a sweep running there: its trials
        for trial, _ in plan.todo:  # only failed ones: a `running` one may run elsewhere
            if plan.records[trial.id]["status"] == "failed":
                set_aside(plan.sweep_dir, trial)
        write_sweep(plan.sweep_dir, plan.spec, plan.trials, plan.records)
    return [shell_command(command(plan.spec, plan.sweep_dir, t, what)) for t, what in plan.todo]


def run_plan(plan: Plan, jobs: int, on_finish: Callable[[Finished], None]) -> bool:
    """Run the trials still to run; sweep.json is rewritten after each one finishes.
    True when all ran to their end, False when a signal stopped the sweep."""

    def finished(event: Finished) -> None:
        plan.records[event.trial.id] = event.record
        write_sweep(plan.sweep_dir, plan.spec, plan.trials, plan.records)
        on_finish(event)

    with sweep_lock(plan.sweep_dir):
        write_sweep(plan.sweep_dir, plan.spec, plan.trials, plan.records)
        return Runner(plan.spec, plan.sweep_dir, jobs, finished).run(plan.todo)


def counts(plan: Plan) -> dict[str, int]:
    found: dict[str, int] = {}
    for trial in plan.trials:
        status = plan.records[trial.id]["status"]
        found[status] = found.get(status, 0) + 1
    return found
