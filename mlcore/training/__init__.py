"""The training loop and what it writes: run directory, checkpoints, logs, plots."""
