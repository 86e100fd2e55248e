"""Layers served over HTTP: the registry, OGC API - Features, CQL2, spatial questions, tiles."""
