"""Track rules without a database: order, flags, figures, against hand-computed values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pyproj import Transformer

from geo.errors import InvalidInput
from geo.patrols.tracks import figures, flag_points, parse_segment

CST = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=CST)


def _line_m(n: int, step_m: float) -> tuple[np.ndarray, np.ndarray]:
    """n points step_m apart going east from a point of Xing County, via EPSG:4546."""
    fwd = Transformer.from_crs("EPSG:4490", "EPSG:4546", always_xy=True)
    inv = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True)
    x0, y0 = fwd.transform(111.13, 38.46)
    lon, lat = inv.transform(x0 + np.arange(n) * step_m, np.full(n, y0))
    return np.asarray(lon), np.asarray(lat)


def test_hand_computed_length_and_duration() -> None:
    # 65 points 12.5 m apart, every 10 s: 64 x 12.5 = 800 m in 640 s (Gauss-Kruger scale
    # 11 km from the central meridian differs from 1 by 1.5e-6: 0.001 m here)
    lon, lat = _line_m(65, 12.5)
    secs = T0.timestamp() + np.arange(65) * 10.0
    length_m, duration_s = figures(secs, lon, lat)
    assert length_m == pytest.approx(800.0, abs=0.05)
    assert duration_s == 640.0
    # a pause of 6 minutes between two halves adds neither time nor metres
    secs2 = secs.copy()
    secs2[33:] += 360.0
    length2, duration2 = figures(secs2, lon, lat)
    assert duration2 == 630.0 and length2 == pytest.approx(787.5, abs=0.05)


def test_speed_and_jump_are_flagged_and_later_points_compare_with_the_last_counted() -> None:
    lon, lat = _line_m(5, 12.5)
    secs = T0.timestamp() + np.arange(5) * 10.0
    lon[2] += 0.1  # ~8.7 km east: a jump
    assert flag_points(secs, lon, lat) == [None, None, "jump", None, None]
    lon2, lat2 = _line_m(4, 12.5)
    lon2[2] += 0.01  # ~870 m in 10 s: 313 km/h
    assert flag_points(secs[:4], lon2, lat2) == [None, None, "speed", None]
    lon3, lat3 = _line_m(3, 400.0)  # 400 m per 10 s = 144 km/h: not flagged
    assert flag_points(secs[:3], lon3, lat3) == [None, None, None]


def test_points_out_of_order_name_the_point() -> None:
    pts = [{"t": (T0 + dt.timedelta(seconds=s)).isoformat(), "lon": 111.13, "lat": 38.46}
           for s in (0, 10, 5)]
    with pytest.raises(InvalidInput) as err:
        parse_segment(pts, "EPSG:4490")
    assert err.value.detail["field"] == "points[2].t"
    assert "points[2]" in err.value.message and "时间" in err.value.message


def test_gcj02_points_are_read_as_gcj02() -> None:
    seg = parse_segment([{"t": T0.isoformat(), "lon": 111.1362, "lat": 38.4614}], "GCJ02")
    assert abs(seg.lon[0] - 111.1362) > 0.003  # shifted back by some 500 m
