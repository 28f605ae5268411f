"""The dual-backend data tier (design §9): what the application imports to read its entities.

Public surface: :class:`DataTier` (``read``, ``read_result``, ``read_from``, ``compare``), its factory
:func:`open_data_tier` and :class:`TierSettings`, the filters :class:`Eq`, :class:`In`, :class:`Range`,
the :class:`Router` and its :class:`RouteDecision`, the comparison helpers, and the tier's errors. The
value convention both backends follow is documented in :mod:`cutover.tier.normalize`.
"""

from cutover.tier.errors import (
    IcebergReadError,
    InvalidReadError,
    PostgresReadError,
    SnapshotNotFoundError,
    TierError,
    TimeTravelDisabledError,
)
from cutover.tier.iceberg import IcebergBackend
from cutover.tier.normalize import Comparison, compare_rows
from cutover.tier.postgres import PostgresBackend
from cutover.tier.query import Eq, Filter, In, Range, ReadQuery, parse_filter
from cutover.tier.router import Backend, RouteDecision, Router
from cutover.tier.stats import TierCounts, TierStats
from cutover.tier.tier import DataTier, TierRead, TierSettings, open_data_tier

__all__ = [
    "Backend",
    "Comparison",
    "DataTier",
    "Eq",
    "Filter",
    "IcebergBackend",
    "IcebergReadError",
    "In",
    "InvalidReadError",
    "PostgresBackend",
    "PostgresReadError",
    "Range",
    "ReadQuery",
    "RouteDecision",
    "Router",
    "SnapshotNotFoundError",
    "TierCounts",
    "TierError",
    "TierRead",
    "TierSettings",
    "TierStats",
    "TimeTravelDisabledError",
    "compare_rows",
    "open_data_tier",
    "parse_filter",
]
