"""Metres to degrees: the one rule for a distance in metres expressed in CGCS2000 degrees.

Search margins, index prefilters (``ST_Expand``, ``dwithin`` on degree geometries), the
shrunken "cores" of the batch lookup and drawing tolerances all need a length in metres as
degrees of longitude/latitude. They all use :func:`metres_to_degrees`.
"""

from __future__ import annotations

import math

__all__ = ["metres_to_degrees"]

#: Metres per degree used by the rule: below the length of a degree of latitude anywhere
#: (110,574 m at the equator .. 111,694 m at the poles) once the 5% margin is applied,
#: and of a degree of longitude at the equator (111,320 m), scaled by cos(latitude).
_M_PER_DEG = 111_000.0
_MARGIN = 1.05
_LAT_PAD = 0.5  # degrees: the span stays valid this far poleward of ``lat_deg``
_LAT_CAP = 89.0


def metres_to_degrees(metres: float, lat_deg: float = 0.0) -> float:
    """Degrees that span at least ``metres`` in every direction, up to a latitude.

    The span is ``metres / (111,000 m * cos(|lat_deg| + 0.5 deg)) * 1.05 + 1e-9``: a degree
    of longitude shrinks with cos(latitude), so dividing by the cosine at the most poleward
    latitude concerned (plus half a degree) makes the span long enough east-west there and
    everywhere nearer the equator; north-south it is longer still. The 5% margin covers the
    ellipsoid (a degree of latitude is 110,574-111,694 m; a degree of longitude is slightly
    longer than on a sphere), and the added 1e-9 degree (0.1 mm) covers float rounding.

    Guarantee: for any two points with ``|lat| <= |lat_deg| + 0.5``, a geodesic distance of
    ``metres`` or less is a planar degree distance (Euclidean in lon/lat degrees) of at most
    the returned span. Use it for search margins and prefilters, which must never miss; it
    is never smaller than the true span, only larger (by about 5% north-south at the
    equator, more north-south at higher latitudes). For a drawing tolerance (simplifying,
    snapping) pass ``lat_deg=0``: about ``metres`` north-south, plus 5%.

    Parameters
    ----------
    metres : float
        A distance in metres (>= 0).
    lat_deg : float, default 0.0
        The most poleward latitude concerned, in degrees (sign ignored; capped at 89).

    Returns
    -------
    float
        The span in degrees, valid for longitude and latitude alike.
    """
    lat = min(abs(lat_deg) + _LAT_PAD, _LAT_CAP)
    return metres / (_M_PER_DEG * math.cos(math.radians(lat))) * _MARGIN + 1e-9
