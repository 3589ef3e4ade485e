"""`python -m mlcore ARGS` (and `torchrun -m mlcore ARGS`) == `mlcore ARGS`."""

from mlcore.interrupts import catch_sigint, exit_before_start

catch_sigint()  # before the CLI loads: a Ctrl-C while it does is one line, exit 130
try:
    from mlcore.cli import main
except KeyboardInterrupt:
    exit_before_start()

main()
