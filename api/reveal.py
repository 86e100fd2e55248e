"""The audit of what an unmasked read revealed.

A request with ``?unmask=true`` is audited as ``read_personal`` before any data leaves
(``api.deps``); after the answer, every way out that can reveal personal fields (incident
lists and cases, OGC items, spatial answers, exports) names the objects whose personal fields
actually went out, as one ``read_personal_items`` record written by
``api.middleware.security.WriteAudit``. Which rows count is the field policy's
(:func:`geo.auth.fields.revealed_ids`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from geo.auth.fields import mask_value, personal_fields, revealed_ids
from geo.auth.principal import Principal


def note_revealed(request: Request, ids: list[Any], object_type: str = "incident",
                  key: str = "incident_ids") -> None:
    """Record which objects (``ids``, or codes under another ``key``) an unmasked read
    revealed; nothing when none."""
    if ids:
        request.state.audit = {"action": "read_personal_items", "object_type": object_type,
                               "object_id": ids[0] if len(ids) == 1 else None,
                               "detail": {key: ids}}


def audit_revealed(request: Request, principal: Principal, items: list[dict[str, Any]]) -> None:
    """After an unmasked read of incident JSON, name the incidents whose reporter was shown."""
    note_revealed(request, revealed_ids(principal, "incidents", items))


def audit_revealed_features(request: Request, principal: Principal, body: dict[str, Any]) -> None:
    """The same for spatial answers: FeatureCollections (``layer`` named in each, possibly
    nested under ``layers``) whose personal fields came back unmasked."""
    if not principal.unmask:
        return
    ids: list[Any] = []
    collections = [(body.get("layer"), body),
                   *((name, fc) for name, fc in (body.get("layers") or {}).items())]
    for layer, fc in collections:
        if not isinstance(layer, str) or not isinstance(fc, dict) or not personal_fields(layer):
            continue
        ids += [f.get("id") for f in fc.get("features", [])
                if any(v and mask_value(n, v) != v
                       for n, v in (f.get("properties") or {}).items()
                       if n in personal_fields(layer))]
    note_revealed(request, ids, key="incident_codes")
