"""The sync watermark kept inside Iceberg (the :class:`~cutover.source.watermark.Watermark` itself is the
source's: what a snapshot saw).

It is a snapshot-summary property (``cutover.watermark``) of every load and sync commit, so the data and
the position it was read at always commit together: a crashed sync leaves the previous watermark in
place and its rerun reads the same changes again (the merge is by key, so nothing is duplicated).
"""

from __future__ import annotations

from pyiceberg.table import Table

from cutover import names
from cutover.lake.checkpoint import history
from cutover.source.watermark import Watermark


def read_watermark(table: Table) -> Watermark | None:
    """The watermark of the newest commit that has one (a load's or a sync's)."""
    for snapshot in history(table):
        text = snapshot.summary.get(names.PROP_WATERMARK) if snapshot.summary is not None else None
        if text:
            return Watermark.from_json(text)
    return None
