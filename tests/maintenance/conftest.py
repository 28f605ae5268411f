"""The maintenance tests' table: the sync tests' 20,000 orders, loaded into a fresh Iceberg catalog."""

from __future__ import annotations

from tests.sync.conftest import orders

__all__ = ["orders"]
