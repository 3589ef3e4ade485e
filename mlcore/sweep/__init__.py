"""`mlcore sweep` and `mlcore compare`.

sweep: spec.py (the grid, variants and seeds from the file's `sweep:` section and the flags,
and the trials they make), state.py (sweep.json, a trial's status), runner.py (each trial as
its own `mlcore train` process; --jobs, signals, resume), plan.py (top-down: validate, then
run or print the commands).
compare: runs_read.py (run directories, variants), compare.py (aggregation over seeds, the
best variant), compare_table.py (the Rich table), report.py (top-down, compare.json and the
figure, mlcore/plots/compare.py).
Nothing here imports torch: the trials import it in their own processes.
"""
