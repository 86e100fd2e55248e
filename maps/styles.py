"""The one palette of the Wangge maps: every colour the maps and ``static/wangge.js`` draw with.

Each colour has one meaning, everywhere:

- red (:data:`OVERDUE`, :data:`OVERDUE_LINE`): an overdue incident, or a cell with overdue
  incidents. Nothing else is red.
- orange (:data:`OPEN`): open incidents (not overdue); green (:data:`CLOSED`): closed ones.
- blue: the grid (cells), and online cameras (:data:`CAMERA_STYLES`).
- magenta (:data:`FOCUS`): "look here": the worker's own cell, a search hit, gaps and overlaps
  between cells.
- teal (:data:`SITE`): recommended camera sites; brown: compounds without property management.
- choropleths: a sequential orange scale for camera coverage, yellow-green for property
  management (pale = below target), and a purple-orange diverging scale for Gi* hot (orange)
  and cold (purple) spots; grey (:data:`NO_DATA`) where there is nothing to measure.

``wangge.js`` holds no colour of its own: the layers pass it the styles it needs.
"""

from __future__ import annotations

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
COUNT_COLORS = {"overdue": OVERDUE, "open": OPEN_LINE, "closed": CLOSED, "outline": "#ffffff"}

# Cameras (markers filled white).
CAMERA_FILL = "#ffffff"
CAMERA_STYLES = {"online": {"color": "#1565c0"}, "offline": {"color": "#757575"},
                 "fault": {"color": "#6a1b9a"}}

# Boundaries and the grid.
TOWNSHIP_LINE = "#263238"
VILLAGE_LINE = "#546e7a"
CELL_LINE = "#1e88e5"
CELL_FILL = "#90caf9"
DEDICATED_LINE = "#8e24aa"
DEDICATED_FILL = "#ce93d8"
FOCUS = "#d500f9"  # own cell, search hit, gaps and overlaps
FOCUS_FILL = "#ffeb3b"
OVERLAP_LINE = "#000000"

# Property management modes; compounds without management are brown, never red.
MGMT_COLORS = {"company": "#2e7d32", "community": "#66bb6a", "social_org": "#9ccc65",
               "owners": "#26a69a", "none": "#8d6e63"}
UNMANAGED_LINE = "#5d4037"

# Choropleths.
UNIT_LINE = "#455a64"
NO_DATA = "#bdbdbd"
COVERAGE_SCALE = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]  # low -> high
TARGET_SCALE = ["#ffffcc", "#c2e699", "#78c679", "#238443"]  # below 50/80/90 %, >= 90 %
# Gi* confidence bins (+-3/2/1 = 99/95/90 %): hot orange, cold purple (ColorBrewer PuOr).
SPOT_COLORS = {3: "#b35806", 2: "#f1a340", 1: "#fee0b6",
               -1: "#d8daeb", -2: "#998ec3", -3: "#542788"}
HOT_LINE = "#7f3b08"
COLD_LINE = "#2d004b"
SITE = "#00897b"
