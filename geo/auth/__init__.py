"""Users, roles, tokens and the audit log (issue 8).

- :mod:`geo.db.tables.auth`: tables ``app_user``, ``api_token``, ``audit_log``.
- :mod:`geo.auth.tokens`: signed short-lived session tokens (HMAC-SHA256) and API tokens.
- :mod:`geo.auth.users`: passwords (argon2), login with lockout, user administration, and the
  resolution of a token to a :class:`geo.auth.principal.Principal`.
- :mod:`geo.auth.audit`: the append-only audit log.
"""
