"""The one palette of the Wangge maps: every colour the maps and ``static/wangge.js`` draw with.

Each colour has one meaning, everywhere:

- red (:data:`OVERDUE`, :data:`OVERDUE_LINE`): an overdue incident, or a cell with overdue
  incidents. Nothing else is red.
- amber/orange (:data:`OPEN`, :data:`OPEN_LINE`): open incidents (not overdue); green
  (:data:`CLOSED`): closed ones. Urgent ones keep their colour and get a thick ring
  (:data:`URGENT_WEIGHT`), drawn on top: overdue over urgent over open over closed
  (:data:`INCIDENT_ORDER`). The wall screen's alarm for a new urgent case
  (:data:`ALARM`) is the dark orange of open cases, never red.
- the wall screen (:data:`WALL`): white and amber text on a near-black ground (contrast
  above 12:1 at 3 m); its counters use the incident colours (overdue red, open amber, closed
  green).
- blue: the grid (cells), and the worker's own position ("I am here", :data:`HERE`, the blue
  dot of every phone map). Cameras are never blue.
- cameras (:data:`CAMERA_STYLES`): charcoal = online, light grey = offline, olive = fault (a
  camera state shares no colour with the grid, the incidents or the choropleths).
- magenta (:data:`FOCUS`): "look here": the worker's own cell, a search hit, gaps and overlaps
  between cells, compounds no camera sees (dashed outline on the camera coverage map).
- pink (:data:`PATROL`): patrols: today's tracks on the dispatch map, the cells patrolled in
  the last N days on the patrol coverage map (those not patrolled: :data:`COVERAGE_ZERO`,
  "nothing covers it", as on the camera map).
- teal (:data:`SITE`): recommended camera sites (marker, sector, leader line); brown
  (:data:`MGMT_COLORS` ``none``, :data:`UNMANAGED_LINE`): compounds without property management.
- plum (:data:`DEDICATED_LINE`, pale lilac fill): dedicated cells on the dispatch and cell maps,
  told apart from the magenta of :data:`FOCUS` (CIEDE2000 >= 20; the coverage maps, whose
  violet scale is close, do not draw them).
- choropleths: camera coverage is a sequential violet scale at fixed breaks
  (:data:`COVERAGE_SCALE`: < 5 % barely tinted, then 5-25, 25-50, 50-75, >= 75 %, one clear
  step per class) after a near-white "0 % (no camera)" class (:data:`COVERAGE_ZERO`);
  property management is yellow-green (:data:`TARGET_SCALE`, pale = below target); grey
  (:data:`NO_DATA`) where there is nothing to measure.
- Gi* hot spots are outlines drawn over the coverage fill, never a fill: dark orange-brown
  (:data:`HOT_LINE`, weight and dash by confidence); cold spots cyan (:data:`COLD_LINE`, not a
  violet: it would vanish on the dark coverage classes).
  :data:`SPOT_COLORS` are the swatches of charts (reports), not map fills.
- text on the map (township names, :data:`LABEL_TEXT`) has a white halo (:data:`LABEL_HALO`).

One meaning per colour is checked, not only stated: ``tests/maps/test_palette.py`` renders every
map and asks that any two colours of different meanings in one legend differ by CIEDE2000 >= 20
(the close pairs still accepted are listed there with their reason).

``wangge.js`` holds no colour of its own: the layers pass it the styles it needs.
``wangge.css`` repeats :data:`SITE` (site badges) and :data:`HERE` (the "I am here" dot).
"""

from __future__ import annotations

from typing import Any

# Incidents (and per-cell counts): red = overdue, orange = open, green = closed.
OVERDUE = "#e53935"
OVERDUE_LINE = "#7f0000"
OPEN = "#ffb300"
OPEN_LINE = "#e65100"
CLOSED = "#43a047"
CLOSED_LINE = "#1b5e20"
UNKNOWN = {"color": "#333333", "fill": "#999999"}  # an incident class without a style
INCIDENT_STYLES = {
    "overdue": {"color": OVERDUE_LINE, "fill": OVERDUE},
    "open": {"color": OPEN_LINE, "fill": OPEN},
    "closed": {"color": CLOSED_LINE, "fill": CLOSED},
    "unknown": UNKNOWN,
}
URGENT_WEIGHT = 3.5  # outline of an urgent incident (px); others 1.2-1.5
INCIDENT_ORDER = ["closed", "open", "urgent", "overdue"]  # bottom -> top
ALARM = {"bg": OPEN_LINE, "text": "#ffffff"}
WALL = {"bg": "#0d1117", "panel": "#161b22", "text": "#ffffff", "muted": "#c9d1d9",
        "accent": OPEN, "overdue": OVERDUE, "open": OPEN, "closed": CLOSED}
COUNT_COLORS = {"overdue": OVERDUE, "open": OPEN_LINE, "closed": CLOSED, "outline": "#ffffff"}

# Cameras (markers filled white): no blue (the grid), no red/orange/green (incidents).
CAMERA_FILL = "#ffffff"
CAMERA_STYLES = {"online": {"color": "#212121"}, "offline": {"color": "#9e9e9e"},
                 "fault": {"color": "#827717"}}

# Boundaries and the grid.
TOWNSHIP_LINE = "#263238"
VILLAGE_LINE = "#546e7a"
CELL_LINE = "#1e88e5"
CELL_FILL = "#90caf9"
HERE = "#1565c0"  # the worker's own position (wangge.css .wangge-here)
DEDICATED_LINE = "#99076d"  # plum: CIEDE2000 >= 20 from FOCUS, the grid and the boundaries
DEDICATED_FILL = "#e1bee7"
FOCUS = "#d500f9"  # own cell, search hit, gaps and overlaps
FOCUS_FILL = "#ffeb3b"
OVERLAP_LINE = "#000000"
LABEL_TEXT = "#263238"  # township names on the map (same ink as the township lines)
LABEL_HALO = "#ffffff"

# Property management modes; compounds without management are brown, never red.
MGMT_COLORS = {"company": "#2e7d32", "community": "#66bb6a", "social_org": "#9ccc65",
               "owners": "#26a69a", "none": "#8d6e63"}
UNMANAGED_LINE = "#5d4037"

# Choropleths.
UNIT_LINE = "#455a64"
NO_DATA = "#bdbdbd"
CHOROPLETH_OPACITY = 0.85  # fill opacity of every choropleth class
# Camera coverage at fixed breaks: "0 % (no camera)" near-white, under 5 % barely tinted (reads as
# uncovered, yet told apart), then 5-25, 25-50, 50-75, >= 75 %, light -> dark with clear steps
# in lightness (ColorBrewer Purples).
COVERAGE_ZERO = "#fcfbfd"
COVERAGE_SCALE = ["#efedf5", "#cbc9e2", "#9e9ac8", "#6a51a3", "#3f007d"]  # < 5 % -> >= 75 %
TARGET_SCALE = ["#ffffcc", "#c2e699", "#78c679", "#238443"]  # below 50/80/90 %, >= 90 %
# Gi* confidence bins (+-3/2/1 = 99/95/90 %): hot orange, cold purple (ColorBrewer PuOr);
# swatches for charts. On the maps hot spots are outlines in HOT_LINE.
SPOT_COLORS = {3: "#b35806", 2: "#f1a340", 1: "#fee0b6",
               -1: "#d8daeb", -2: "#998ec3", -3: "#542788"}
HOT_LINE = "#b35806"
COLD_LINE = "#00bcd4"  # cyan: a dark violet vanished on the darkest coverage classes
# Outline of a hot (cold) spot by confidence: weight in pixels and dash pattern.
SPOT_LINES: dict[int, dict[str, Any]] = {3: {"weight": 3.5, "dashArray": None},
                                         2: {"weight": 2.5, "dashArray": "7 4"},
                                         1: {"weight": 2.0, "dashArray": "2 4"}}
SITE = "#00897b"
PATROL = "#f06292"  # pink: patrol tracks (dispatch map) and cells patrolled (patrol coverage)
