"""Pictures of the monthly report, drawn with matplotlib: the 12-month trend and the map of
the month's incidents with hot spots. Chinese text needs a CJK font installed at set-up
(``fonts-wqy-microhei``, by scripts/setup.sh); PNG bytes out, embedded in the report."""

from __future__ import annotations

import io
import math
from functools import cache
from typing import Any

import geopandas as gpd

from maps import styles as st

# CJK fonts looked for, in order (Debian packages fonts-wqy-microhei, fonts-noto-cjk).
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC")


@cache
def cjk_font() -> str:
    """The family name of an installed CJK font; a clear error naming the package otherwise."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    for path in ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                 "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"):
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError):
            continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
        for name in CJK_FONTS:
            if name in installed:
                return name
    raise RuntimeError("没有中文字体 / no CJK font installed: run ./scripts/setup.sh (installs "
                       "fonts-wqy-microhei) or apt-get install fonts-wqy-microhei")


def _figure(width_in: float, height_in: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    plt.rcParams["font.family"] = ["sans-serif"]
    plt.rcParams["font.sans-serif"] = [cjk_font(), "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt.figure(figsize=(width_in, height_in), dpi=150)


def _png(fig: Any) -> bytes:
    from matplotlib import pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def trend_chart(trend: list[dict[str, Any]], title: str, lang: str = "zh") -> bytes:
    """Bars of reports per month, lines of the closing and on-time rates (right axis)."""
    zh = lang == "zh"
    fig = _figure(7.2, 3.2)
    ax = fig.add_subplot(111)
    months = [t["month"][2:] for t in trend]
    x = list(range(len(trend)))
    ax.bar(x, [t["reports"] for t in trend], color="#90a4ae", label="上报数" if zh else "reports")
    ax.set_ylabel("上报数 (件)" if zh else "reports")
    ax.set_xticks(x, months, fontsize=8)
    ax2 = ax.twinx()
    for key, colour, label in (("closing_rate", st.CLOSED, "结案率" if zh else "closing rate"),
                               ("on_time_rate", "#1e3a8a", "按期结案率" if zh else "on-time rate")):
        ys = [t[key] * 100 if t[key] is not None else math.nan for t in trend]
        ax2.plot(x, ys, color=colour, marker="o", linewidth=2, label=label)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("%")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left", fontsize=8,
              ncol=3, frameon=False)
    ax.set_title(title, fontsize=11)
    ax.spines["top"].set_visible(False)
    ax2.spines["top"].set_visible(False)
    return _png(fig)


def _scale_bar(ax: Any, bounds: tuple[float, float, float, float], lang: str) -> None:
    """A metric scale bar in the lower left of a lon/lat map (length rounded to 1/2/5 x 10^n
    km; degrees of longitude shortened by cos(latitude))."""
    x0, y0, x1, y1 = bounds
    lat = (y0 + y1) / 2
    km_per_deg = 111.32 * math.cos(math.radians(lat))
    target = (x1 - x0) * km_per_deg / 5
    power = 10 ** math.floor(math.log10(target))
    length = max(m * power for m in (1, 2, 5) if m * power <= target)
    dx = length / km_per_deg
    bx, by = x0 + (x1 - x0) * 0.05, y0 + (y1 - y0) * 0.05
    ax.plot([bx, bx + dx], [by, by], color="black", linewidth=3, solid_capstyle="butt")
    ax.text(bx + dx / 2, by + (y1 - y0) * 0.015, f"{length:g} km" if lang != "zh"
            else f"{length:g} 公里", ha="center", va="bottom", fontsize=8)


def incident_map(townships: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame,
                 hot_cells: gpd.GeoDataFrame, title: str, subtitle: str,
                 lang: str = "zh") -> bytes:
    """Township outlines with their names, the month's incidents as dots (red overdue, orange
    open, green closed: the maps' palette) and Gi* hot-spot cells as outlines on top."""
    zh = lang == "zh"
    fig = _figure(7.2, 6.4)
    ax = fig.add_subplot(111)
    if not townships.empty:
        townships.plot(ax=ax, facecolor="#f5f5f5", edgecolor=st.TOWNSHIP_LINE, linewidth=0.8)
    for cls, label in (("closed", "已结" if zh else "closed"), ("open", "在办" if zh else "open"),
                       ("overdue", "超期" if zh else "overdue")):
        part = incidents[incidents["cls"] == cls] if not incidents.empty else incidents
        if not part.empty:
            style = st.INCIDENT_STYLES[cls]
            ax.scatter(part.geometry.x, part.geometry.y, s=6 if cls == "closed" else 10,
                       c=style["fill"], edgecolors=style["color"], linewidths=0.3,
                       label=f"{label} ({len(part)})", zorder=3)
    if not hot_cells.empty:
        hot_cells.boundary.plot(ax=ax, color=st.HOT_LINE, linewidth=1.4, zorder=4)
        ax.plot([], [], color=st.HOT_LINE, linewidth=1.4,
                label=("热点网格 (Gi*, 95% 以上)" if zh else "hot-spot cells (Gi*, 95 %+)")
                + f" ({len(hot_cells)})")
    if not townships.empty:
        for _, t in townships.iterrows():
            p = t.geometry.representative_point()
            ax.annotate(t["name"] if zh else (t.get("name_en") or t["name"]), (p.x, p.y),
                        ha="center", fontsize=7, color="#263238", zorder=5,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                              "alpha": 0.7})
        bounds = tuple(float(v) for v in townships.total_bounds)
        _scale_bar(ax, bounds, lang)  # type: ignore[arg-type]
        mid = (bounds[1] + bounds[3]) / 2
        ax.set_aspect(1 / math.cos(math.radians(mid)))
    ax.set_axis_off()
    if ax.get_legend_handles_labels()[0]:
        _legend_below(ax)
    ax.set_title(f"{title}\n{subtitle}", fontsize=10)
    return _png(fig)


def _legend_below(ax: Any) -> None:
    """The legend under the map, in one or two rows: over the map it hid township names."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=4, fontsize=7,
              frameon=False)


def zoom_map(cells: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame,
             hot_cells: gpd.GeoDataFrame, title: str, lang: str = "zh",
             margin_deg: float = 0.004) -> bytes | None:
    """A close-up of where the hot spots are (they gather in the small cells of the town):
    cells with their names, the month's incidents and the hot-spot outlines. None without hot
    spots."""
    if hot_cells.empty:
        return None
    zh = lang == "zh"
    # frame the town's small cells (where hot spots gather), not a large rural neighbour
    small = hot_cells[hot_cells["area_km2"] <= 2.0] if "area_km2" in hot_cells else hot_cells
    x0, y0, x1, y1 = (float(v) for v in (small if not small.empty else hot_cells).total_bounds)
    x0, y0, x1, y1 = x0 - margin_deg, y0 - margin_deg, x1 + margin_deg, y1 + margin_deg
    fig = _figure(7.2, 5.6)
    ax = fig.add_subplot(111)
    near = cells.cx[x0:x1, y0:y1] if not cells.empty else cells
    if not near.empty:
        near.plot(ax=ax, facecolor="#fafafa", edgecolor=st.CELL_LINE, linewidth=0.5)
    pts = incidents.cx[x0:x1, y0:y1] if not incidents.empty else incidents
    for cls, label in (("closed", "已结" if zh else "closed"), ("open", "在办" if zh else "open"),
                       ("overdue", "超期" if zh else "overdue")):
        part = pts[pts["cls"] == cls] if not pts.empty else pts
        if not part.empty:
            style = st.INCIDENT_STYLES[cls]
            ax.scatter(part.geometry.x, part.geometry.y, s=12, c=style["fill"],
                       edgecolors=style["color"], linewidths=0.4, zorder=3,
                       label=f"{label} ({len(part)})")
    hot_cells.boundary.plot(ax=ax, color=st.HOT_LINE, linewidth=1.6, zorder=4)
    ax.plot([], [], color=st.HOT_LINE, linewidth=1.6,
            label="热点网格 (95% 以上)" if zh else "hot-spot cells (95 %+)")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1 / math.cos(math.radians((y0 + y1) / 2)))
    _scale_bar(ax, (x0, y0, x1, y1), lang)
    ax.set_axis_off()
    _legend_below(ax)
    ax.set_title(title, fontsize=10)
    return _png(fig)
