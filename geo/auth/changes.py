"""Who-may-see-what changed: the one announcement every process's principal cache listens to.

登录凭据或权限范围变化的唯一通知点. Every change that alters what a resolved
:class:`~geo.auth.principal.Principal` may do calls :func:`auth_changed` in the transaction
that makes it:

- a session ended (logout, logout everywhere: ``auth_session_revoked``, ``token_version``);
- a user disabled or enabled, a password reset (``token_version``, API tokens revoked);
- an API token revoked;
- a role, region, department or worker binding changed (no such call exists yet; the one that
  comes calls this);
- a worker hand-over (``worker_assignment`` written by the workers' import);
- the demo's users and assignments deleted and loaded again; a restore from a backup.

It sends ``NOTIFY wangge_auth`` with the user id (or ``*``: anyone). PostgreSQL delivers the
notification when, and only when, the transaction commits, to every listening connection: each
app process listens (``api.auth_cache``) and drops the cached principals of that user (or all)
at once. A process whose listener is down does not use its cache at all (every request goes to
the database), so a notification lost with a dropped connection cannot leave a stale principal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

CHANNEL = "wangge_auth"
EVERYONE = "*"
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
# The flag a connection carries once it announced a change in its open transaction: the
# process that made the change drops its own cache at commit, before it answers anyone.
PENDING = "wangge_auth_changed"


def auth_changed(conn: Any, user_id: int | None = None) -> None:
    """Announce, in ``conn``'s transaction, that ``user_id``'s principal (None: anyone's) is no
    longer what it was. Delivered at commit; a rollback announces nothing.

    Parameters
    ----------
    conn
        A SQLAlchemy ``Connection`` inside the transaction that makes the change.
    user_id
        The user whose sessions, tokens or scope changed; None when several or unknown.
    """
    payload = EVERYONE if user_id is None else str(int(user_id))
    conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})
    pending: set[str] = conn.info.setdefault(PENDING, set())
    pending.add(payload)
