"""`mlcore sweep` and `mlcore compare`.

spec.py: the grid, variants and seeds (from the file's `sweep:` section and the flags) and
the trials they make; state.py: sweep.json; runner.py: each trial as its own
`mlcore train` process; compare.py: runs grouped into variants and aggregated over seeds.
Nothing here imports torch: the trials import it in their own processes.
"""
