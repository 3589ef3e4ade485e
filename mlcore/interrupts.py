"""Ctrl-C at any moment of a command: remembered, so that it always ends as one line.

Python's own SIGINT handler raises KeyboardInterrupt wherever the main thread is. Inside an
import (torch takes seconds to load) that can leave a half-loaded extension behind, and the
interrupt then surfaces as another exception ("ImportError: cannot load module more than once
per process"). This handler raises the same KeyboardInterrupt but records that it did, so
the CLI's entry point can tell an interrupt from a bug whatever exception reaches it.
Standard library only: the CLI installs it before anything else loads.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn


class State:
    interrupted = False  # a SIGINT arrived during this command
    exiting = False  # the one interrupt line is being written: a further Ctrl-C waits


def _on_sigint(_signum: int, _frame: Any) -> None:
    State.interrupted = True
    if not State.exiting:
        raise KeyboardInterrupt


def _on_unraisable(unraisable: Any) -> None:
    """A KeyboardInterrupt raised while Python runs a weakref callback or a finalizer (an
    import lock's clean-up, say: seen on a GPU machine while CUDA loaded) cannot propagate:
    Python prints "Exception ignored in ..." with a traceback and goes on as if no Ctrl-C had
    come. Deliver it again a moment later, from another thread: raised from here it would
    fire inside this hook, and be ignored the same way."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        main = threading.main_thread().ident  # a real signal: it wakes a sleeping call too
        threading.Timer(0.01, signal.pthread_kill, (main, signal.SIGINT)).start()
        return
    _previous_unraisablehook(unraisable)


_previous_unraisablehook = sys.unraisablehook


def catch_sigint() -> None:
    """Install the handler (main thread only; the trainer swaps in its own while it trains
    and puts this one back after)."""
    State.interrupted = State.exiting = False
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)
        sys.unraisablehook = _on_unraisable


@contextlib.contextmanager
def stop_signals_handled(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """SIGINT and SIGTERM go to `handler` inside the block, the previous handlers after it
    (only the main thread can set handlers: elsewhere the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, previous in old.items():
            signal.signal(s, previous)


def command() -> str | None:
    """The command word of this command line (`train`, `eval`...), read from argv: after an
    interrupt the parsed arguments may never have been bound."""
    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    return words[0] if words else None


def exit_before_start() -> NoReturn:
    """A Ctrl-C while the CLI itself loads: nothing can have been written yet."""
    State.exiting = True
    print("interrupted before training; nothing written" if command() == "train" else "interrupted")
    sys.exit(130)
