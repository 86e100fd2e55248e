"""``wangge notify ...``: the delivery worker, the periodic scan and a stub receiver (demo)."""

from __future__ import annotations

import json
import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click

from api.settings import Settings, webhook_secret


def delivery_config(settings: Settings) -> Any:
    """The worker's configuration from the ``WANGGE_*`` settings."""
    from geo.notify.deliver import DeliveryConfig

    return DeliveryConfig(
        secret=webhook_secret(settings), webhook_url=settings.webhook_url,
        sms_url=settings.sms_url, hotline_url=settings.hotline_url,
        sms_template=settings.sms_template, max_attempts=settings.notify_max_attempts,
        backoff_s=settings.notify_backoff_s, escalate_after_h=settings.escalate_after_h)


def stub_server(port: int, secret: str, log_path: Path | None, fail: int = 0,
                host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A receiver that checks the signature, counts each message id once and logs it.

    ``fail``: answer 500 to everything (a failing receiver). Each accepted message is one JSON
    line in ``log_path`` (``duplicate: true`` for an id seen before: counted once).
    """
    from geo.notify.deliver import MESSAGE_ID, SIGNATURE, verify

    seen: set[str] = set()
    lock = threading.Lock()
    log = logging.getLogger("wangge.stub")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            mid = self.headers.get(MESSAGE_ID) or ""
            if fail:
                self.send_response(500)
                self.end_headers()
                return
            if not verify(secret, body, self.headers.get(SIGNATURE)):
                self.send_response(401)
                self.end_headers()
                return
            with lock:
                duplicate = mid in seen
                seen.add(mid)
                line = {"message_id": mid, "path": self.path, "duplicate": duplicate,
                        "body": json.loads(body)}
                if log_path is not None:
                    with log_path.open("a", encoding="utf-8") as out:
                        out.write(json.dumps(line, ensure_ascii=False) + "\n")
            log.info("%s %s%s %s", self.path, mid, " (duplicate)" if duplicate else "",
                     body.decode()[:300])
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return ThreadingHTTPServer((host, port), Handler)


def register(main: click.Group) -> None:
    """Attach the ``notify`` group to the ``wangge`` CLI."""

    @main.group()
    def notify() -> None:
        """Notifications (通知): deliver the outbox (webhook, SMS, 12345)."""

    @notify.command("run")
    @click.option("--once", is_flag=True, help="Scan and deliver what is due, then stop.")
    @click.option("--poll", type=float, default=1.0, help="Seconds between polls when idle.")
    @click.option("--scan-every", type=float, default=60.0,
                  help="Seconds between scans for overdue and escalation.")
    def run(once: bool, poll: float, scan_every: float) -> None:
        """Deliver outbox messages with retries and backoff (可多进程并行 / several may run)."""
        from geo.db.engine import get_engine
        from geo.notify.deliver import run_forever, run_once, scan_once

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        settings = Settings.from_env()
        cfg = delivery_config(settings)
        engine = get_engine(settings.database_url)
        if once:
            found = scan_once(engine, cfg)
            done = run_once(engine, cfg)
            click.echo(json.dumps({"scan": found, "delivery": done}, ensure_ascii=False))
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        click.echo("通知投递进程已启动 / delivery worker running (Ctrl-C to stop)")
        try:
            run_forever(engine, cfg, poll, scan_every, stop.is_set)
        except KeyboardInterrupt:
            pass

    @notify.command("secret")
    def secret() -> None:
        """Print the webhook signing secret (give it to the receivers)."""
        click.echo(webhook_secret(Settings.from_env()))

    @notify.command("stub-receiver")
    @click.option("--port", type=int, default=8765, show_default=True)
    @click.option("--log", "log_path", type=click.Path(path_type=Path), default=None,
                  help="Append each message as a JSON line to this file.")
    @click.option("--fail", is_flag=True, help="Answer 500 to everything (test retries).")
    def stub_receiver(port: int, log_path: Path | None, fail: bool) -> None:
        """A local receiver for the demo: checks the signature, logs each message once."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        server = stub_server(port, webhook_secret(Settings.from_env()), log_path, int(fail))
        click.echo(f"stub receiver on http://127.0.0.1:{port}/ (webhook, /sms, /12345 alike)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
