"""Feature flags (design §7): the registry, the read and write services, local and Azure stores.

Typical use::

    flags = open_flag_service(FlagSettings())            # local file or App Configuration
    flags.is_enabled(FLAG_ICEBERG_ROLL_PERCENTAGE, context="tenant-42", entity="sales.orders")
    flags.set_percentage(FLAG_ICEBERG_ROLL_PERCENTAGE, 5, actor="ana", reason="stage 5%", entity="sales.orders")
"""

from cutover.flags.errors import (
    FlagAuthError,
    FlagConflictError,
    FlagError,
    FlagProviderError,
    FlagStoreFormatError,
    InvalidFlagValueError,
    MissingContextError,
    UnknownFlagError,
)
from cutover.flags.factory import open_flag_service, open_flag_store
from cutover.flags.registry import FLAGS, FlagKind, FlagSpec, FlagValue, flag_id, parse_value
from cutover.flags.service import (
    FeatureFlagService,
    FlagAuditSink,
    FlagChange,
    FlagState,
    FlagStore,
    MutableFeatureFlagService,
    WritableFlagStore,
    no_audit,
    partitions,
    reads_iceberg,
)
from cutover.flags.settings import FlagSettings, FlagsProviderName

__all__ = [
    "FLAGS",
    "FeatureFlagService",
    "FlagAuditSink",
    "FlagAuthError",
    "FlagChange",
    "FlagConflictError",
    "FlagError",
    "FlagKind",
    "FlagProviderError",
    "FlagSettings",
    "FlagSpec",
    "FlagState",
    "FlagStore",
    "FlagStoreFormatError",
    "FlagValue",
    "FlagsProviderName",
    "InvalidFlagValueError",
    "MissingContextError",
    "MutableFeatureFlagService",
    "UnknownFlagError",
    "WritableFlagStore",
    "flag_id",
    "no_audit",
    "open_flag_service",
    "open_flag_store",
    "parse_value",
    "partitions",
    "reads_iceberg",
]
