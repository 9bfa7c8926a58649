"""``POST {dossiers.webhook_path}``: the one-stop system pushes changed dossiers.

Signed like this (README, "Dossier status"): header ``X-Tthc-Timestamp`` = Unix seconds,
header ``X-Tthc-Signature`` = ``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<raw body>``
with ``dossiers.webhook_secret``. A timestamp more than ``webhook_max_skew_seconds`` away
is refused (replays); a replayed body inside the window changes nothing, because applying a
record is idempotent and notifications are deduplicated.

Body: one dossier object (the API contract) or ``{"dossiers": [...]}``. Answers 200 with
``{"accepted": n, "queued": q, "rejected": [{"index": i, "error": "..."}]}``, 401 on a bad
signature, 400 on a body that is not JSON, 503 when the database is unavailable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

from aiohttp import web

from bot.config import DossiersConfig
from bot.dossiers.service import DossierService
from bot.dossiers.wire import BadRecord, from_json

log = logging.getLogger(__name__)

MAX_ITEMS = 500


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def routes(service: DossierService, cfg: DossiersConfig) -> list[web.RouteDef]:
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        ts = request.headers.get("X-Tthc-Timestamp", "")
        given = request.headers.get("X-Tthc-Signature", "")
        try:
            skew = abs(service.clock.now().timestamp() - int(ts))
        except ValueError:
            skew = float("inf")
        if skew > cfg.webhook_max_skew_seconds or not hmac.compare_digest(
                given.encode(), sign(cfg.webhook_secret, ts, body).encode()):
            log.warning("dossier webhook refused: bad signature or timestamp",
                        extra={"remote": request.remote})
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "body is not JSON"}, status=400)
        items = data.get("dossiers") if isinstance(data, dict) and "dossiers" in data else [data]
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            return web.json_response({"error": f"expected a dossier or up to {MAX_ITEMS} in \"dossiers\""},
                                     status=400)
        accepted, queued, rejected = 0, 0, []
        started = time.perf_counter()
        for i, item in enumerate(items):
            try:
                dossier = from_json(item, service.tz)
            except BadRecord as exc:
                rejected.append({"index": i, "error": str(exc)})
                continue
            queued += await service.receive(dossier)
            accepted += 1
        log.info("dossier webhook", extra={"accepted": accepted, "queued": queued, "rejected": len(rejected),
                                           "ms": round((time.perf_counter() - started) * 1000)})
        return web.json_response({"accepted": accepted, "queued": queued, "rejected": rejected})

    return [web.post(cfg.webhook_path, receive)]
