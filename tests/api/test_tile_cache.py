"""Caching of vector tiles (issue 15, low): a tile whose content depends on the caller is
``private`` and varies with the credentials; a public layer's tile stays public."""

from __future__ import annotations

import math
from typing import Any

import pytest


def xyz(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile of a point."""
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


Z, X, Y = xyz(111.13, 38.46, 12)  # Xing County town


def test_incident_tiles_are_private_and_vary_by_credentials(
        client: Any, role_headers: dict[str, dict[str, str]]) -> None:
    for role in ("command", "worker", "planner", "anonymous"):
        r = client.get(f"/tiles/incidents/{Z}/{X}/{Y}.pbf?datetime=2025-01-01/2026-10-31",
                       headers=role_headers[role])
        if r.status_code in (401, 403):
            continue
        assert r.status_code in (200, 204), (role, r.status_code, r.text)
        assert r.headers["cache-control"] == "private, max-age=60", role
        vary = {v.strip().lower() for v in r.headers["vary"].split(",")}
        assert {"authorization", "cookie"} <= vary, role
    # the command centre's tile has incidents in it (the headers are those of real content)
    r = client.get(f"/tiles/incidents/{Z}/{X}/{Y}.pbf", headers=role_headers["command"])
    assert r.status_code == 200 and r.headers["cache-control"].startswith("private")


@pytest.mark.parametrize("layer", ["cells", "compounds", "cameras"])
def test_public_layer_tiles_stay_public(client: Any, layer: str) -> None:
    r = client.get(f"/tiles/{layer}/{Z}/{X}/{Y}.pbf")
    assert r.status_code in (200, 204)
    assert r.headers["cache-control"] == "public, max-age=60"
    assert "private" not in r.headers["cache-control"]
