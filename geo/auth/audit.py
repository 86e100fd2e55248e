"""The audit log: who did or read what, when, from where. Append-only.

Written for every write request, every read of personal data unmasked (``?unmask=true``),
every login (success or failure) and every user/token administration step (API and CLI).
The table refuses UPDATE, DELETE and TRUNCATE (trigger of migration 0006).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from sqlalchemy import Connection, text

from geo.errors import InvalidInput
from geo.io.text import NOT_TEXT

MAX_AUDIT_PAGE = 1000

# Query parameters that carry a credential (Open311's api_key, OAuth-style access_token, a
# password): never stored or logged in clear. A name matches when, lower-cased and decoded,
# it is one of these or ends with one of _SECRET_SUFFIXES (refresh_token, client_secret ...).
SECRET_PARAMS = frozenset({"api_key", "apikey", "key", "access_token", "token", "password",
                           "passwd", "pwd", "secret", "signature", "sig"})
_SECRET_SUFFIXES = ("_key", "_token", "token", "password", "secret")
REDACTED = "***"
_PARAM = re.compile(r"(^|[&;])([^=&;#\s\"]*)=([^&;#\s\"]*)")


def is_secret_param(name: str) -> bool:
    """True for a query parameter name that carries a credential (:data:`SECRET_PARAMS`)."""
    key = unquote_plus(name).strip().lower()
    return key in SECRET_PARAMS or key.endswith(_SECRET_SUFFIXES)


def redact_secrets(target: str | None) -> str | None:
    """``target`` (a query string, or a path with its query) with the value of every secret
    parameter replaced by ``***``: ``api_key=wgk_abc&x=1`` -> ``api_key=***&x=1``. The one
    redaction of the audit log (:func:`record`) and the HTTP access log
    (``api.middleware.security.RedactAccessLog``)."""
    if not target:
        return target
    path, mark, query = target.partition("?")
    if not mark:
        path, query = "", target

    def hide(m: re.Match[str]) -> str:
        return f"{m.group(1)}{m.group(2)}={REDACTED}" if is_secret_param(m.group(2)) else (
            m.group(0))

    return path + mark + _PARAM.sub(hide, query)


@dataclass
class AuditEntry:
    """One audit record (see ``geo.db.tables.auth.AuditLog``)."""

    action: str
    username: str | None = None
    role: str | None = None
    region_code: str = ""
    method: str | None = None
    path: str | None = None
    query: str | None = None
    status: int | None = None
    object_type: str | None = None
    object_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    detail: dict[str, Any] | None = field(default=None)


_INSERT = text("""
INSERT INTO audit_log (region_code, username, role, action, method, path, query, status,
                       object_type, object_id, client_ip, user_agent, detail)
VALUES (:region_code, :username, :role, :action, :method, :path, :query, :status,
        :object_type, :object_id, :client_ip, :user_agent, CAST(:detail AS jsonb))
""")


def storable(value: Any) -> Any:
    """``value`` with every string made storable text: a lone UTF-16 surrogate (JSON allows
    ``"\\ud800"``) or a NUL byte, which PostgreSQL refuses in text and jsonb, becomes U+FFFD.
    A refusal of such input is still audited (review round 7)."""
    if isinstance(value, str):
        return NOT_TEXT.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


# /incidents/{id or code}/...: a request about one case (others, /incidents/bulk, match none)
# The ways to one case by its id or code in a path: the case and its actions, the dispatch
# map's case panel, the OGC item, the Open311 request (review round 12, L1).
_INCIDENT_PATH = re.compile(r"^(?:/incidents/|/maps/dispatch/case/"
                            r"|/ogc/collections/incidents/items/|/open311/v2/requests/)"
                            r"([^/]+?)(?:\.(?:json|xml))?(?:/|$)")
_REF_KEYS = ("incident_ids", "incident_codes")
# A word of a query string that may be a case code (SJ2025093000001, an imported 12345 ticket
# number): looked up as a code, never as an id (``limit=100`` names no case).
_QUERY_WORD = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{6,64}(?![A-Za-z0-9_-])")


def _is_id(ref: Any) -> bool:
    return isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and len(ref) < 19)


def filed_by_county(conn: Connection, entry: AuditEntry) -> list[AuditEntry]:
    """``entry`` filed under the county of the cases it is about: the cases named in its
    detail (``incident_ids`` / ``incident_codes``), its object, or the case of its path
    (``/incidents/{id}/...``, then also its object when it names none), or case codes in its
    query string. Cases of several counties give one record per county naming its own (the
    query with the other counties' codes blanked); no case found leaves the entry's
    county as it is. So each county's admin sees what anyone
    (a prefecture user, too) read or did to her county's cases, and no other county's case
    codes (review round 10, F1)."""
    detail = entry.detail or {}
    refs: list[Any] = [r for key in _REF_KEYS for r in (detail.get(key) or [])
                       if isinstance(r, int | str)]
    if entry.object_id is not None and entry.object_type in (None, "incident"):
        refs.append(entry.object_id)
    m = _INCIDENT_PATH.match(entry.path or "")
    if m:
        refs.append(unquote_plus(m[1]))
    asked = {w for _, v in parse_qsl(entry.query or "") for w in _QUERY_WORD.findall(v)}
    if not refs and not asked:
        return [entry]
    ids = sorted({int(r) for r in refs if _is_id(r)})
    codes = sorted({str(r) for r in refs if not _is_id(r)} | asked)
    owner: dict[str, str] = {}  # str(id) and code -> county
    for region, iid, code in conn.execute(text(
            "SELECT region_code, id, code FROM incident "
            "WHERE id = ANY(CAST(:i AS bigint[])) OR code = ANY(CAST(:c AS text[]))"),
            {"i": ids, "c": codes}):
        owner[str(iid)] = owner[str(code)] = str(region)
    # the cases the record is about decide its counties; a record naming none (the header row
    # of an unmasked read) goes by the cases its query names
    counties = sorted({owner[str(r)] for r in refs if str(r) in owner}
                      or {owner[w] for w in asked if w in owner})
    if not counties:
        return [entry]
    if m and entry.object_id is None and unquote_plus(m[1]) in owner:  # the case of the path
        entry = replace(entry, object_type="incident", object_id=unquote_plus(m[1]))
    out = []
    for county in counties:
        mine = {key: [r for r in detail[key] if owner.get(str(r)) == county]
                for key in _REF_KEYS if isinstance(detail.get(key), list)}
        # the query as this county may read it: other counties' case codes blanked (review
        # round 11, N-B: a prefecture read's query named both counties' cases)
        query = entry.query
        for word in asked:
            if owner.get(word) not in (None, county) and query:
                if word not in query:  # spelt with %-escapes (%53J...): blanked as read
                    query = unquote_plus(query)
                query = re.sub(rf"(?:(?<![A-Za-z0-9_-])|(?<=%[0-9A-Fa-f]{{2}}))"
                               rf"{re.escape(word)}(?![A-Za-z0-9_-])", "***", query)
        out.append(replace(entry, region_code=county, query=query,
                           detail={**detail, **mine} if len(counties) > 1 else entry.detail))
    return out


def record(conn: Connection, entry: AuditEntry) -> None:
    """Append the record (in the caller's transaction), filed under the county of the cases
    it names (:func:`filed_by_county`): one per county when they are of several."""
    for each in filed_by_county(conn, entry):
        _insert(conn, each)


def _insert(conn: Connection, entry: AuditEntry) -> None:
    params = {k: storable(v) for k, v in entry.__dict__.items() if k != "detail"}
    params["query"] = redact_secrets(params["query"])
    params["detail"] = json.dumps(storable(entry.detail), ensure_ascii=False,
                                  default=lambda o: storable(str(o))) if entry.detail else None
    if params["user_agent"]:
        params["user_agent"] = params["user_agent"][:300]
    if params["object_id"] is not None:
        params["object_id"] = str(params["object_id"])[:100]
    conn.execute(_INSERT, params)


def query_audit(
    conn: Connection,
    username: str | None = None,
    action: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    region_codes: frozenset[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Audit records, newest first, filtered by user, action (prefix ``login*`` allowed) and
    the half-open time range [start, end).

    Raises
    ------
    InvalidInput
        ``limit`` outside 1..1000, negative ``offset``, or ``end`` before ``start``.
    """
    if not 1 <= limit <= MAX_AUDIT_PAGE:
        raise InvalidInput(f"limit 须在 1..{MAX_AUDIT_PAGE} / limit must be 1..{MAX_AUDIT_PAGE}",
                           field="limit")
    if offset < 0:
        raise InvalidInput("offset 不能为负 / offset must be >= 0", field="offset")
    if start and end and end < start:
        raise InvalidInput("to 早于 from / 'to' is before 'from'", field="to")
    conds = ["TRUE"]
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if username:
        conds.append("username = :username")
        params["username"] = username
    if action:
        if action.endswith("*"):
            conds.append("action LIKE :action")
            params["action"] = action[:-1].replace("%", r"\%").replace("_", r"\_") + "%"
        else:
            conds.append("action = :action")
            params["action"] = action
    if start:
        conds.append("at >= :start")
        params["start"] = start
    if end:
        conds.append("at < :end")
        params["end"] = end
    if region_codes is not None:
        conds.append("(region_code = ANY(:regions) OR region_code = '')")
        params["regions"] = sorted(region_codes)
    where = " AND ".join(conds)
    total = conn.execute(text(f"SELECT count(*) FROM audit_log WHERE {where}"), params).scalar()
    rows = conn.execute(
        text(f"SELECT id, at, username, role, action, method, path, query, status, "
             f"object_type, object_id, client_ip, user_agent, detail, region_code "
             f"FROM audit_log WHERE {where} ORDER BY at DESC, id DESC "
             f"LIMIT :limit OFFSET :offset"), params,
    ).mappings().all()
    items = []
    for r in rows:
        item = dict(r)
        item["at"] = r["at"].isoformat()
        items.append(item)
    return {"total": int(total or 0), "limit": limit, "offset": offset, "items": items}
