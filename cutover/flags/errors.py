"""Errors of the feature-flag layer, all inside the one :mod:`cutover.errors` hierarchy.

Callers decide by type: a :class:`~cutover.errors.ConfigError` subclass is a bad name, value or setting
(exit 2 in the CLI, never retried); a :class:`~cutover.errors.TransientError` subclass is a provider that
could not be reached or a write that kept losing a race (worth retrying).
"""

from __future__ import annotations

from cutover.errors import ConfigError, CutoverError, TransientError


class FlagError(CutoverError):
    """Base of every flag error; carries the flag (and entity) it concerns when there is one."""

    def __init__(self, message: str, *, flag: str | None = None, entity: str | None = None) -> None:
        super().__init__(message)
        self.flag = flag
        self.entity = entity


class UnknownFlagError(FlagError, ConfigError):
    """The name is not one of the registered flags (a typo would otherwise read as 'off' forever)."""


class InvalidFlagValueError(FlagError, ConfigError):
    """A value, entity name, actor or reason was rejected before anything was written."""


class MissingContextError(FlagError, ConfigError):
    """A context-dependent flag was read without a context.

    featuremanagement answers False (with a log warning) in that case; that silent False would route every
    caller to PostgreSQL at 100 % and look like a healthy rollout, so it is an error here.
    """


class FlagProviderError(FlagError, TransientError):
    """The flag store could not be read or written (network, a corrupt file, a timeout)."""


class FlagAuthError(FlagError, ConfigError):
    """App Configuration refused the credentials (HTTP 401/403): fix the connection string or identity."""


class FlagConflictError(FlagError, TransientError):
    """Other writers changed the flag on every attempt; the bounded compare-and-swap retries ran out."""


class FlagStoreFormatError(FlagError, ConfigError):
    """The stored document is not the Microsoft feature-management schema (hand-edited, truncated)."""
