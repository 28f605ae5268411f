"""Reading and changing flags: :class:`FeatureFlagService`, :class:`MutableFeatureFlagService`.

Evaluation goes through ``featuremanagement``'s :class:`FeatureManager`, so a percentage flag follows
Microsoft.Targeting exactly as every other Microsoft SDK does: a context is on when
``sha256(context + "\\n" + flag id)`` falls below the percentage, which makes it sticky per context and
monotonic as the percentage rises. A scoped flag (``<flag>:<namespace>.<table>``) wins over the global
one; note the scoped flag has its own id and therefore its own buckets.

The services do not know where flags live: a store (local file or Azure App Configuration) is passed in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from featuremanagement import FeatureManager

from cutover import names
from cutover.flags import registry
from cutover.flags.errors import InvalidFlagValueError, MissingContextError
from cutover.flags.registry import GLOBAL_SCOPE, FlagKind, FlagValue

FlagDefinition = dict[str, Any]
"""One entry of ``feature_management.feature_flags`` (Microsoft feature-management schema)."""

ValueSource = Literal["scoped", "global", "default"]
"""Where an effective value came from: the entity's own flag, the global flag, or the registry default."""

FEATURE_MANAGEMENT_KEY = "feature_management"
FEATURE_FLAGS_KEY = "feature_flags"


class FlagStore(Protocol):
    """Where flags are read from; the only thing that differs between the local file and Azure."""

    @property
    def configuration(self) -> Mapping[str, Any]:
        """A live mapping holding ``{"feature_management": {"feature_flags": [...]}}``.

        Each access may refresh from the backing store (at most once per refresh interval); the
        ``feature_management`` object is replaced, never mutated, when flags change, which is how
        FeatureManager notices and drops its cache.
        """
        ...

    def refresh(self) -> None:
        """Fetch changes now instead of waiting for the next interval."""
        ...

    def close(self) -> None: ...


class WritableFlagStore(FlagStore, Protocol):
    """A store that can change one flag definition atomically."""

    def update(
        self, stored_id: str, change: Callable[[FlagDefinition | None], FlagDefinition]
    ) -> tuple[FlagDefinition | None, FlagDefinition]:
        """Read the current definition, apply ``change``, write it back with compare-and-swap.

        ``change`` may be called several times (once per attempt after losing a race) and must be pure.
        Nothing is written when it returns what is already stored.

        Returns:
            (before, after): the definition as found by the winning attempt (None when absent), and as written.

        Raises:
            FlagConflictError: other writers won every attempt.
            FlagProviderError / FlagAuthError: the store could not be reached or refused us.
        """
        ...


@dataclass(frozen=True)
class FlagState:
    """The effective value of one flag for one scope, and where it came from."""

    flag: str
    scope: str
    """The entity (``namespace.table``) or ``"global"``."""
    kind: FlagKind
    value: FlagValue
    source: ValueSource

    def describe(self) -> str:
        """``on`` / ``off`` for a boolean, ``25%`` for the percentage."""
        if self.kind == "percentage":
            return f"{int(self.value)}%"
        return "on" if self.value else "off"


@dataclass(frozen=True)
class FlagChange:
    """One write, as the audit trail records it: who changed what, why, from what to what, when.

    ``before`` is None when the flag did not exist at that scope (the global value or the default applied).
    """

    flag: str
    scope: str
    before: FlagValue | None
    after: FlagValue
    actor: str
    reason: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def changed(self) -> bool:
        """False for an idempotent repeat (e.g. a second rollback): nothing was written."""
        return self.before != self.after


class FlagAuditSink(Protocol):
    """Receives every :class:`FlagChange` after it is stored (the durable audit table plugs in here).

    Note:
        It is called after the write succeeded; an exception it raises propagates to the caller, so a
        failing audit is loud, but the flag has already changed.
    """

    def __call__(self, change: FlagChange) -> None: ...


def no_audit(change: FlagChange) -> None:
    """The default sink: records nothing (callers that must audit pass their own)."""


class FeatureFlagService:
    """Read-only view of the flags: is a flag on (for a context), what is the percentage, show all.

    Args:
        store: where definitions come from (:class:`~cutover.flags.local_file.LocalFlagFile`,
            :class:`~cutover.flags.azure.AzureFlagStore`).
    """

    def __init__(self, store: FlagStore) -> None:
        self._store = store
        self._manager = FeatureManager(store.configuration)
        self._index_of: object = None
        self._index: dict[str, FlagDefinition] = {}

    @property
    def store(self) -> FlagStore:
        return self._store

    def refresh(self) -> None:
        """Pick up changes now (readers otherwise see them within one refresh interval)."""
        self._store.refresh()

    def close(self) -> None:
        self._store.close()

    def is_enabled(self, flag: str, context: str | None = None, entity: str | None = None) -> bool:
        """Is ``flag`` on for ``context`` (a tenant or user id) and ``entity`` (``namespace.table``)?

        Boolean flags ignore the context. The percentage flag is evaluated by Microsoft.Targeting.

        Raises:
            UnknownFlagError: not a registered flag.
            MissingContextError: a percentage flag without a context (never a silent False).
            InvalidFlagValueError: ``entity`` is malformed.
        """
        spec = registry.spec(flag)
        if spec.context_dependent and not context:
            raise MissingContextError(
                f"{flag} is evaluated per context: pass the tenant or user id (context=...)", flag=flag, entity=entity
            )
        stored_id, _, _ = self._resolve(flag, entity)
        if stored_id is None:
            return bool(spec.default)
        # A plain string becomes TargetingContext(user_id=context); booleans have no filter that reads it.
        return bool(self._manager.is_enabled(stored_id, context or ""))

    def percentage(self, flag: str = names.FLAG_ICEBERG_ROLL_PERCENTAGE, entity: str | None = None) -> int:
        """The effective percentage of a percentage flag for ``entity`` (scoped wins over global).

        Raises:
            InvalidFlagValueError: ``flag`` is a boolean flag.
        """
        if registry.spec(flag).kind != "percentage":
            raise InvalidFlagValueError(f"{flag} is a boolean flag, it has no percentage", flag=flag)
        return int(self.state(flag, entity).value)

    def state(self, flag: str, entity: str | None = None) -> FlagState:
        """The effective value of ``flag`` for ``entity`` (or globally) and where it comes from."""
        spec = registry.spec(flag)
        _, definition, source = self._resolve(flag, entity)
        value = spec.default if definition is None else registry.value_of(definition)
        scope = entity if source == "scoped" and entity else GLOBAL_SCOPE
        return FlagState(flag=flag, scope=scope, kind=spec.kind, value=value, source=source)

    def snapshot(self, entity: str | None = None) -> list[FlagState]:
        """Every flag's effective state for ``entity``; globally, plus each scoped override, when None."""
        states = [self.state(flag, entity) for flag in names.ALL_FLAGS]
        if entity is None:
            index = self._definitions()
            for stored_id in sorted(index):
                flag, scoped_entity = registry.parse_flag_id(stored_id)
                if scoped_entity is not None:
                    spec = registry.spec(flag)
                    value = registry.value_of(index[stored_id])
                    states.append(FlagState(flag, scoped_entity, spec.kind, value, "scoped"))
        return states

    show = snapshot

    def scoped_entities(self) -> set[str]:
        """The entities that have at least one flag of their own."""
        return {s.scope for s in self.snapshot() if s.source == "scoped"}

    def _definitions(self) -> dict[str, FlagDefinition]:
        """The stored definitions by id, rebuilt only when the store swapped its document."""
        management = self._store.configuration.get(FEATURE_MANAGEMENT_KEY)
        if management is not self._index_of:
            flags = management.get(FEATURE_FLAGS_KEY) if isinstance(management, Mapping) else None
            # The last definition of an id wins, as in FeatureManager; ids cutover does not own are ignored.
            self._index = {
                str(d["id"]): d for d in flags or [] if isinstance(d, dict) and _is_ours(str(d.get("id", "")))
            }
            self._index_of = management
        return self._index

    def _resolve(self, flag: str, entity: str | None) -> tuple[str | None, FlagDefinition | None, ValueSource]:
        index = self._definitions()
        if entity is not None:
            scoped = registry.flag_id(flag, entity)
            if scoped in index:
                return scoped, index[scoped], "scoped"
        if flag in index:
            return flag, index[flag], "global"
        return None, None, "default"


class MutableFeatureFlagService(FeatureFlagService):
    """Flag reads plus audited writes: enable, disable, set a percentage — each with actor and reason.

    Every write returns a :class:`FlagChange` and hands it to ``audit``. Writes are compare-and-swap in
    the store, so two concurrent writers never lose an update; repeating a write is a no-op (idempotent).
    """

    def __init__(self, store: WritableFlagStore, audit: FlagAuditSink = no_audit) -> None:
        super().__init__(store)
        self._writer = store
        self._audit = audit
        self._deferred = threading.local()

    @contextmanager
    def audit_afterwards(self) -> Iterator[list[FlagChange]]:
        """Collect this thread's flag changes instead of auditing each as it is written.

        For a series of writes that must all happen even when the audit trail cannot be reached (a
        rollback): the caller writes the flags, then records the collected changes with
        :meth:`record_audit`, and decides what an unreachable trail means. Other threads audit as usual.
        """
        pending: list[FlagChange] = []
        self._deferred.pending = pending
        try:
            yield pending
        finally:
            self._deferred.pending = None

    def record_audit(self, changes: list[FlagChange]) -> None:
        """Hand changes collected by :meth:`audit_afterwards` to the audit sink, in order."""
        for change in changes:
            self._audit(change)

    def enable(self, flag: str, *, actor: str, reason: str, entity: str | None = None) -> FlagChange:
        """Turn a boolean flag on (globally or for one entity)."""
        return self._write(flag, self._boolean(flag, True), actor=actor, reason=reason, entity=entity)

    def disable(self, flag: str, *, actor: str, reason: str, entity: str | None = None) -> FlagChange:
        """Turn a boolean flag off, or set the percentage flag to 0 (what a rollback wants of both)."""
        value: FlagValue = 0 if registry.spec(flag).kind == "percentage" else False
        return self._write(flag, value, actor=actor, reason=reason, entity=entity)

    def set_percentage(
        self, flag: str, percentage: int, *, actor: str, reason: str, entity: str | None = None
    ) -> FlagChange:
        """Set the share of contexts for a percentage flag (0–100)."""
        if registry.spec(flag).kind != "percentage":
            raise InvalidFlagValueError(f"{flag} is a boolean flag: use enable/disable", flag=flag, entity=entity)
        return self._write(flag, registry.parse_value(flag, percentage), actor=actor, reason=reason, entity=entity)

    def set(
        self, flag: str, value: str | bool | int, *, actor: str, reason: str, entity: str | None = None
    ) -> FlagChange:
        """Set any flag from user input: ``on``/``off`` for booleans, ``0``–``100`` for the percentage."""
        return self._write(flag, registry.parse_value(flag, value), actor=actor, reason=reason, entity=entity)

    @staticmethod
    def _boolean(flag: str, value: bool) -> FlagValue:
        if registry.spec(flag).kind != "boolean":
            raise InvalidFlagValueError(f"{flag} is a percentage: use set_percentage", flag=flag)
        return value

    def _write(self, flag: str, value: FlagValue, *, actor: str, reason: str, entity: str | None) -> FlagChange:
        actor, reason = _required("actor", actor, flag), _required("reason", reason, flag)
        stored_id = registry.flag_id(flag, entity)
        wanted = registry.definition(stored_id, value)

        def change(current: FlagDefinition | None) -> FlagDefinition:
            # Keep what others added (display name, telemetry, tags in the value) unless it changes the meaning.
            if current is not None and registry.value_of(current) == value and _same_shape(current, wanted):
                return current
            return wanted

        before, after = self._writer.update(stored_id, change)
        result = FlagChange(
            flag=flag,
            scope=entity or GLOBAL_SCOPE,
            before=None if before is None else registry.value_of(before),
            after=registry.value_of(after),
            actor=actor,
            reason=reason,
        )
        pending: list[FlagChange] | None = getattr(self._deferred, "pending", None)
        if pending is not None:
            pending.append(result)
        else:
            self._audit(result)
        return result


def reads_iceberg(flags: FeatureFlagService, context: str, entity: str | None = None) -> bool:
    """Should this context's read of ``entity`` go to Iceberg? The master-switch rule of design §7.

    * The **global** ``use-iceberg-backend`` off is a kill switch: every read goes to PostgreSQL, whatever
      scoped flags say (so one write rolls everything back).
    * A scoped master switch can turn one entity off while others stay on.
    * Otherwise the roll percentage (scoped over global) decides per context.

    Raises:
        MissingContextError: ``context`` is empty.
    """
    if not context:
        raise MissingContextError(
            "routing a read needs a context (tenant or user id)", flag=names.FLAG_USE_ICEBERG_BACKEND, entity=entity
        )
    if not flags.is_enabled(names.FLAG_USE_ICEBERG_BACKEND):
        return False
    if entity is not None and not flags.is_enabled(names.FLAG_USE_ICEBERG_BACKEND, entity=entity):
        return False
    return flags.is_enabled(names.FLAG_ICEBERG_ROLL_PERCENTAGE, context, entity)


def _required(what: str, text: str, flag: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidFlagValueError(f"changing {flag} needs a non-empty {what}", flag=flag)
    return text.strip()


def _same_shape(current: FlagDefinition, wanted: FlagDefinition) -> bool:
    """Same meaning to FeatureManager: enabled and filters equal (descriptions may differ)."""
    return bool(current.get("enabled") == wanted["enabled"] and current.get("conditions") == wanted["conditions"])


def _is_ours(stored_id: str) -> bool:
    return stored_id.partition(registry.SCOPE_SEPARATOR)[0] in registry.FLAGS
