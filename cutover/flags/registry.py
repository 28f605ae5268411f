"""The four flags of design §7, their kinds and defaults, per-entity scoping, and value parsing.

A flag is stored as one Microsoft feature-management definition (the schema the ``featuremanagement``
package and App Configuration share), so the same document serves the local file and Azure:

* a **boolean** flag is ``{"id", "enabled", "conditions": {"client_filters": []}}``;
* a **percentage** flag is enabled with one ``Microsoft.Targeting`` filter whose
  ``Audience.DefaultRolloutPercentage`` is the share of contexts that get it (sha256 bucketing: sticky per
  context, monotonic as the percentage rises).

A flag scoped to one entity has the id ``<flag>:<namespace>.<table>`` and wins over the global one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from cutover import names
from cutover.flags.errors import InvalidFlagValueError, UnknownFlagError

FlagKind = Literal["boolean", "percentage"]
"""``boolean``: on/off for everyone. ``percentage``: 0–100, evaluated per context (tenant/user)."""

FlagValue = bool | int
"""A boolean flag's state, or a percentage flag's share (0–100)."""

SCOPE_SEPARATOR: Final = ":"
GLOBAL_SCOPE: Final = "global"
TARGETING_FILTER: Final = "Microsoft.Targeting"

_ENTITY = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_ON_WORDS: Final = frozenset({"on", "true", "yes", "1", "enabled"})
_OFF_WORDS: Final = frozenset({"off", "false", "no", "0", "disabled"})


@dataclass(frozen=True)
class FlagSpec:
    """One registered flag: its kind, its default (what an absent flag means) and what it is for."""

    name: str
    kind: FlagKind
    description: str
    default: FlagValue

    @property
    def context_dependent(self) -> bool:
        """Percentage flags answer per context; reading one without a context is an error."""
        return self.kind == "percentage"


FLAGS: Final[dict[str, FlagSpec]] = {
    spec.name: spec
    for spec in (
        FlagSpec(
            names.FLAG_USE_ICEBERG_BACKEND,
            "boolean",
            "Master switch: off sends every read to PostgreSQL, whatever else is set.",
            False,
        ),
        FlagSpec(
            names.FLAG_ICEBERG_ROLL_PERCENTAGE,
            "percentage",
            "Share of contexts (tenants/users) whose reads go to Iceberg, 0-100; sticky and monotonic.",
            0,
        ),
        FlagSpec(
            names.FLAG_ICEBERG_PARTITIONING,
            "boolean",
            "Create and evolve Iceberg tables with their configured partition spec.",
            False,
        ),
        FlagSpec(names.FLAG_ICEBERG_TIME_TRAVEL, "boolean", "Allow as_of reads on the Iceberg backend.", False),
    )
}
assert tuple(FLAGS) == names.ALL_FLAGS, "the registry and cutover.names.ALL_FLAGS must list the same flags"


def spec(flag: str) -> FlagSpec:
    """The registered flag called ``flag``.

    Raises:
        UnknownFlagError: not one of :data:`cutover.names.ALL_FLAGS` (scoped ids are not accepted here).
    """
    try:
        return FLAGS[flag]
    except KeyError:
        raise UnknownFlagError(f"unknown flag {flag!r}; known flags: {', '.join(names.ALL_FLAGS)}", flag=flag) from None


def validate_entity(entity: str) -> str:
    """Check an entity is ``<namespace>.<table>`` of letters, digits, ``_`` and ``-``.

    The entity becomes part of a flag id (and an App Configuration key), so characters that need escaping
    there (spaces, ``:``, ``/``, ``%``, ``,``) are refused rather than quietly mangled.

    Raises:
        InvalidFlagValueError: the entity does not have that shape.
    """
    if not _ENTITY.fullmatch(entity):
        raise InvalidFlagValueError(
            f"entity {entity!r} must be <namespace>.<table> made of letters, digits, '_' and '-'", entity=entity
        )
    return entity


def flag_id(flag: str, entity: str | None = None) -> str:
    """The stored id of ``flag``, globally or scoped to ``entity`` (``<flag>:<namespace>.<table>``)."""
    spec(flag)
    return flag if entity is None else f"{flag}{SCOPE_SEPARATOR}{validate_entity(entity)}"


def parse_flag_id(stored_id: str) -> tuple[str, str | None]:
    """Split a stored id into (flag, entity or None); the inverse of :func:`flag_id`.

    Raises:
        UnknownFlagError: the flag part is not registered.
        InvalidFlagValueError: the entity part is malformed.
    """
    flag, sep, entity = stored_id.partition(SCOPE_SEPARATOR)
    spec(flag)
    return (flag, validate_entity(entity)) if sep else (flag, None)


def parse_value(flag: str, text: str | bool | int) -> FlagValue:
    """Turn user input into a valid value for ``flag``: on/off for booleans, 0–100 for the percentage.

    Raises:
        UnknownFlagError: ``flag`` is not registered.
        InvalidFlagValueError: the value does not fit the flag's kind.
    """
    kind = spec(flag).kind
    if kind == "boolean":
        if isinstance(text, bool):
            return text
        word = str(text).strip().lower()
        if word in _ON_WORDS:
            return True
        if word in _OFF_WORDS:
            return False
        raise InvalidFlagValueError(f"{flag} is a boolean flag: value must be on or off, not {text!r}", flag=flag)
    if isinstance(text, bool):
        raise InvalidFlagValueError(f"{flag} is a percentage: value must be 0-100, not {text!r}", flag=flag)
    try:
        number = int(str(text).strip().rstrip("%"))
    except ValueError:
        raise InvalidFlagValueError(
            f"{flag} is a percentage: value must be a whole number 0-100, not {text!r}", flag=flag
        ) from None
    if not 0 <= number <= 100:
        raise InvalidFlagValueError(f"{flag} is a percentage: value must be 0-100, not {number}", flag=flag)
    return number


def definition(stored_id: str, value: FlagValue) -> dict[str, Any]:
    """The Microsoft feature-management definition that stores ``value`` under ``stored_id``."""
    flag, entity = parse_flag_id(stored_id)
    the_spec = spec(flag)
    value = parse_value(flag, value)
    description = the_spec.description if entity is None else f"{the_spec.description} (scoped to {entity})"
    if the_spec.kind == "boolean":
        return {
            "id": stored_id,
            "description": description,
            "enabled": bool(value),
            "conditions": {"client_filters": []},
        }
    audience = {"Users": [], "Groups": [], "DefaultRolloutPercentage": int(value)}
    return {
        "id": stored_id,
        "description": description,
        "enabled": True,
        "conditions": {"client_filters": [{"name": TARGETING_FILTER, "parameters": {"Audience": audience}}]},
    }


def value_of(definition_: dict[str, Any]) -> FlagValue:
    """Read a stored definition back as a value (the inverse of :func:`definition`).

    Read the way featuremanagement evaluates it: a disabled percentage flag is 0, an enabled one without a
    targeting filter is 100. A hand-edited definition (portal, ``az appconfig``) whose meaning is ambiguous
    for cutover (a boolean with filters) is refused.

    Raises:
        UnknownFlagError / InvalidFlagValueError: the id or the content is not one cutover understands.
    """
    flag, _ = parse_flag_id(str(definition_.get("id", "")))
    enabled = definition_.get("enabled") is True or str(definition_.get("enabled")).lower() == "true"
    if spec(flag).kind == "boolean":
        filters = (definition_.get("conditions") or {}).get("client_filters") or []
        if filters:
            raise InvalidFlagValueError(
                f"{flag}: a boolean flag must have no client filters, found {filters}", flag=flag
            )
        return enabled
    if not enabled:
        return 0
    for client_filter in (definition_.get("conditions") or {}).get("client_filters") or []:
        if client_filter.get("name") in (TARGETING_FILTER, "Targeting"):
            audience = (client_filter.get("parameters") or {}).get("Audience") or {}
            return parse_value(flag, audience.get("DefaultRolloutPercentage", 0))
    # Enabled with no targeting filter: featuremanagement turns it on for every context.
    return 100
