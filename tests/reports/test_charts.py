"""The report's map pictures (reports.charts): the legend never covers a township name."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pytest
import shapely

from geo.mapdata import foundation as gl
from reports import charts


def test_county_map_legend_covers_no_township_name(demo_engine: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with demo_engine.connect() as conn:
        town = gl.admin_units(conn, "141123", ("township",))
    # a dot of each class in every township, so the legend has all its rows
    pts = gpd.GeoDataFrame(
        {"cls": [c for _ in range(len(town)) for c in ("closed", "open", "overdue")]},
        geometry=[p for g in town.geometry for p in [g.representative_point()] * 3],
        crs=town.crs)
    hot = gpd.GeoDataFrame(geometry=[shapely.box(*town.geometry.iloc[0].bounds)], crs=town.crs)
    figures: list[Any] = []
    real_png = charts._png
    def keep(fig: Any) -> bytes:
        figures.append(fig)
        return real_png(fig)

    monkeypatch.setattr(charts, "_png", keep)
    png = charts.incident_map(town, pts, hot, "2026-10 事件分布与热点网格", "兴县", "zh")
    assert png.startswith(b"\x89PNG") and len(figures) == 1
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figures[0]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    names = [t for t in ax.texts if t.get_text() in set(town["name"])]
    assert len(names) == len(town) == 17
    covered = [t.get_text() for t in names if t.get_window_extent(renderer).overlaps(legend)]
    assert covered == []
    # nor any part of the county
    county = ax.transData.transform(shapely.get_coordinates(town.geometry.values))
    assert not any(legend.contains(x, y) for x, y in county)
