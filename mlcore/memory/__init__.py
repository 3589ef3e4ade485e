"""`mlcore gpu-mem`: training memory per device from a trace of mlcore's own step.

trace.py (fake-tensor trace of SupervisedStep) -> tracker.py (the ordered timeline) ->
estimate.py (per device: DDP buckets, DataParallel's gather, cuBLAS workspaces) ->
allocator.py / replay.py (what the CUDA caching allocator reports) -> report.py (rules,
largest batch via search.py) -> table.py (what the CLI prints). Imports nothing here: the
CLI reads sizes.py without loading torch.
"""
