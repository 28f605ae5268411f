"""Typed settings, built once at the edge (CLI, flow parameters, API) and passed inward.

Library code never reads the environment itself: it takes these objects as parameters, so tests and
production differ only in what they pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cutover.errors import ConfigError, describe_validation
from cutover.load.modes import LoadMode as LoadMode  # re-exported: it lived here first

DEFAULT_STATE_DIR = Path(".cutover")
EMBEDDED_CATALOG_FILE = "catalog.db"
"""The embedded SQLite catalog's file under the state directory."""


class ColumnOptions(BaseModel):
    """Per-column opt-ins for values Iceberg cannot hold exactly (design §4)."""

    numeric: Literal["refuse", "decimal38", "string"] = "refuse"
    """Unconstrained numeric / numeric(p>38): refuse, decimal(38, numeric_scale) with an overflow check, or text."""
    numeric_scale: int = Field(default=9, ge=0, le=38)
    infinity: Literal["refuse", "sentinel"] = "refuse"
    """±infinity dates/timestamps: refuse, or map to the sentinels below."""
    negative_infinity_sentinel: str = "0001-01-01 00:00:00"
    positive_infinity_sentinel: str = "9999-12-31 23:59:59.999999"


class SyncOptions(BaseModel):
    """How the nightly sync follows one table (``{"schema.table": {"sync": {...}}}`` in the table options)."""

    cursor: str | None = None
    """Column whose value rises with every change (e.g. ``updated_at``, NOT NULL, indexed); overrides the
    sync's ``--cursor``. Without one the table is followed by ``xmin``, which scans the whole table."""
    xmin_only: bool = False
    """Follow this table by xmin even when it has the sync's default cursor column."""
    cursor_lag_seconds: float = Field(default=0.0, ge=0)
    """Subtracted from timestamptz cursor bounds: for writers that stamp rows from their own clocks."""
    dropped_columns: Literal["refuse", "keep"] = "refuse"
    """A column dropped in the source: refuse the sync, or keep it in Iceberg (new rows hold NULL)."""
    deletes: Literal["log", "key-sets"] = "log"
    """How hard deletes are found: ``log`` installs a delete log (triggers copying deleted keys into
    ``cutover.deletes_<id>``; needs table ownership) and falls back to key sets where it cannot;
    ``key-sets`` compares the source's key set with Iceberg's on every sync (a scan of every key, and
    nothing installed on the source)."""


class TableOptions(BaseModel):
    """Options for one source table: per-column opt-ins, how the sync follows it, its row-group size."""

    columns: dict[str, ColumnOptions] = Field(default_factory=dict)
    sync: SyncOptions = Field(default_factory=SyncOptions)
    row_group_rows: int | None = Field(default=None, ge=1)
    """Rows per Parquet row group of a new table (None: :data:`cutover.lake.layout.ROW_GROUP_ROWS`)."""


class TableOptionsFile(BaseModel):
    """The `--table-options` JSON file: ``{"schema.table": {"columns": {"col": {...}}}}``."""

    tables: dict[str, TableOptions] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> TableOptionsFile:
        if path is None:
            return cls()
        try:
            return cls(tables=json.loads(path.read_text()))
        except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            raise ConfigError(f"cannot read table options {path}: {describe_validation(exc)}") from exc

    def for_table(self, schema: str, table: str) -> TableOptions:
        return self.tables.get(f"{schema}.{table}") or TableOptions()


class CatalogConfig(BaseModel):
    """Where Iceberg tables live: any pyiceberg catalog, chosen by URI scheme plus extra properties.

    * ``sqlite:///path/catalog.db`` or ``postgresql+psycopg://...``: pyiceberg ``SqlCatalog``.
    * ``http://`` / ``https://``: an Iceberg REST catalog.
    """

    uri: str
    warehouse: str
    name: str = "cutover"
    properties: dict[str, str] = Field(default_factory=dict)


def default_catalog(state_dir: Path = DEFAULT_STATE_DIR) -> CatalogConfig:
    """The embedded default: a SQLite catalog and a local warehouse under ``state_dir``."""
    state = state_dir.resolve()
    return CatalogConfig(uri=f"sqlite:///{state / EMBEDDED_CATALOG_FILE}", warehouse=(state / "warehouse").as_uri())


class Settings(BaseSettings):
    """Environment-driven settings (prefix ``CUTOVER_``), read by the CLI and the flows only.

    A job's own parameters (schema, tables, namespace, batch size, parallelism) are not here: they are
    the request models' fields, which the CLI fills from its options and their ``CUTOVER_*`` variables.
    """

    model_config = SettingsConfigDict(env_prefix="CUTOVER_", extra="ignore")

    source_dsn: str | None = None
    control_dsn: str | None = None
    """Where the control store (audit trail, validation outcomes) lives; default: the source database."""
    catalog_uri: str | None = None
    warehouse: str | None = None
    catalog_name: str = "cutover"
    catalog_properties: dict[str, str] = Field(default_factory=dict)
    state_dir: Path = DEFAULT_STATE_DIR
    table_options: Path | None = None
    rollout_steps: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [1, 5, 25, 50])
    """Percentage stages between shadow and live (``CUTOVER_ROLLOUT_STEPS=1,5,25,50``)."""
    rollout_min_soak_hours: float = Field(default=24.0, ge=0)
    rollout_max_mismatch_rate: float = Field(default=0.001, ge=0, le=1)
    rollout_max_error_rate: float = Field(default=0.001, ge=0, le=1)
    rollout_min_shadow_reads: int = Field(default=100, ge=0)

    @field_validator("rollout_steps", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def control(self) -> str:
        """The control store's DSN: ``CUTOVER_CONTROL_DSN``, else ``CUTOVER_SOURCE_DSN``."""
        dsn = self.control_dsn or self.source_dsn
        if not dsn:
            raise ConfigError("no control database: set CUTOVER_CONTROL_DSN (or CUTOVER_SOURCE_DSN)")
        return dsn

    def configured_catalog(self) -> CatalogConfig | None:
        """The catalog these settings name, the embedded one if it exists, else None (nothing to look in)."""
        if self.catalog_uri is None and not (self.state_dir / EMBEDDED_CATALOG_FILE).exists():
            return None
        return self.catalog()

    def catalog(self) -> CatalogConfig:
        """The catalog these settings name, or the embedded default when none is set."""
        if self.catalog_uri is None:
            default = default_catalog(self.state_dir)
            return default.model_copy(
                update={"warehouse": self.warehouse or default.warehouse, "properties": self.catalog_properties}
            )
        if self.warehouse is None:
            raise ConfigError("a catalog URI was given without a warehouse (set --warehouse or CUTOVER_WAREHOUSE)")
        return CatalogConfig(
            uri=self.catalog_uri, warehouse=self.warehouse, name=self.catalog_name, properties=self.catalog_properties
        )
