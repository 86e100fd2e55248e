"""Who may see, filter, sort or export each field: the one field-visibility policy.

Every way out (OGC items and their ``filter``/``sortby``/``properties``, spatial answers,
tiles, exports and their ``where``, maps) asks this module instead of deciding for itself.

Fields fall in three classes per layer:

- **public**: everything not listed below; returned to whoever may see the row;
- **personal** (:data:`PERSONAL`): incidents' reporter name and phone, grid workers' name and
  phone. Returned unmasked only to a caller for whom :func:`field_access` says ``FULL``,
  masked (138****1234, 张*) where it says ``MASKED``, and not at all where ``WITHHELD``;
- **free text** (:data:`FREE_TEXT`): an incident's description and address text (and the notes
  of its history), which may name people and carry their numbers; withheld together with the
  personal fields from the roles that get incident points without personal data (planners) and
  from viewers, and shown with the phone and ID-card numbers in it masked wherever the personal
  fields are masked.

A filter, sort, group or search parameter may name a field only where :func:`may_filter_on`
allows it: a field one may not read unmasked must never be matchable, or counts and orders
become an oracle for the masked value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from geo.auth.principal import Principal, mask_name, mask_personal_text, mask_phone

# Layer names: the served layers (geo.layers.registry) and the export layers (geo.io) share
# "incidents"; "workers" is an export layer.
PERSONAL: dict[str, tuple[str, ...]] = {
    "incidents": ("reporter_name", "reporter_phone"),
    "workers": ("name", "phone"),
}
FREE_TEXT: dict[str, tuple[str, ...]] = {
    "incidents": ("description", "location_text", "note"),  # note: of the case's history
}
# How each personal field is masked.
_MASKERS = {
    "reporter_name": mask_name, "reporter_phone": mask_phone,
    "name": mask_name, "phone": mask_phone,
    "description": mask_personal_text, "location_text": mask_personal_text,
    "note": mask_personal_text,
}
# Roles that never receive an incident's personal fields or free text, masked or not.
_NO_PERSONAL_ROLES = ("planner", "viewer")


class Access(Enum):
    """How a caller receives one field of one row."""

    FULL = "full"
    MASKED = "masked"
    WITHHELD = "withheld"


def personal_fields(layer: str) -> tuple[str, ...]:
    """The personal fields of ``layer`` (empty for public layers)."""
    return PERSONAL.get(layer, ())


def guarded_fields(layer: str) -> tuple[str, ...]:
    """Personal and free-text fields of ``layer``: masked unless the caller reads them in full."""
    return PERSONAL.get(layer, ()) + FREE_TEXT.get(layer, ())


def withheld_fields(principal: Principal, layer: str) -> tuple[str, ...]:
    """Fields of ``layer`` the caller never receives, whatever the row.

    Parameters
    ----------
    principal
        The caller.
    layer
        Layer name (``incidents``, ``workers``, ``cells`` ...).

    Returns
    -------
    tuple of str
        Personal and free-text fields of incidents for planners and viewers; nothing otherwise.
    """
    if layer != "incidents" or principal.role not in _NO_PERSONAL_ROLES:
        return ()
    return PERSONAL["incidents"] + FREE_TEXT["incidents"]


def field_access(
    principal: Principal,
    layer: str,
    name: str,
    cell_code: str | None = None,
    department_code: str | None = None,
) -> Access:
    """How the caller receives field ``name`` of one row of ``layer``.

    Parameters
    ----------
    principal
        The caller.
    layer
        Layer name.
    name
        Field name.
    cell_code, department_code
        The row's scope keys (incidents).

    Returns
    -------
    Access
        ``WITHHELD`` for fields the caller never gets, ``MASKED`` for personal and free-text
        fields the caller may not read in clear on this row, ``FULL`` otherwise.
    """
    if name in withheld_fields(principal, layer):
        return Access.WITHHELD
    if name not in guarded_fields(layer):
        return Access.FULL
    if layer == "workers":
        return Access.FULL if principal.sees_all_incidents() else Access.MASKED
    if principal.may_see_personal(cell_code, department_code):
        return Access.FULL
    return Access.MASKED


def visible_fields(principal: Principal, layer: str, names: Iterable[str]) -> list[str]:
    """The subset of ``names`` the caller may receive (masked or not), in order."""
    hide = withheld_fields(principal, layer)
    return [n for n in names if n not in hide]


def may_filter_on(principal: Principal, layer: str, name: str) -> bool:
    """True when a filter, sort, group or search parameter may name field ``name``.

    Public fields always. Withheld fields never. Personal and free-text fields only where the
    caller reads them unmasked: grid workers' name and phone for the roles that see all
    incidents; an incident's reporter fields, description and address text only on a request
    that asked ``?unmask=true`` (audited) by a role that may unmask (the rows themselves stay
    scoped). Anything else would let counts, orders or row numbers reveal a masked value (or a
    phone number typed into a description) without an audit record.
    """
    if name in withheld_fields(principal, layer):
        return False
    if name not in guarded_fields(layer):
        return True
    if layer == "workers":
        return principal.sees_all_incidents()
    return principal.unmask and principal.may_unmask()


def mask_value(name: str, value: Any) -> Any:
    """``value`` of personal field ``name`` masked (138****1234, 张*)."""
    masker = _MASKERS.get(name)
    return masker(value) if masker else value


def as_seen(
    principal: Principal, layer: str, name: str, value: Any,
    cell_code: str | None = None, department_code: str | None = None,
) -> Any:
    """One value of field ``name`` as the caller may receive it (None where withheld)."""
    access = field_access(principal, layer, name, cell_code, department_code)
    if access is Access.WITHHELD:
        return None
    return value if access is Access.FULL else mask_value(name, value)


def mask_text_tree(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with personal numbers masked in every string.

    For the copies of free text kept inside structured data (a case's routing reasons, its
    events' data), which :func:`mask_row` does not reach field by field.
    """
    if isinstance(value, str):
        return mask_personal_text(value)
    if isinstance(value, dict):
        return {k: mask_text_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_text_tree(v) for v in value]
    return value


def mask_row(principal: Principal, layer: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``row`` as the caller may receive it: withheld fields dropped to None,
    personal and free-text fields masked unless :func:`field_access` says ``FULL``."""
    out = dict(row)
    fields = guarded_fields(layer)
    if not fields:
        return out
    cell, dept = row.get("cell_code"), row.get("department_code")
    for name in fields:
        if name not in out:
            continue
        access = field_access(principal, layer, name, cell, dept)
        if access is Access.WITHHELD:
            out[name] = None
        elif access is Access.MASKED:
            out[name] = mask_value(name, out[name])
    return out


def revealed_ids(
    principal: Principal, layer: str, rows: Iterable[Mapping[Any, Any]], id_key: str = "id",
) -> list[Any]:
    """Ids of the rows whose personal fields went out in full (for the audit log).

    Only an unmasked request (``?unmask=true``, audited as such) reveals anything; a row counts
    when one of its personal fields is not empty and :func:`field_access` says ``FULL``.
    """
    if not principal.unmask or not personal_fields(layer):
        return []
    out = []
    for row in rows:
        cell, dept = row.get("cell_code"), row.get("department_code")
        if any(row.get(f) and field_access(principal, layer, f, cell, dept) is Access.FULL
               for f in personal_fields(layer)):
            out.append(row[id_key])
    return out
