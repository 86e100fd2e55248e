"""The dispatch map's side panel of one case (``GET /maps/dispatch/case/{code}``): HTML, not JSON.

Everything on it comes from the case flow's own functions, read through the caller's scope:
the case (:func:`geo.incidents.cases.get_incident`: names beside codes, photos, history,
``allowed_actions``), its possible duplicates in the caller's scope
(:func:`geo.incidents.views.duplicates_of`) and the routing stored at intake (cell, worker on
duty, department, cameras that see the point, each with its reason). The actions are forms
that ``Wangge.panel`` (maps/static/wangge.js) posts as JSON to the case endpoints the
``allowed_actions`` name (same checks, version control with ``If-Match``, audit, CSRF header of
the login cookie); nothing here decides who may do what. 督办 (urge) is a note of the command
centre marked 【督办】 in the history. The reporter's name and phone are masked unless the
caller may and asks to unmask (``?unmask=true``, audited like the case API).
"""

from __future__ import annotations

import datetime as dt
import json
from html import escape
from typing import Any

from sqlalchemy import Connection, text

from geo.auth.principal import Principal
from geo.db.tables.vocab import ADDRESS_LEVEL, CASE_ACTION, INCIDENT_STATUS, SATISFACTION
from geo.incidents import cases, views
from geo.incidents.callback import may_call_back
from geo.incidents.flow import OPEN
from maps.texts import TEXTS

PANEL_TITLE_ID = "wangge-panel-title"
# Transitions offered as one-click forms (with a note); the others of allowed_actions too.
_NOTE_ACTIONS = ("pause", "resume")


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _time(value: Any) -> str:
    if not value:
        return ""
    try:
        return dt.datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(value)


def _form(action: dict[str, Any], label: str, fields: str, version: int,
          extra_class: str = "", multipart: bool = False) -> str:
    body = json.dumps(action.get("body") or {}, ensure_ascii=False)
    return (f"<form class='wangge-act {extra_class}' data-action='{_e(action['action'])}' "
            f"data-path='{_e(action['path'])}' data-method='{_e(action['method'])}' "
            f"data-version='{version}' data-body='{_e(body)}'"
            f"{' data-multipart=1' if multipart else ''}>{fields}"
            f"<button type='submit'>{_e(label)}</button></form>")


def _note(t: dict[str, str], required: bool = False, value: str = "") -> str:
    req = " required" if required else ""
    return (f"<label>{_e(t['note'])} <input name='note' type='text' value='{_e(value)}'"
            f" autocomplete='off'{req}></label>")


def _departments(conn: Connection, region_code: str) -> list[tuple[str, str]]:
    return [(c, n) for c, n in conn.execute(text(
        "SELECT code, name FROM department WHERE region_code = :r ORDER BY code"),
        {"r": region_code})]


def _action_forms(conn: Connection, inc: dict[str, Any], dups: list[dict[str, Any]],
                  principal: Principal, t: dict[str, str], lang: str) -> list[str]:
    version = int(inc["version"])
    out: list[str] = []
    steps = [_form(a, a["label"] if lang == "zh" else a["label_en"], "", version, "transition")
             for a in inc["allowed_actions"] if a["path"].endswith("/transition")]
    if steps:  # the steps of the case flow: one row of buttons sharing one note
        out.append(f"<div class='wangge-steps'><label>{_e(t['note'])} <input type='text' "
                   "class='wangge-step-note' autocomplete='off'></label>"
                   f"<div class='wangge-step-buttons'>{''.join(steps)}</div></div>")
    for a in inc["allowed_actions"]:
        name = a["action"]
        label = a["label"] if lang == "zh" else a["label_en"]
        if a["path"].endswith("/transition"):
            continue
        elif name == "note":
            out.append(_form(a, label, _note(t, required=True), version))
            if principal.sees_all_incidents() and inc["status"] in OPEN:
                urge = {**a, "action": "urge"}
                out.append(_form(urge, t["urge"], _note(t) + "<input type='hidden' "
                                 f"name='urge' value='{_e(t['urge_prefix'])}'>", version,
                                 "urge"))
        elif name == "photo":
            out.append(_form(a, label, "<input type='file' name='files' accept='image/*' "
                             f"aria-label='{_e(label)}' required>", version, multipart=True))
        elif name == "extend":
            out.append(_form(a, label, f"<label>{_e(t['minutes'])} <input name='minutes' "
                             "type='number' min='1' max='100000' value='240' required></label>"
                             + _note(t), version))
        elif name in _NOTE_ACTIONS:
            out.append(_form(a, label, _note(t), version))
        elif name == "reassign":
            opts = "".join(f"<option value='{_e(c)}'>{_e(n)}</option>"
                           for c, n in _departments(conn, inc["region_code"]))
            out.append(_form(a, label, (
                f"<label>{_e(t['cell_code'])} <input name='cell_code' type='text' "
                f"inputmode='numeric' pattern='[0-9]{{15}}' placeholder='{_e(inc['cell_code'])}'"
                " autocomplete='off'></label>"
                f"<label>{_e(t['department'])} <select name='department_code'>"
                f"<option value=''>{_e(t['choose_department'])}</option>{opts}</select></label>"
                + _note(t)), version))
        elif name == "merge":
            if not dups:
                continue
            boxes = "".join(
                f"<label class='wangge-dup'><input type='checkbox' name='duplicate_ids' "
                f"value='{int(d['id'])}'> {_e(d.get('code'))} {_e(d.get('category_name'))} "
                f"{_e(d.get('status_zh'))}</label>" for d in dups)
            out.append(_form(a, label, f"<fieldset><legend>{_e(t['merge_pick'])}</legend>"
                             f"{boxes}</fieldset>" + _note(t), version))
        elif name == "locate":
            # the address matcher's suggestion (a weak match waits here for a person)
            sug = _suggestion(inc)
            lon0 = "" if sug is None else f" value='{float(sug['lon']):.6f}'"
            lat0 = "" if sug is None else f" value='{float(sug['lat']):.6f}'"
            hint = "" if sug is None else (
                f"<p class='wangge-suggest'>{_e(t['suggested'])}: {_e(sug.get('matched'))} "
                f"({_e(ADDRESS_LEVEL.label(str(sug.get('level')), lang))}, "
                f"{_e(t['confidence'])} {float(sug.get('confidence') or 0):.2f})</p>")
            out.append(_form(a, label, (
                f"{hint}<label>{_e(t['lon'])} <input name='lon' type='number' step='any'"
                f"{lon0} required></label><label>{_e(t['lat'])} <input name='lat' "
                f"type='number' step='any'{lat0} required></label>"), version))
        elif name == "decide":
            for approve, key in ((True, "approve"), (False, "refuse")):
                out.append(_form({**a, "body": {"approve": approve}}, f"{label}: {t[key]}",
                                 _note(t), version))
        else:  # requests of a worker or department: a reason is required
            fields = f"<label>{_e(t['reason'])} <input name='reason' type='text' required></label>"
            if name == "request_extension":
                fields += (f"<label>{_e(t['minutes'])} <input name='minutes' type='number' "
                           "min='1' value='240' required></label>")
            out.append(_form(a, label, fields, version))
    return out


def _suggestion(inc: dict[str, Any]) -> dict[str, Any] | None:
    """The address matcher's point for a case it could not place with confidence, or None."""
    place = (inc.get("routing") or {}).get("place") or {}
    m = place.get("match") or {}
    return m if m.get("lon") is not None and m.get("lat") is not None else None


def _said(text_: Any, lang: str) -> str:
    """One language of a bilingual "中文 / English" reason stored with the routing."""
    s = "" if text_ is None else str(text_)
    if " / " not in s:
        return s
    zh, en = s.split(" / ", 1)
    return zh if lang == "zh" else en


def _routing(inc: dict[str, Any], dups: list[dict[str, Any]], t: dict[str, str],
             lang: str) -> str:
    r = inc.get("routing") or {}
    rows: list[str] = []

    def row(head: str, value: str, why: Any) -> None:
        reason = (f"<div class='why'>{_e(t['reason'])}: {_e(_said(why, lang))}</div>"
                  if why else "")
        rows.append(f"<tr><th scope='row'>{_e(head)}</th><td>{value}{reason}</td></tr>")

    place = r.get("place") or {}
    if inc.get("location_text") or place.get("match"):
        row(t["place"], _e(inc.get("location_text") or place.get("text") or "—"),
            place.get("reason"))
    cell = r.get("cell") or {}
    row(t["cell"], f"{_e(cell.get('name'))} ({_e(inc.get('cell_code'))})", cell.get("reason"))
    worker = r.get("worker") or {}
    row(t["worker"], _e(worker.get("name") or "—"), worker.get("reason"))
    dept = r.get("department") or {}
    row(t["department"], _e(inc.get("department_name") or dept.get("name") or "—"),
        dept.get("reason"))
    cams = r.get("cameras") or []
    cam_html = ("<ul>" + "".join(f"<li>{_e(c.get('name'))} ({_e(c.get('gb_id'))}, "
                                 f"{_e(c.get('distance_m'))} m)</li>" for c in cams) + "</ul>"
                if cams else _e(t["no_cameras"]))
    row(t["cameras_seeing"], cam_html, r.get("cameras_reason") if cams else None)
    dup_html = ("<ul>" + "".join(
        f"<li><a href='#' class='wangge-open-case' data-code='{_e(d.get('code'))}' "
        f"data-region='{_e(d.get('region_code') or inc['region_code'])}'>"
        f"{_e(d.get('code'))}</a> {_e(d.get('category_name'))} · {_e(d.get('status_zh'))}"
        f"{' · ' + _e(d.get('distance_m')) + ' m' if d.get('distance_m') is not None else ''}"
        "</li>" for d in dups) + "</ul>" if dups else "—")
    row(t["duplicates"], dup_html, r.get("duplicates_reason") if dups else None)
    return f"<table class='wangge-kv'>{''.join(rows)}</table>"


def _history(inc: dict[str, Any], t: dict[str, str], lang: str) -> str:
    rows = []
    for e in reversed(inc.get("events") or []):
        step = (f"{INCIDENT_STATUS.label(e['from_status'], lang) if e.get('from_status') else ''}"
                f" → {INCIDENT_STATUS.label(e['to_status'], lang)}" if e.get("to_status") and
                e.get("to_status") != e.get("from_status") else
                (CASE_ACTION.label(e["kind"], lang) if e["kind"] in CASE_ACTION.codes
                 else e["kind"]))
        rows.append(f"<tr><td>{_e(_time(e['at']))}</td><td>{_e(step)}</td>"
                    f"<td>{_e(e.get('actor'))}</td><td>{_e(e.get('note'))}</td></tr>")
    return (f"<table class='wangge-history'><thead><tr><th>{_e(t['at'])}</th>"
            f"<th>{_e(t['event'])}</th><th>{_e(t['actor'])}</th><th>{_e(t['note'])}</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def case_class(inc: dict[str, Any]) -> str:
    """overdue / open / closed: the marker class of the dispatch map (one palette)."""
    if inc.get("overdue"):
        return "overdue"
    return "open" if inc["status"] in OPEN else "closed"


def case_panel(conn: Connection, principal: Principal, code: str, lang: str = "zh"
               ) -> tuple[str, dict[str, Any]]:
    """The side panel of case ``code`` (or id) as an HTML fragment, and the case as read (for
    the audit of an unmasked read); 404 out of scope. The reporter's name and phone are shown
    as the field policy says (masked unless the caller may and asks to unmask)."""
    t = TEXTS[lang]
    inc = cases.get_incident(conn, code, principal)
    dups = views.duplicates_of(conn, principal, code)["items"] if inc["status"] in OPEN else []
    cls = case_class(inc)
    late = f" <span class='late'>{_e(t['overdue'])}</span>" if cls == "overdue" else ""
    urgent = (f" <span class='urgent'>{_e(inc.get('urgency_name'))}</span>"
              if inc["urgency"] == "urgent" else "")
    status = inc["status_zh"] if lang == "zh" else INCIDENT_STATUS.label(inc["status"], "en")
    summary = [
        (t["status"], f"{_e(status)}{late}"
                      + (f" ({_e(t['paused'])})" if inc.get("paused") else "")),
        (t["urgency"], urgent.strip() or _e(inc.get("urgency_name"))),
        (t["reported"], _e(_time(inc.get("reported_at")))),
        (t["channel"], _e(inc.get("channel_name"))),
        (t["township"], _e(" · ".join(x for x in (inc.get("township_name"),
                                                  inc.get("community_name")) if x))),
        (t["location"], _e(inc.get("location_text"))),
        (t["reporter"], _e(" ".join(str(x) for x in (inc.get("reporter_name"),
                                                     inc.get("reporter_phone")) if x))),
        (t["department"], _e(inc.get("department_name"))),
        (t["due"], _e(_time(inc.get("due_at")))),
        (t["final_due"], _e(_time(inc.get("final_due_at")))),
        (t["description"], _e(inc.get("description"))),
    ]
    kv = "".join(f"<tr><th scope='row'>{_e(k)}</th><td>{v}</td></tr>" for k, v in summary if v)
    photos = "".join(
        f"<a href='/incidents/{int(inc['id'])}/attachments/{int(a['id'])}' target='_blank'>"
        f"<img src='/incidents/{int(inc['id'])}/attachments/{int(a['id'])}' "
        f"alt='{_e(a.get('filename'))}' loading='lazy'></a>"
        for a in inc.get("attachments") or [] if str(a.get("content_type", "")).startswith(
            "image/"))
    forms = _action_forms(conn, inc, dups, principal, t, lang)
    if may_call_back(conn, principal, inc):  # 回访: the caller's satisfaction after closing
        choices = "".join(f"<option value='{_e(c)}'>{_e(SATISFACTION.label(c, lang))}</option>"
                          for c in SATISFACTION.codes)
        forms.append(_form(
            {"action": "callback", "path": f"/incidents/{int(inc['id'])}/callback",
             "method": "POST", "body": {}}, t["callback"],
            f"<label>{_e(t['satisfaction'])} <select name='satisfaction' required>"
            f"{choices}</select></label>" + _note(t), int(inc["version"])))
    actions = "".join(forms) if forms else f"<p>{_e(t['no_actions'])}</p>"
    data = {"code": inc["code"], "region_code": inc["region_code"], "version": inc["version"],
            "cls": cls,
            "urgent": inc["urgency"] == "urgent", "lon": inc.get("lon"), "lat": inc.get("lat"),
            "status": inc["status"], "status_name": status,
            "category_name": inc.get("category_name")}
    return ((
        f"<article class='wangge-case {cls}' data-case='{_e(json.dumps(data, ensure_ascii=False))}'"
        f" aria-labelledby='{PANEL_TITLE_ID}'>"
        f"<header><h2 id='{PANEL_TITLE_ID}' tabindex='-1'>{_e(inc['code'])} "
        f"{_e(inc.get('category_name'))}</h2>"
        f"<button type='button' class='wangge-panel-close' aria-label='{_e(t['close_panel'])}'"
        f" title='{_e(t['close_panel'])}'>×</button></header>"
        "<div class='wangge-panel-msg' role='status' aria-live='polite'></div>"
        f"<section><h3>{_e(t['summary'])}</h3><table class='wangge-kv'>{kv}</table>"
        f"<p><a href='/incidents/{int(inc['id'])}' target='_blank'>{_e(t['api_link'])}</a> · "
        f"{_e(t['version'])} {int(inc['version'])}</p></section>"
        f"<section><h3>{_e(t['actions'])}</h3><div class='wangge-actions'>{actions}</div>"
        "</section>"
        f"<section><h3>{_e(t['routing'])}</h3>{_routing(inc, dups, t, lang)}</section>"
        f"<section><h3>{_e(t['photos'])}</h3><div class='wangge-photos'>"
        f"{photos or _e(t['no_photos'])}</div></section>"
        f"<section><h3>{_e(t['history'])}</h3>{_history(inc, t, lang)}</section>"
        "</article>"), inc)
