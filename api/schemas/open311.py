"""Open311 GeoReport v2 answers (lists, as the standard says)."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

from api.schemas.base import Answer, list_config, model_config


class Services(RootModel[list[dict[str, Any]]]):
    """Every category as a GeoReport v2 service."""

    model_config = list_config([{
        "service_code": "fire_lane_blocked", "service_name": "占用消防通道",
        "description": "占用消防通道 / Blocked fire lane", "metadata": True, "type": "realtime",
        "keywords": "Blocked fire lane", "group": "fire"}])


class ServiceDefinition(Answer):
    """A service's attributes."""

    service_code: str
    attributes: list[dict[str, Any]]
    model_config = model_config({"service_code": "fire_lane_blocked", "attributes": [
        {"variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False,
         "values": [{"key": "normal", "name": "一般"}, {"key": "urgent", "name": "紧急"}]}]})


class ServiceRequests(RootModel[list[dict[str, Any]]]):
    """Service requests (cases) as the caller may see them."""

    model_config = list_config([{
        "service_request_id": "SJ20261205N0020001", "status": "open", "status_notes": "已上报",
        "service_name": "占用消防通道", "service_code": "fire_lane_blocked",
        "agency_responsible": "消防救援大队", "requested_datetime": "2026-12-05T09:00:00+08:00",
        "lat": 38.449, "long": 111.12}])
