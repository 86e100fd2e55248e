"""ASGI middleware: security headers, limits and rate limits, the ``/cells/at`` hot path."""
