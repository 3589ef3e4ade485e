"""The one error type that library code raises for a user's mistake.

The CLI catches it, prints its message without a traceback and exits 2.
"""

from __future__ import annotations


class MlcoreError(Exception):
    """A user-facing error: bad file, bad config value, unknown name, bad flag."""

    exit_code = 2


class RunFailed(Exception):  # noqa: N818 - reads better at the raise site
    """A failure inside a run (e.g. the loss became NaN): exit code 1, not a user error."""

    exit_code = 1
