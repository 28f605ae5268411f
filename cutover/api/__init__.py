"""The migration controller REST API (design §10): :func:`create_app` and :class:`ApiSettings`."""

from cutover.api.main import create_app
from cutover.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
