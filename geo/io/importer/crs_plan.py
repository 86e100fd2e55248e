"""Deciding the CRS of a layer (the file's own, --crs, or CGCS2000) and checking
that the raw coordinates can be in it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.crs.names import UnknownCRSError, is_geographic, normalize_crs
from geo.crs.transforms import transform_geometry
from geo.crs.validate import degrees_in_metres_reason, projected_problems
from geo.errors import InvalidInput


@dataclass
class CrsPlan:
    """Where the coordinates come from and how to bring them to EPSG:4490."""

    label: str
    source: str  # "file", "--crs", "default"
    name: str | None  # normalised name for geo.crs.transforms, or None (WKT-only CRS)
    crs: CRS | None
    geographic: bool

    def to_4490(self, geoms: np.ndarray) -> np.ndarray:
        """Transform an object array of geometries (None kept) to EPSG:4490."""
        ok = np.array([g is not None for g in geoms], dtype=bool)
        out = np.full(len(geoms), None, dtype=object)
        if not ok.any():
            return out
        arr = np.asarray(list(geoms[ok]), dtype=object)
        if self.name is not None:
            out[ok] = transform_geometry(arr, self.name, "EPSG:4490")
        else:
            assert self.crs is not None
            tr = Transformer.from_crs(self.crs, "EPSG:4490", always_xy=True)
            out[ok] = shapely.transform(
                arr, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
            )
        return out


def _same_crs(a: str, b: str) -> bool:
    geo_same = {"EPSG:4326", "EPSG:4490"}
    return a == b or (a in geo_same and b in geo_same)


def plan_crs(file_crs: CRS | None, given: str | None) -> CrsPlan:
    """Decide the source CRS: the file's own when present (a conflicting --crs is an error).

    Raises
    ------
    InvalidInput
        Unknown --crs, --crs contradicting the CRS the file declares, or a CRS that holds no
        2-D position (geocentric, vertical; of a 3-D or compound CRS the horizontal part is
        used).
    """
    given_name: str | None = None
    if given:
        try:
            given_name = normalize_crs(given)
        except UnknownCRSError as exc:
            raise InvalidInput(str(exc), field="crs") from exc
    if file_crs is not None:
        if file_crs.is_compound or len(file_crs.axis_info) > 2:
            file_crs = file_crs.to_2d()  # heights are not imported: the horizontal part
        code = file_crs.to_epsg(min_confidence=60)
        file_name = f"EPSG:{code}" if code else None
        if file_name is not None:
            try:
                normalize_crs(file_name)  # the one rule: a CRS that holds 2-D positions
            except UnknownCRSError as exc:
                raise InvalidInput(f"文件自带坐标系 / the file's CRS: {exc}", field="crs") from exc
        label = file_name or str(file_crs.name)
        if given_name is not None and (file_name is None or not _same_crs(file_name, given_name)):
            raise InvalidInput(
                f"文件自带坐标系 {label}，与 --crs {given_name} 冲突；请去掉 --crs 或修正 .prj"
                f" / the file declares its CRS as {label}, which conflicts with --crs "
                f"{given_name}: drop --crs or fix the file's CRS (.prj)", field="crs"
            )
        return CrsPlan(label, "file", file_name, None if file_name else file_crs,
                       bool(file_crs.is_geographic))
    if given_name is not None:
        return CrsPlan(given_name, "--crs", given_name, None, is_geographic(given_name))
    return CrsPlan("EPSG:4490", "default (file has no CRS; give --crs if not CGCS2000)",
                   "EPSG:4490", None, True)

def plausibility(plan: CrsPlan, geoms: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Per-geometry: can these raw coordinates be in the claimed CRS? (ok mask, reasons)."""
    n = len(geoms)
    reasons: list[str | None] = [None] * n
    ok = np.ones(n, dtype=bool)
    arr = np.asarray(geoms, dtype=object)
    has = ~shapely.is_missing(arr) & ~shapely.is_empty(arr)
    if not has.any():
        return ok, reasons
    b = shapely.bounds(arr[has])
    idx = np.flatnonzero(has)
    metric = (projected_problems(b[:, 0], b[:, 1], plan.name)
              if not plan.geographic and plan.name else None)
    look: list[int] | range = range(len(idx))
    if plan.geographic:  # degrees in range pass: only the others are looked at one by one
        a = np.abs(b)
        look = np.flatnonzero(~((np.maximum(a[:, 0], a[:, 2]) <= 180) & (
            np.maximum(a[:, 1], a[:, 3]) <= 90))).tolist()
    for k in look:
        i = idx[k]
        minx, miny, maxx, maxy = b[k]
        ax, ay = max(abs(minx), abs(maxx)), max(abs(miny), abs(maxy))
        if plan.geographic:
            if ax <= 180 and ay <= 90:
                continue
            ok[i] = False
            if max(ax, ay) > 1000:
                reasons[i] = (
                    f"坐标 ({minx:.1f}, {miny:.1f}) 是米制投影坐标，不可能是 {plan.label} 的"
                    "经纬度；请用 --crs 指定投影 (如 EPSG:4546 高斯-克吕格 111E) / coordinates "
                    f"like ({minx:.1f}, {miny:.1f}) are metres of a projected CRS, not degrees of "
                    f"{plan.label}: give the projected CRS with --crs (e.g. EPSG:4546)")
            elif ay > 90 and ax <= 90:
                reasons[i] = (
                    f"纬度 {miny:.6f} 超出 ±90：经纬度写反了? 经度应在前 / latitude "
                    f"{miny:.6f} is beyond ±90: longitude and latitude look swapped (x must be "
                    "the longitude)")
            else:
                reasons[i] = (f"坐标超出经纬度范围 / coordinates ({minx}, {miny}) are outside "
                              "the range of longitude/latitude")
        elif plan.name and re.match(r"EPSG:45(3[4-9]|4\d|5[0-4])$", plan.name) and ax > 1e7:
            ok[i] = False
            reasons[i] = (
                f"东坐标 {minx:.1f} 带有带号前缀，应使用带带号的坐标系 (EPSG:4513-4533) / the "
                f"easting {minx:.1f} carries a zone prefix: use the CRS with zone number "
                f"(EPSG:4513-4533) instead of {plan.name}")
        else:
            # the one rule for metric coordinates (geo.crs.validate): degrees given to a
            # projected CRS, or positions it cannot express
            why = (metric[k] if metric is not None else
                   degrees_in_metres_reason(minx, miny, plan.label)
                   if ax <= 180 and ay <= 90 else None)
            if why:
                ok[i] = False
                reasons[i] = why
    return ok, reasons
