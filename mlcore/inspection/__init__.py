"""Model inspection without training (`mlcore summary`): the model a config builds, layer
by layer, with output shapes and parameter counts (summary.py), and its Rich table
(summary_table.py)."""
