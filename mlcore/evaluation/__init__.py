"""The evaluator: metrics as pure functions of one confusion matrix (metrics.py) and their
accumulators (accumulators.py), what each task computes (tasks.py), the evaluation loop
(evaluate.py), reports as tables (report_table.py), eval's files (outputs.py), a GAN's
sample quality (generation_metrics.py, judges.py), and `mlcore sample`'s draws from a GAN
run (sampling.py)."""
