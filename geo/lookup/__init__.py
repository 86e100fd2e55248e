"""Which grid cell covers a point: the edge rule, the SQL lookup, the in-process index."""
