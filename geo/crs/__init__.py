"""Coordinate reference systems: names, transforms, GCJ-02/BD-09, metres, input validation."""
