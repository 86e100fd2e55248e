"""The domain of Wangge: coordinates, schema, boundaries, lookups, incidents, analyses, io.

Never imports ``api`` or ``maps``. One concept, one module: see the layout table in README.md.
"""
