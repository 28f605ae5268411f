"""Reaching the warehouse before a job starts: one bounded probe, so a wrong or unreachable URI fails fast.

Storage SDKs retry a refused connection for a long time (azure-core: ~85 s for an ADLS account that does
not answer; pyarrow's S3: seconds of region lookup and retries). Mid-run that patience is right; before
anything is written it only delays the one line the user needs. :func:`check_warehouse` reads one
key through the catalog's own FileIO (so credentials and endpoints are exactly the job's), with S3
retries off, and gives up after :data:`PROBE_SECONDS`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pyarrow.fs import AwsStandardS3RetryStrategy

from cutover.errors import ConfigError, WarehouseUnavailableError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

PROBE_SECONDS = 10.0
"""How long the probe waits for the warehouse to answer (a healthy one answers in well under a second)."""
S3_CONNECT_TIMEOUT_SECONDS = "5"
STORAGE_SCHEMES = frozenset({"s3", "s3a", "s3n", "abfs", "abfss", "wasb", "wasbs", "gs", "gcs", "oss", "hdfs"})
"""Warehouse URI schemes that name remote storage (``file://`` needs no probe; a REST catalog may give a
warehouse *name* instead of a URI, which is not probed either)."""
_PROBE_KEY = ".cutover-probe"


class SingleAttemptS3RetryStrategy(AwsStandardS3RetryStrategy):
    """pyarrow's S3 retry strategy with one attempt: the probe wants the first answer, not the fifth."""

    def __init__(self) -> None:
        super().__init__(max_attempts=1)


def check_warehouse(catalog: Catalog, warehouse: str) -> None:
    """Read one (absent) key under ``warehouse`` through ``catalog``'s FileIO; nothing is written.

    Raises:
        WarehouseUnavailableError: the storage refused or did not answer within :data:`PROBE_SECONDS`.
        ConfigError: the URI names a storage kind no installed FileIO can open.
    """
    scheme = urlsplit(warehouse).scheme
    if scheme not in STORAGE_SCHEMES:
        return
    from pyiceberg.io import load_file_io

    properties = {
        "s3.retry-strategy-impl": f"{__name__}.{SingleAttemptS3RetryStrategy.__name__}",
        "s3.connect-timeout": S3_CONNECT_TIMEOUT_SECONDS,
        **catalog.properties,
    }
    try:
        io = load_file_io(properties, location=warehouse)
    except (ValueError, ImportError) as exc:
        raise ConfigError(f"warehouse {warehouse}: no FileIO can open it ({exc})") from exc
    key = f"{warehouse.rstrip('/')}/{_PROBE_KEY}"
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            io.new_input(key).exists()
            outcome.append(None)
        except BaseException as exc:  # handed to the caller's thread, which decides
            outcome.append(exc)

    worker = threading.Thread(target=probe, name="cutover-warehouse-probe", daemon=True)
    worker.start()
    worker.join(PROBE_SECONDS)
    if not outcome:
        raise WarehouseUnavailableError(f"no answer from the warehouse {warehouse} within {PROBE_SECONDS:.0f} s")
    error = outcome[0]
    if error is None:
        return
    if isinstance(error, OSError) or _is_azure_error(error):
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WarehouseUnavailableError(f"cannot reach the warehouse {warehouse}: {first}") from error
    raise error


def _is_azure_error(exc: BaseException) -> bool:
    try:
        from azure.core.exceptions import AzureError
    except ImportError:  # pragma: no cover - azure-core comes with adlfs
        return False
    return isinstance(exc, AzureError)
