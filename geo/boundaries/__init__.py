"""Boundary sets ("generations"): which set is valid on a date, checks, activation."""
