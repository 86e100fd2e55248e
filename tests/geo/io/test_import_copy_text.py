"""The text the incident import sends to COPY, built a column at a time (issue 20 target 2):
the same as the ``csv`` module's and shapely's, value for value."""

from __future__ import annotations

import csv
import io

import numpy as np
import shapely

from geo.io.importer.staging import _csv_fields, ewkb_many, ewkb_points


def test_point_ewkb_is_shapelys() -> None:
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(-180, 180, 500), rng.uniform(-90, 90, 500)
    lon[:3] = [111.1362, -0.0, 1e-300]
    assert ewkb_points(lon, lat) == ewkb_many(shapely.points(lon, lat))


def test_csv_fields_are_the_csv_modules() -> None:
    """The fields read back as the values (None and '' both empty, which COPY reads as NULL)
    and are the csv module's text, but a carriage return is quoted (the module leaves it bare,
    and PostgreSQL's COPY refuses a bare one)."""
    texts = ["a", None, "b,c", 'd"e', "x\ny", "", "r\rs", "兴县 蔚汾路3号", " padded "]
    columns: list[list[object]] = [
        texts * 10,  # few distinct values
        [f"{t}{i}" if t is not None else None for i, t in enumerate(texts * 10)],  # many
        [f"code{i}" for i in range(90)],  # many, nothing to quote
        [f"code{i}" if i % 3 else None for i in range(90)],
        [1, None, 2**40, -3] * 20,
        list(range(90)),
        [i if i % 5 else None for i in range(90)],
        [True, False] * 40,
        [None] * 90,
        [np.int64(7)] * 90,
    ]
    for col in columns:
        fields = _csv_fields(col)
        assert fields is not None
        text = "".join(f"{f},z\n" for f in fields)
        back = [row[0] for row in csv.reader(io.StringIO(text, newline=""))]
        assert back == ["" if v is None else str(v) for v in col], col[:3]
        for v, f in zip(col, fields, strict=True):
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow([v, "z"])
            module = buf.getvalue()[:-3]
            if isinstance(v, str) and "\r" in v and not module.startswith('"'):
                module = '"' + module.replace('"', '""') + '"'
            assert f == module, v
    # another type (a float): the caller falls back to the csv module
    assert _csv_fields([1.5] * 90) is None
    assert _csv_fields([f"{i}" for i in range(89)] + [2.5]) is None
