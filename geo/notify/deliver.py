"""The delivery worker (``wangge notify run``): outbox rows to webhook, SMS gateway and 12345.

What "exactly once" means here
------------------------------
Delivery is **at least once, with a stable message id**; receivers get each message *counted
once* by de-duplicating on ``X-Wangge-Message-Id`` (the stub receiver does; a real receiver
must). Each row is claimed in a short transaction of its own (``SELECT ... FOR UPDATE SKIP
LOCKED``, one row): the worker sends while holding the row's lock and marks it delivered in
that same transaction. If the worker dies after the receiver took the message and before the
commit, the lock goes with the connection, the row is still pending and is sent again with the
same id (a duplicate the receiver drops); it is never lost, since a row is only marked delivered
after an answer 2xx. Several workers may run at once: SKIP LOCKED gives each row to one of them.

A failing receiver (no answer, not 2xx) only delays its own rows: the row's ``attempts`` grows,
``next_at`` moves ``backoff_s * 2**(attempts-1)`` ahead (at most an hour), and after
``max_attempts`` the row is ``dead`` (kept with ``last_error``). The case flow never waits for
delivery: it only inserts rows.

Channels (:data:`CHANNELS`): ``webhook`` (departments, command centre, townships), ``sms`` (the
gateway gets ``{phone, text}``, the text from :data:`SMS_TEMPLATE`), ``hotline`` (the 12345
write-back). Every request is a JSON POST with ``X-Wangge-Message-Id`` and
``X-Wangge-Signature: sha256=<hex HMAC-SHA256 of the body>`` under the installation's webhook
secret. A channel without a URL is not configured: its rows are marked ``skipped`` (kept, so
the outbox still says who would have been told; they are never sent later).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from geo import localtime
from geo.notify.rules import ESCALATE_AFTER_H, scan

log = logging.getLogger("wangge")

SMS_TEMPLATE = "【{county_name}网格】事件{code}（{category_name}）已派发给您，请于{due}前处置"
CHANNELS = ("webhook", "sms", "hotline")
MESSAGE_ID = "X-Wangge-Message-Id"
SIGNATURE = "X-Wangge-Signature"


@dataclass(frozen=True)
class DeliveryConfig:
    """Where each channel goes, the signing secret and the retry rule."""

    secret: str
    webhook_url: str = ""
    sms_url: str = ""
    hotline_url: str = ""
    sms_template: str = SMS_TEMPLATE
    max_attempts: int = 8
    backoff_s: float = 30.0
    timeout_s: float = 5.0
    escalate_after_h: float = ESCALATE_AFTER_H

    def url(self, channel: str) -> str:
        """The receiver of ``channel`` ("" when not configured)."""
        return {"webhook": self.webhook_url, "sms": self.sms_url,
                "hotline": self.hotline_url}.get(channel, "")


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` + hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Does ``header`` sign ``body`` (constant-time)? For receivers."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def sms_text(template: str, payload: dict[str, Any]) -> str:
    """The SMS text: the template filled from the message (unknown names left empty)."""
    values: defaultdict[str, Any] = defaultdict(str)
    values.update({k: ("" if v is None else v) for k, v in payload.items()})
    return template.format_map(values)


def body_of(channel: str, payload: dict[str, Any], cfg: DeliveryConfig) -> dict[str, Any]:
    """What a channel's receiver gets."""
    if channel == "sms":
        return {"message_id": payload["message_id"], "phone": payload.get("phone"),
                "text": sms_text(cfg.sms_template, payload)}
    return payload


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> None:
    """POST ``body``; raise unless the answer is 2xx."""
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8",
                                          **headers})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - configured URL
        if not 200 <= resp.status < 300:
            raise OSError(f"HTTP {resp.status}")


Sender = Callable[[str, bytes, dict[str, str], float], None]


def deliver_one(engine: Engine, cfg: DeliveryConfig, send: Sender = post) -> str | None:
    """Claim, send and settle one due row; its new state, or None when nothing is due."""
    with engine.begin() as conn:
        row = conn.execute(text(
            "SELECT id, message_id, channel, payload, attempts FROM outbox "
            "WHERE state = 'pending' AND next_at <= now() ORDER BY next_at, id LIMIT 1 "
            "FOR UPDATE SKIP LOCKED")).mappings().first()
        if row is None:
            return None
        url = cfg.url(row["channel"])
        if not url:
            conn.execute(text("UPDATE outbox SET state = 'skipped', last_error = :e "
                              "WHERE id = :i"),
                         {"i": row["id"], "e": f"channel {row['channel']} not configured"})
            return "skipped"
        body = json.dumps(body_of(row["channel"], row["payload"], cfg),
                          ensure_ascii=False).encode()
        headers = {MESSAGE_ID: row["message_id"], SIGNATURE: sign(cfg.secret, body)}
        try:
            send(url, body, headers, cfg.timeout_s)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            attempts = row["attempts"] + 1
            delay = min(cfg.backoff_s * 2 ** (attempts - 1), 3600.0)
            state = "dead" if attempts >= cfg.max_attempts else "pending"
            conn.execute(text(
                "UPDATE outbox SET attempts = :a, state = :s, last_error = :e, "
                "next_at = clock_timestamp() + make_interval(secs => :d) WHERE id = :i"),
                {"a": attempts, "s": state, "e": str(exc)[:500], "d": delay, "i": row["id"]})
            return "dead" if state == "dead" else "retry"
        conn.execute(text("UPDATE outbox SET state = 'delivered', attempts = attempts + 1, "
                          "delivered_at = clock_timestamp(), last_error = NULL WHERE id = :i"),
                     {"i": row["id"]})
        return "delivered"


def run_once(engine: Engine, cfg: DeliveryConfig, limit: int = 1000,
             send: Sender = post) -> dict[str, int]:
    """Deliver up to ``limit`` due rows; counts by outcome."""
    counts: dict[str, int] = defaultdict(int)
    for _ in range(limit):
        state = deliver_one(engine, cfg, send)
        if state is None:
            break
        counts[state] += 1
    return dict(counts)


def scan_once(engine: Engine, cfg: DeliveryConfig,
              now: dt.datetime | None = None) -> dict[str, int]:
    """Enqueue the time-driven messages (overdue, escalation) due by now, each once."""
    with engine.begin() as conn:
        return scan(conn, now or localtime.now(), cfg.escalate_after_h)


def run_forever(engine: Engine, cfg: DeliveryConfig, poll_s: float = 1.0,
                scan_every_s: float = 60.0, should_stop: Callable[[], bool] = lambda: False
                ) -> None:
    """The worker's loop: scan every ``scan_every_s``, deliver what is due, sleep ``poll_s``
    when nothing is."""
    next_scan = 0.0
    while not should_stop():
        if time.monotonic() >= next_scan:
            try:
                found = scan_once(engine, cfg)
                if any(found.values()):
                    log.info("notify scan: %s", found)
            except Exception as exc:  # noqa: BLE001 - keep delivering; scan again later
                log.warning("notify scan failed: %s", exc)
            next_scan = time.monotonic() + scan_every_s
        try:
            done = run_once(engine, cfg, limit=100)
        except Exception as exc:  # noqa: BLE001 - database away: wait and retry
            log.warning("notify delivery failed: %s", exc)
            done = {}
        if done:
            log.info("notify: %s", done)
        else:
            time.sleep(poll_s)
