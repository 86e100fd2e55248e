"""Live events (``GET /events``, text/event-stream): the JSON of each message's ``data``."""

from __future__ import annotations

from api.schemas.base import Answer, model_config


class LiveEvent(Answer):
    """One case event as the caller may see it (``id:`` = event_id, ``event: incident``)."""

    event_id: int
    kind: str
    code: str
    status: str
    status_name: str | None = None
    urgency: str
    urgency_name: str | None = None
    category_code: str
    category_name: str | None = None
    township_name: str | None = None
    lon: float | None = None
    lat: float | None = None
    overdue: bool
    at: str
    model_config = model_config({
        "event_id": 412345, "kind": "transition", "code": "SJ2026120500001",
        "status": "dispatched", "status_name": "已派遣", "urgency": "urgent",
        "urgency_name": "紧急", "category_code": "manhole_cover", "category_name": "井盖缺失",
        "township_name": "蔚汾镇", "lon": 111.1362, "lat": 38.4614, "overdue": False,
        "at": "2026-12-05T09:10:00+08:00", "cell_code": "141123100003001",
        "department_code": "zhujian"})
