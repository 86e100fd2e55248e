"""Write an analysis result to CSV, XLSX or GeoJSON, always stating its inputs.

- ``.geojson``: one table as a FeatureCollection (EPSG:4490 lon/lat) with the foreign members
  ``analysis``, ``inputs`` and ``summary``.
- ``.csv``: one table (no geometry) after ``# analysis``, ``# inputs`` and ``# summary`` comment
  lines (read back with ``pandas.read_csv(path, comment="#")``).
- ``.xlsx``: one sheet per table (geometry left out) with Chinese names and headers, labels
  instead of codes, then a sheet 说明 (analysis, every input and summary figure, column
  definitions): :mod:`geo.analysis.sheets`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection

from geo.analysis.common import _clean, feature_collection, records
from geo.analysis.sheets import analysis_workbook
from geo.errors import InvalidInput
from geo.localtime import TZ_NAME

FORMATS = (".csv", ".xlsx", ".geojson", ".json")


def _table(res: dict[str, Any], table: str | None) -> tuple[str, pd.DataFrame]:
    tables = res["tables"]
    name = table or next(iter(tables))
    if name not in tables:
        raise InvalidInput(f"没有表 {name!r}, 可选 {list(tables)} / no table {name!r}; choose one "
                           f"of {list(tables)}", field="table")
    return name, tables[name]


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    if isinstance(df, gpd.GeoDataFrame):
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    df = df.copy()
    for col in df.columns:
        if isinstance(df[col].dtype, pd.DatetimeTZDtype):
            df[col] = df[col].dt.tz_convert(TZ_NAME).dt.tz_localize(None)
    return df


def write_result(res: dict[str, Any], path: str | Path, table: str | None = None,
                 conn: Connection | None = None, lang: str = "zh") -> Path:
    """Write ``res`` to ``path``; the suffix chooses the format. Returns the path.

    ``.xlsx`` is for people (:func:`geo.analysis.sheets.analysis_workbook`: Chinese sheet
    names and headers, or English with ``lang="en"``; names of units and categories read over
    ``conn`` when given); CSV and GeoJSON are for systems (column keys and codes).

    Raises
    ------
    InvalidInput
        Unknown suffix or table name.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"不支持的文件类型 {suffix!r}, 可选 {list(FORMATS)} / unsupported "
                           f"output {suffix!r}; use one of {list(FORMATS)}", field="output")
    path.parent.mkdir(parents=True, exist_ok=True)
    names = None
    if suffix == ".xlsx" and conn is not None:
        from geo.io.sheets import load_names

        names = load_names(conn, str(res["inputs"].get("region", "")), lang)
    head = {"analysis": res["analysis"], "inputs": _clean(res["inputs"]),
            "summary": _clean(res["summary"])}
    if suffix in (".geojson", ".json"):
        name, df = _table(res, table)
        fc = feature_collection(df)
        body = {"type": "FeatureCollection", **head, "table": name, "features": fc["features"]}
        path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    elif suffix == ".csv":
        name, df = _table(res, table)
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            fh.write(f"# analysis: {res['analysis']} table: {name}\n")
            fh.write("# inputs: " + json.dumps(head["inputs"], ensure_ascii=False) + "\n")
            fh.write("# summary: " + json.dumps(head["summary"], ensure_ascii=False) + "\n")
            pd.DataFrame(records(_plain(df))).to_csv(fh, index=False)
    else:
        path.write_bytes(analysis_workbook(res, names, lang, table))
    return path
