"""What the caller may do next on a case: its ``allowed_actions``.

A phone app or the dispatch panel draws one button per action and sends the request it names
(method, path, body). Nothing here decides a rule of its own: the steps come from the case
flow (:data:`geo.incidents.flow.TRANSITIONS`), who may take them from
:func:`geo.incidents.cases.denial` (the check every change runs), whether a worker may ask for
an extension, a return or a suspension from :func:`geo.incidents.requests.check_request`; the
labels from :data:`geo.db.tables.vocab.CASE_ACTION`.
"""

from __future__ import annotations

from typing import Any

from geo.auth.principal import Principal
from geo.db.tables.vocab import CASE_ACTION
from geo.incidents.calendar import EXTENSION_CHOICES, working_time_label
from geo.incidents.cases import denial
from geo.incidents.flow import MIN_NOTE, NOTE_REQUIRED, OPEN, TERMINAL, TRANSITIONS
from geo.incidents.requests import check_request

# The text fields of an action's body a client must fill in (its ``required``), as the API
# checks them: a note, a request's reason, the handling note of the steps in NOTE_REQUIRED
# (refused without one from a field worker or department; the command centre's optional).
REQUIRED: dict[str, tuple[str, ...]] = {
    "note": ("note",), "request_extension": ("reason",), "request_return": ("reason",),
    "request_suspend": ("reason",), **{step: ("note",) for step in NOTE_REQUIRED}}
# Choices offered for a number field of a body: the extension in working days and hours.
CHOICES: dict[str, list[dict[str, Any]]] = {
    "minutes": [{"value": m, "label": working_time_label(m)} for m in EXTENSION_CHOICES]}


def _action(name: str, path: str, body: dict[str, Any] | None,
            method: str = "POST") -> dict[str, Any]:
    out = {"action": name, "label": CASE_ACTION.label(name),
           "label_en": CASE_ACTION.label(name, "en"), "method": method, "path": path,
           "body": body, "required": list(REQUIRED.get(name, ()))}
    if name in NOTE_REQUIRED:
        out["min_length"] = {"note": MIN_NOTE}
    choices = {k: CHOICES[k] for k in (body or {}) if k in CHOICES}
    if choices:
        out["choices"] = choices
    return out


def allowed_actions(principal: Principal, row: dict[str, Any],
                    pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The actions ``principal`` may take on the case ``row`` now (its pending requests given).

    The case is in the caller's scope (it was read through the scope); an action listed here
    can still fail on a race (409) like any change.
    """
    if denial(principal, None) is not None:
        return []  # read-only roles
    # by id: a code may be held by two counties of a prefecture's scope (409 by code)
    base = f"/incidents/{row['id']}"
    status = row["status"]
    out: list[dict[str, Any]] = []
    for target in TRANSITIONS.get(status, frozenset()):
        if target == "merged" or denial(principal, target) is not None:
            continue
        if target == "reported" and status == "needs_location":
            continue  # located, not moved: the locate action below
        body: dict[str, Any] = {"to": target}
        if target in REQUIRED:
            body.update(dict.fromkeys(REQUIRED[target], ""))
        out.append(_action(target, f"{base}/transition", body))
    order = {t: i for i, t in enumerate(CASE_ACTION.codes)}
    out.sort(key=lambda a: order[a["action"]])
    if status not in TERMINAL:
        out += [_action("note", f"{base}/notes", {"note": ""}),
                _action("photo", f"{base}/attachments", None)]
    if principal.sees_all_incidents():
        out += _command_actions(row, base, pending)
    elif status in OPEN:
        bodies: dict[str, dict[str, Any]] = {
            "extension": {"kind": "extension", "minutes": 240, "reason": ""},
            "return": {"kind": "return", "reason": ""},
            "suspend": {"kind": "suspend", "reason": ""}}
        for kind, body in bodies.items():
            if check_request(row, kind, pending) is None:
                out.append(_action(f"request_{kind}", f"{base}/requests", body))
    return out


def _command_actions(row: dict[str, Any], base: str,
                     pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    status = row["status"]
    out: list[dict[str, Any]] = []
    if status == "needs_location":
        out.append(_action("locate", f"{base}/locate", {"lon": None, "lat": None,
                                                         "crs": "EPSG:4490"}))
    if status in OPEN:
        out += [_action("reassign", f"{base}/reassign", {"cell_code": None,
                                                         "department_code": None}),
                _action("merge", f"{base}/merge", {"duplicate_ids": []})]
        if row["paused_at"] is None:
            out.append(_action("pause", f"{base}/pause", {"note": ""}))
            if row["due_at"] is not None:
                out.append(_action("extend", f"{base}/extend", {"minutes": 240, "note": ""}))
        else:
            out.append(_action("resume", f"{base}/resume", {"note": ""}))
    for req in pending:
        out.append(_action("decide", f"{base}/requests/{req['id']}/decision",
                           {"approve": True, "note": ""}))
    return out
