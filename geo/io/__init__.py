"""Import and export of real data (GeoJSON, Shapefile, GeoPackage, CSV, XLSX, KML).

- :mod:`geo.io.parse`: values as people type them (numbers with thousands separators,
  compass bearings, dates in a given format, Chinese column names).
- :mod:`geo.io.read`: any supported file -> chunks of attribute rows + shapely geometries in
  the file's CRS (streamed for CSV).
- :mod:`geo.io.importer`: ``run_import(engine, layer, path, options)``; a dry run by default,
  everything written in one transaction with ``commit=True``.
- :mod:`geo.boundaries.checks`: checks of a boundary set (gaps, overlaps, cells outside their
  parent); :mod:`geo.boundaries.activate`: its activation.
- :mod:`geo.io.export`: ``export_layer(conn, principal, layer, fmt, ...)``.
"""

from __future__ import annotations

LAYERS = ("cells", "admin", "compounds", "cameras", "incidents", "workers", "buildings",
          "addresses")
