"""Summary tables that fit an 80-column terminal: one look for every command.

Names (tables, queries, gates) never wrap inside a word, numbers are right-aligned and never wrap, and
only prose columns wrap, at spaces. There is no frame (underlined headers, two spaces between columns)
so the columns get the width; what does not fit a cell (why deletes were found by key sets,
which columns a sync added) is printed under the table, one line per table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table

ColumnKind = Literal["name", "number", "word", "text"]
"""``name``: an identifier, kept whole; ``number``: right-aligned; ``word``: a short status; ``text``: prose."""


@dataclass(frozen=True)
class Column:
    header: str
    kind: ColumnKind = "number"


def summary_table(title: str, columns: Sequence[Column]) -> Table:
    """An empty table with ``columns`` laid out as the module says."""
    table = Table(
        title=title, box=None, pad_edge=False, show_edge=False, title_justify="left", title_style="bold",
        header_style="bold underline",
    )  # fmt: skip
    for column in columns:
        header = column.header.replace(" ", "\n")  # headers wrap at their spaces; the cells below do not
        if column.kind == "number":
            table.add_column(header, justify="right", no_wrap=True)
        elif column.kind in ("name", "word"):
            table.add_column(header, no_wrap=True, overflow="fold")
        else:
            table.add_column(header, overflow="fold")
    return table


def number(value: int | float | None, digits: int = 0) -> str:
    """Thousands separated (floats with ``digits`` decimals); ``-`` for nothing."""
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"


def percent(value: float) -> str:
    """Two decimals, rounded down: 99.9997 % is ``99.99``, never a ``100.00`` that hides a difference."""
    return f"{math.floor(value * 100) / 100:.2f}"


def run_scope(identifiers: Iterable[tuple[str, str]]) -> tuple[str, bool]:
    """``"public → lake"`` for a run's (source schema, Iceberg identifier) pairs, and whether the table names
    alone then say everything (one schema into one namespace, as every job does)."""
    pairs = {(schema, identifier.rpartition(".")[0]) for schema, identifier in identifiers}
    if len(pairs) == 1:
        schema, namespace = next(iter(pairs))
        return f"{schema} → {namespace}", True
    return "", False


def print_table(table: Table, notes: Iterable[str] = ()) -> None:
    """The table on stdout (a report, for pipes), then each note on its own line."""
    out = Console()
    out.print(table)
    for note in notes:
        out.print(note, highlight=False)  # prose: wrapped at the width, between words
