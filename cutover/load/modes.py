"""How a full load treats existing tables: a module of its own so the CLI can name it without loading settings."""

from __future__ import annotations

from typing import Literal

LoadMode = Literal["create", "resume", "replace"]
"""How `migrate` treats an Iceberg table that already exists.

* ``create``: refuse when the table exists (safe default for a first load).
* ``resume``: continue the load recorded in the table's checkpoint; create it when absent.
* ``replace``: drop the existing table (and its files) and load afresh.
"""
