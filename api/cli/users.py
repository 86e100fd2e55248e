"""``wangge users``: add, disable, enable, reset, list, token, revoke, demo-credentials.

Each change is written to the audit log as the operating-system user (``cli:<name>``).
"""

from __future__ import annotations

import getpass
import os
from typing import Any

import click

from api.settings import Settings


def _engine() -> Any:
    from geo.db.engine import get_engine

    return get_engine(Settings.from_env().database_url)


def _audit(conn: Any, action: str, username: str, detail: dict[str, Any] | None = None) -> None:
    from geo.auth.audit import AuditEntry, record

    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        who = str(os.getuid())
    from sqlalchemy import text

    # filed under the user's home county, where her county's admin looks (review round 11,
    # N-C: an empty county showed every county's admin these rows)
    home = conn.execute(text("SELECT region_code FROM app_user WHERE username = :u"),
                        {"u": username}).scalar()
    record(conn, AuditEntry(action=action, username=f"cli:{who}", role="admin",
                            region_code=home or "", object_type="app_user",
                            object_id=username, detail=detail, client_ip="cli"))


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(getattr(exc, "message", str(exc)))


def register(main: click.Group) -> None:
    """Attach the ``users`` group to the ``wangge`` CLI."""

    @main.group()
    def users() -> None:
        """Users and API tokens (roles: admin, command, department, worker, planner, viewer)."""

    @users.command("add")
    @click.argument("username")
    @click.option("--role", required=True,
                  type=click.Choice(["admin", "command", "department", "worker", "planner",
                                     "viewer"]))
    @click.option("--department", help="Department code (role department), e.g. xiaofang.")
    @click.option("--worker", help="Grid worker code (role worker), e.g. W141123100001001.")
    @click.option("--name", "display_name", help="Display name.")
    @click.option("--region", default=None, help="Region code (default WANGGE_REGION).")
    @click.option("--scope", default=None,
                  help="A prefecture (141100 吕梁市) or province (140000 山西省) the user "
                  "oversees: every county below it (roles command, planner, viewer).")
    @click.option("--password-stdin", is_flag=True,
                  help="Read the password from stdin (default: generate and print one).")
    def add(username: str, role: str, department: str | None, worker: str | None,
            display_name: str | None, region: str | None, scope: str | None,
            password_stdin: bool) -> None:
        """Create a user; prints the generated password once."""
        from geo.auth.users import add_user
        from geo.errors import WanggeError

        password = click.get_text_stream("stdin").readline().rstrip(  # type: ignore[operator]
            "\n") if password_stdin else None
        region = Settings.from_env().region_or_default(region)
        try:
            with _engine().begin() as conn:
                uid, pw = add_user(conn, username, role, region, password, department, worker,
                                   display_name, scope_code=scope)
                _audit(conn, "user_add", username, {"role": role, "department": department,
                                                    "worker": worker})
        except WanggeError as exc:
            raise _fail(exc) from exc
        click.echo(f"user {username} (id {uid}, role {role}) created")
        if not password_stdin:
            click.echo(f"password: {pw}")

    @users.command("disable")
    @click.argument("username")
    def disable(username: str) -> None:
        """Disable a user (their sessions end and their API tokens are revoked at once)."""
        _set_disabled(username, True)

    @users.command("enable")
    @click.argument("username")
    def enable(username: str) -> None:
        """Enable a disabled user again."""
        _set_disabled(username, False)

    def _set_disabled(username: str, value: bool) -> None:
        from geo.auth.users import set_disabled
        from geo.errors import WanggeError

        try:
            with _engine().begin() as conn:
                set_disabled(conn, username, value)
                _audit(conn, "user_disable" if value else "user_enable", username)
        except WanggeError as exc:
            raise _fail(exc) from exc
        click.echo(f"user {username} {'disabled' if value else 'enabled'}")

    @users.command("reset")
    @click.argument("username")
    @click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
    def reset(username: str, password_stdin: bool) -> None:
        """Set a new password, unlock, and end the user's sessions."""
        from geo.auth.users import reset_password
        from geo.errors import WanggeError

        password = click.get_text_stream("stdin").readline().rstrip(  # type: ignore[operator]
            "\n") if password_stdin else None
        try:
            with _engine().begin() as conn:
                pw = reset_password(conn, username, password)
                _audit(conn, "user_reset", username)
        except WanggeError as exc:
            raise _fail(exc) from exc
        click.echo(f"user {username}: password reset, sessions ended, API tokens revoked")
        if not password_stdin:
            click.echo(f"password: {pw}")

    @users.command("list")
    def list_cmd() -> None:
        """List users with role, binding and state."""
        from geo.auth.users import list_users

        with _engine().connect() as conn:
            rows = list_users(conn)
        click.echo(f"{'user':<20} {'role':<10} {'region':<8} {'scope':<8} {'binding':<22} "
                   f"{'state':<10} tokens")
        for r in rows:
            binding = r["department_code"] or r["worker_code"] or ""
            state = "disabled" if r["disabled"] else ("locked" if r["locked_until"] else "ok")
            click.echo(f"{r['username']:<20} {r['role']:<10} {r['region_code'] or '':<8} "
                       f"{r['scope_code'] or '':<8} {binding:<22} {state:<10} "
                       f"{r['api_tokens']}")

    @users.command("token")
    @click.argument("username")
    @click.option("--name", default="api", show_default=True, help="What the token is for.")
    @click.option("--days", type=int, default=None, help="Expiry in days, 1..365 (default: 90).")
    def token(username: str, name: str, days: int | None) -> None:
        """Create a long-lived API token for a system acting as USERNAME (shown once)."""
        from geo.auth.users import create_api_token
        from geo.errors import WanggeError

        try:
            with _engine().begin() as conn:
                tid, tok = create_api_token(conn, username, name, days)
                _audit(conn, "token_create", username, {"token_id": tid, "name": name})
        except WanggeError as exc:
            raise _fail(exc) from exc
        click.echo(f"token id {tid} for {username} ({name}); send 'Authorization: Bearer <token>' "
                   "(QGIS/GDAL: Basic authentication, any user name, the token as password)")
        click.echo(tok)

    @users.command("revoke")
    @click.argument("token_id", type=int)
    def revoke(token_id: int) -> None:
        """Revoke an API token by id."""
        from geo.auth.users import revoke_api_token
        from geo.errors import WanggeError

        try:
            with _engine().begin() as conn:
                revoke_api_token(conn, token_id)
                _audit(conn, "token_revoke", str(token_id))
        except WanggeError as exc:
            raise _fail(exc) from exc
        click.echo(f"token {token_id} revoked")

    @users.command("demo-credentials")
    def demo_credentials_cmd() -> None:
        """Print the demo users and their published passwords (demo mode only)."""
        from geo.demo.users import demo_credentials

        s = Settings.from_env()
        with _engine().connect() as conn:
            rows = demo_credentials(conn)
        if not rows:
            click.echo("no demo users (load the demo: wangge demo load)")
            return
        if not s.demo_mode:
            click.echo("demo users exist but cannot log in outside demo mode (WANGGE_DEMO_MODE=0)")
            return
        click.echo("demo users (POST /auth/login {\"username\", \"password\"}):")
        for r in rows:
            scope = r["department_code"] or (f"cells {r['cells']}" if r["cells"] else "")
            click.echo(f"  {r['role']:<10} {r['username']:<15} {r['password']:<20} {scope}")
