"""`python cli.py ARGS` behaves exactly like `mlcore ARGS`."""

from mlcore.cli import main

if __name__ == "__main__":
    main()
