"""Numeric ``.csv`` files as a feature matrix and optional labels, read with :func:`pandas.read_csv`.

Serves the start of the learnware paradigm for people whose data is a
spreadsheet export: a developer's labelled rows to condense into a
specification, or a user's rows to search and reuse with. pandas does the
parsing; this module adds what a CLI needs around it: a header row detected
rather than declared, a label column named by header or index, and every
refused cell named by file, line and column, since a bad cell in a large
export is otherwise hard to find.

Lines are counted as CSV records from 1 (blank lines included), as a text
editor shows them when no quoted cell spans lines.
"""

from __future__ import annotations

import re
from pathlib import Path

from .common import CLIError

#: Cells that ``float()`` reads as NaN. They count as numbers here, so the
#: caller refuses them with its NaN message rather than "not a number".
_NAN_SPELLINGS = ("nan", "+nan", "-nan")
#: pandas' complaint about a record with more cells than the columns it was given.
_TOO_WIDE = re.compile(r"Expected \d+ fields in line \d+, saw (\d+)")


def read_csv(path: Path, label_column):
    """``(X, labels)`` from a CSV file: X float64 ``(n, d)``, labels a list (or None without ``label_column``).

    The label column may hold any text; every other cell must be a number.
    """
    import numpy as np

    skipped = _blank_lines_before(path)
    table = _read_table(path, skipped)
    table = table[~_blank_records(table)]
    if table.empty:
        raise CLIError(f"{path} is empty")
    widths = _widths(table)
    width = int(widths.iloc[0])
    table = table.iloc[:, :width]
    header = _has_header(table, widths)
    names = _stripped(table.iloc[0]).tolist() if header else [str(j) for j in range(width)]
    body, widths = (table.iloc[1:], widths.iloc[1:]) if header else (table, widths)
    if body.empty:
        raise CLIError(f"{path} has a header but no data rows")
    label_index = _label_index(path, label_column, names, header)
    feature_columns = [j for j in range(width) if j != label_index]
    features = body.iloc[:, feature_columns]
    numbers = features.apply(_to_numbers) if feature_columns else None
    problem = _first_problem(path, features, numbers, widths, width, [names[j] for j in feature_columns],
                             hint="" if label_column is not None else " (a label column? name it with --label-column)",
                             first_line=1 + skipped)
    if problem is not None:
        raise problem
    if not feature_columns:
        raise CLIError(f"{path} has no feature columns besides the label column")
    X = numbers.to_numpy(dtype=np.float64)
    return X, (_labels(_stripped(body.iloc[:, label_index])) if label_index is not None else None)


def _has_header(table, widths) -> bool:
    """A header row has a text cell where the next row has a number (or is all text when it is alone)."""
    first = _is_number(_stripped(table.iloc[0]))
    if len(table) > 1 and widths.iloc[1] == widths.iloc[0]:
        return bool((~first & _is_number(_stripped(table.iloc[1]))).any())
    return not first.any()


def _first_problem(path: Path, features, numbers, widths, width: int, names: list[str], hint: str,
                   first_line: int) -> CLIError | None:
    """The first problem in reading order: a record of the wrong length, or a cell that is not a number.

    ``names`` name the feature columns; ``first_line`` is the line number of
    the table's row 0.
    """
    import numpy as np

    lines = features.index + first_line
    ragged = np.flatnonzero(widths.to_numpy() != width)
    first_ragged = ragged[0] if len(ragged) else len(features)
    bad = _first_non_number(features, numbers) if numbers is not None else None
    if bad is not None and bad[0] < first_ragged:
        row, col = bad
        cell = _stripped(features.iloc[row:row + 1, col]).iloc[0]
        what = "an empty cell" if not cell else f"{cell!r} is not a number"
        return CLIError(f"{path}, line {lines[row]}, column {names[col]!r}: {what}{hint}")
    if len(ragged):
        return CLIError(f"{path}, line {lines[first_ragged]}: {widths.iloc[first_ragged]} values, "
                        f"expected {width} like the first row")
    return None


def _read_table(path: Path, skipped: int):
    """Every cell as text, one row per CSV record; a record's missing trailing cells are None, unlike empty ones.

    The python engine is the one that tells a short record from one with
    empty cells; blank lines are kept so that row numbers stay line numbers.
    pandas refuses a record wider than the first; the file is then read
    again with as many columns as that record has, so every record is looked
    at in reading order (and a record of blank cells is skipped, however
    wide). A file with any other fault (a quote never closed) is refused.
    """
    import pandas as pd

    names = None
    while True:
        try:
            return pd.read_csv(path, header=None, names=names, index_col=False, dtype=object, keep_default_na=False,
                               skip_blank_lines=False, skiprows=skipped, engine="python", encoding="utf-8-sig")
        except pd.errors.EmptyDataError:
            raise CLIError(f"{path} is empty") from None
        except pd.errors.ParserError as exc:
            wider = _TOO_WIDE.search(str(exc))
            if wider is None or int(wider.group(1)) <= len(names or ()):  # not one that a wider read mends
                raise CLIError(f"cannot read {path} as CSV: {exc}") from None
            names = range(int(wider.group(1)))
        except UnicodeDecodeError as exc:
            raise CLIError(f"cannot read {path}: it is not UTF-8 text ({exc})") from None


def _blank_lines_before(path: Path) -> int:
    """How many lines of nothing but spaces and commas open the file.

    pandas takes the number of columns from the first line it reads, so these
    are skipped before it reads; row numbers add them back.
    """
    count = 0
    try:
        with open(path, encoding="utf-8-sig") as f:
            for line in f:
                if line.strip(" \t\r\n,"):
                    break
                count += 1
    except UnicodeDecodeError as exc:
        raise CLIError(f"cannot read {path}: it is not UTF-8 text ({exc})") from None
    return count


def _label_index(path: Path, label_column, names: list[str], header: bool):
    """The position of ``--label-column`` (a header name first, else an index, negative from the end)."""
    if label_column is None:
        return None
    if header and label_column in names:
        return names.index(label_column)
    try:
        index = int(label_column)
    except ValueError:
        known = f"; its columns are {names}" if header else " (it has no header row; give an index)"
        raise CLIError(f"--label-column {label_column!r} is not a column of {path}{known}") from None
    if not -len(names) <= index < len(names):
        raise CLIError(f"--label-column {index} is out of range: {path} has {len(names)} columns")
    return index % len(names)


def _blank_records(table):
    """Which records hold no text: blank lines, and lines of empty or blank cells, which are skipped.

    Only records whose first cell is blank can be; the rest are not looked at
    cell by cell, which keeps a large file fast.
    """
    blank = _stripped(table.iloc[:, 0]) == ""
    if blank.any():
        blank[blank] = table[blank].apply(lambda column: _stripped(column) == "").all(axis=1)
    return blank


def _widths(table):
    """The number of cells in each record (its missing cells are the trailing ones)."""
    return table.notna().sum(axis=1)


def _stripped(cells):
    """Cells as text without surrounding blanks (a missing cell as empty text)."""
    return cells.fillna("").str.strip()


def _to_numbers(cells):
    """A column of text as numbers; NaN where a cell is not one (or spells NaN)."""
    import pandas as pd

    return pd.to_numeric(cells, errors="coerce")


def _is_number(cells):
    """Which (stripped) cells read as numbers, NaN spellings included."""
    return _to_numbers(cells).notna() | cells.str.lower().isin(_NAN_SPELLINGS)


def _first_non_number(features, numbers):
    """``(row, column)`` of the first cell, line by line, that is neither a number nor a NaN spelling.

    Looks only at the cells pandas could not read as numbers (usually none),
    since pandas turns NaN spellings into NaN like unreadable cells and
    ``float()`` did not.
    """
    import numpy as np

    rows, cols = np.nonzero(numbers.isna().to_numpy())
    for row, col in zip(rows, cols):
        cell = features.iat[row, col]
        if cell is None or str(cell).strip().lower() not in _NAN_SPELLINGS:
            return int(row), int(col)
    return None


def _labels(cells) -> list:
    """Labels as ints when every one is an integer, else floats, else the strings themselves."""
    if not _is_number(cells).all():
        return cells.tolist()
    return _to_numbers(cells).tolist()
