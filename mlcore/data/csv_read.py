"""Reading a CSV file as it comes: the delimiter sniffed, the header required, missing cells
marked. pandas is imported here, when a CSV is read, never at CLI start-up.

The delimiter is `data.delimiter` when given (one character, `tab` or `whitespace`), else the
first of `,` `;` tab that splits the header and the first rows into the same number (> 1) of
cells (quotes respected, as the csv module reads them), else runs of whitespace. Sniffing
first is what lets a semicolon file name its columns a, b, y instead of one column "a;b;y".
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from mlcore.errors import MlcoreError

# The cells that mean "missing" in every file; data.na_values adds to them. pandas' longer
# default list ("null", "n/a", "#N/A", ...) is not used: a category called "None" stays one.
NA_VALUES = ("NA", "", "NaN", "?")
CANDIDATES = (",", ";", "\t")
SNIFF_LINES = 50
SAMPLE_ROWS = 1000
WHITESPACE = r"\s+"
NAMED = {"tab": "\t", "whitespace": WHITESPACE}


def _sample(path: Path) -> list[str]:
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        lines = []
        for line in f:
            if line.strip():
                lines.append(line)
            if len(lines) >= SNIFF_LINES:
                break
    return lines


def _cells(lines: list[str], sep: str) -> set[int]:
    return {len(row) for row in csv.reader(io.StringIO("".join(lines)), delimiter=sep)}


def sniff(path: Path) -> str:
    """The delimiter of `path` (see the module docstring); `,` when nothing splits it."""
    lines = _sample(path)
    if not lines:
        raise MlcoreError(f"{path}: the file is empty; a CSV needs a header row and data rows")
    for sep in CANDIDATES:
        counts = _cells(lines, sep)
        if len(counts) == 1 and counts.pop() > 1:
            return sep
    widths = {len(line.split()) for line in lines}
    if len(widths) == 1 and widths.pop() > 1:
        return WHITESPACE
    return ","


def delimiter_name(sep: str) -> str:
    return {"\t": "tab", WHITESPACE: "whitespace"}.get(sep, sep)


def read_table(path: Path, delimiter: str | None, na_values: tuple[Any, ...]) -> tuple[Any, str]:
    """(the file as a pandas DataFrame, the delimiter used). Cells in NA_VALUES or
    `na_values` are NaN; everything else as pandas parses it (numbers or text)."""
    import pandas as pd

    if not path.is_file():
        raise MlcoreError(f"data.path: no such CSV file: {path}")
    sep = NAMED.get(delimiter, delimiter) if delimiter is not None else sniff(path)
    options = {
        "sep": sep,
        "header": 0,
        "keep_default_na": False,
        "na_values": [*NA_VALUES, *(str(v) for v in na_values)],
        "skipinitialspace": True,
        "encoding": "utf-8",
        "engine": "c",
    }
    try:
        # Text columns of the first rows are read as pandas categories: the parser hashes
        # their cells into codes without making a Python string per cell (a third of the
        # time of a million-row file with five text columns). A column that turns out
        # to be text further down comes back as strings, and is typed the same way.
        head = pd.read_csv(path, nrows=SAMPLE_ROWS, **options)
        text = {c: "category" for c in head.columns if not _numeric_dtype(head[c])}
        frame = pd.read_csv(path, dtype=text, **options)
    except pd.errors.EmptyDataError:
        raise MlcoreError(f"{path}: the file is empty; a CSV needs a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise MlcoreError(f"{path}: cannot be read as CSV ({_short(err)})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, sep


def _numeric_dtype(series: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series.dtype))


def _short(err: Exception) -> str:
    text = re.sub(r"\s+", " ", str(err)).strip()
    return text.removeprefix("Error tokenizing data. C error: ")


def header_problems(frame: Any, sep: str) -> list[str]:
    """What is wrong with the header itself: numbers only (no header), one column that
    looks like several under another delimiter, no data rows."""
    names = list(frame.columns)
    problems = []
    if names and all(_is_number(n) for n in names):
        shown = ", ".join(names[:4])
        problems.append(f"row 1 must be the header (column names), but it holds numbers ({shown})")
    if len(names) == 1:
        other = [d for d in CANDIDATES if d != sep and d in names[0]]
        hint = f"; is the delimiter {delimiter_name(other[0])!r}? (data.delimiter)" if other else ""
        problems.append(f"the header has one column {names[0]!r}{hint}")
    if len(frame) == 0:
        problems.append("no data rows after the header")
    return problems


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
