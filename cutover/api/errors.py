"""Errors the API raises itself, in the :mod:`cutover.errors` hierarchy, and their HTTP statuses."""

from __future__ import annotations

from cutover.errors import ConfigError, CutoverError, TransientError


class NotFoundError(CutoverError):
    """The job, validation or other resource named in the path does not exist."""


class AuthError(CutoverError):
    """No bearer token, or not the configured one."""


class PrefectUnavailableError(TransientError):
    """The Prefect server cannot be reached, or the deployment the route needs is missing."""


class InvalidJobStateError(ConfigError):
    """The job cannot make that transition (e.g. cancelling a run that already finished)."""
