"""Import mapping profiles (导入映射方案) over HTTP: propose from a sample, save, list, show.

The CLI's ``wangge incidents profile propose|save|list`` and the same module
(:mod:`geo.io.importer.profiles`); an import names a saved profile with the form field
``profile`` (``POST /incidents/bulk``, ``POST /admin/import/incidents``).
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, File, Form, Request, UploadFile
from fastapi import Path as PathParam

from api.deps import COMMAND_ONLY, ConnDep, PrincipalDep, SettingsDep, caller_region
from api.schemas import ok
from api.schemas import profiles as schemas
from api.uploads import safe_name
from geo.errors import TooLarge
from geo.io.importer.cases import read_raw
from geo.io.importer.profiles import (
    MAX_SAMPLE,
    list_profiles,
    load_profile,
    propose,
    save_profile,
    save_proposal,
)
from geo.localtime import TZ_NAME

router = APIRouter(tags=["import/export 导入导出"])
_NAME = PathParam(description="1-64 letters, digits, _ . - (e.g. 12345-xingxian)",
                  max_length=64)


def _region(settings: Any, principal: Any, region: str | None) -> str:
    return caller_region(settings, principal, region)


@router.post("/import/profiles/propose", dependencies=[COMMAND_ONLY],
             summary="Propose an import profile from a sample file / 由样例文件生成导入映射方案",
             responses=ok(schemas.ProfileProposal), response_model=None)
def post_propose(request: Request, conn: ConnDep, settings: SettingsDep,
                 principal: PrincipalDep,
                 file: Annotated[UploadFile, File(description="A sample export: CSV or XLSX")],
                 save: Annotated[str | None, Form(
                     description="Save the proposal under this name")] = None,
                 region: Annotated[str | None, Form()] = None) -> dict[str, Any]:
    """Read the sample (nothing is imported) and propose its columns, category labels and
    time formats, with what could not be mapped; ``save=NAME`` keeps the proposal."""
    code = _region(settings, principal, region)
    data = file.file.read(settings.max_body_bytes + 1)
    if len(data) > settings.max_body_bytes:
        raise TooLarge(f"文件超过 {settings.max_body_bytes} 字节 / file larger than "
                       f"{settings.max_body_bytes} bytes: a sample of the export is enough")
    header, rows = read_raw(data, safe_name(file.filename), MAX_SAMPLE)
    out = propose(conn, header, rows, ZoneInfo(TZ_NAME))
    if save:
        out["saved"] = save_proposal(conn, code, save, out, principal.user)
        request.state.audit = {"action": "save_import_profile", "object_type": "import_profile",
                               "object_id": save}
    return out


@router.get("/import/profiles", dependencies=[COMMAND_ONLY],
            summary="Saved import profiles / 已保存的导入映射方案",
            responses=ok(schemas.ProfileList), response_model=None)
def get_profiles(conn: ConnDep, settings: SettingsDep, principal: PrincipalDep,
                 region: str | None = None) -> list[dict[str, Any]]:
    """The region's profiles: name, who saved it and when, the profile."""
    return list_profiles(conn, _region(settings, principal, region))


@router.get("/import/profiles/{name}", dependencies=[COMMAND_ONLY],
            summary="One import profile / 导入映射方案",
            responses=ok(schemas.Profile), response_model=None)
def get_profile(conn: ConnDep, settings: SettingsDep, principal: PrincipalDep,
                name: Annotated[str, _NAME], region: str | None = None) -> dict[str, Any]:
    """The saved profile (404 naming the saved ones)."""
    return load_profile(conn, _region(settings, principal, region), name)


@router.put("/import/profiles/{name}", dependencies=[COMMAND_ONLY],
            summary="Save an import profile / 保存导入映射方案",
            responses=ok(schemas.SavedProfile), response_model=None)
def put_profile(request: Request, conn: ConnDep, settings: SettingsDep,
                principal: PrincipalDep, name: Annotated[str, _NAME],
                profile: Annotated[dict[str, Any], Body(
                    description="columns, category_map, time_formats, channel, department")],
                region: str | None = None) -> dict[str, Any]:
    """Save (or replace) the profile; 422 naming what is wrong (an unknown field or category,
    a bad time format)."""
    saved = save_profile(conn, _region(settings, principal, region), name,
                         profile.get("profile", profile), principal.user)
    request.state.audit = {"action": "save_import_profile", "object_type": "import_profile",
                           "object_id": name}
    return saved
