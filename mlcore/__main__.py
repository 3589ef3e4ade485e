"""`python -m mlcore ARGS` (and `torchrun -m mlcore ARGS`) == `mlcore ARGS`."""

from mlcore.cli import main

main()
