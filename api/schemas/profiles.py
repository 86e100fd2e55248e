"""Import mapping profiles: a proposal, a saved profile, the list."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

from api.schemas.base import Answer, list_config, model_config

_PROFILE = {"layer": "incidents",
            "columns": {"工单编号": "source_ref", "受理时间": "reported_at",
                        "诉求类型": "category", "诉求地址": "place"},
            "category_map": {"供水故障问题": "water"}, "time_formats": ["%Y%m%d%H%M%S"],
            "channel": "12345", "department": None}


class ProfileProposal(Answer):
    """A profile proposed from a sample file, and what it could not map."""

    profile: dict[str, Any]
    rows: int
    unmapped_columns: list[str]
    unmapped_categories: dict[str, int]
    proposed_categories: list[dict[str, Any]]
    missing: list[str]
    model_config = model_config({
        "profile": _PROFILE, "rows": 2000, "unmapped_columns": ["办理状态"],
        "unmapped_categories": {"噪音扰民": 50},
        "proposed_categories": [{"label": "供水故障问题", "rows": 50, "code": "water",
                                 "name": "供水故障", "score": 90.0}],
        "unreadable_times": [], "unreadable_time_count": 0,
        "time_shapes": {"9999-99-99 99:99:99": 700}, "missing": []})


class SavedProfile(Answer):
    """A saved profile."""

    name: str
    region: str
    profile: dict[str, Any]
    model_config = model_config({"name": "12345-xingxian", "region": "141123",
                                 "profile": _PROFILE})


class ProfileList(RootModel[list[dict[str, Any]]]):
    """The region's saved profiles."""

    model_config = list_config([{"name": "12345-xingxian", "layer": "incidents",
                                  "saved_by": "demo-command",
                                  "updated_at": "2026-12-05T21:34:00+08:00",
                                  "profile": _PROFILE}])


class Profile(Answer):
    """One saved profile."""

    columns: dict[str, str]
    category_map: dict[str, str]
    model_config = model_config(_PROFILE)
