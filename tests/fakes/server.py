"""A recording aiohttp server on 127.0.0.1 (a random free port)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    method: str  # API method or path
    params: dict[str, Any]  # the request's parameters (JSON, form or multipart)
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    def __init__(self) -> None:
        self.app = web.Application()
        self.calls: list[Call] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        # Files the platform keeps (uploads by citizens): ``/cdn/<name>`` serves them.
        self.files: dict[str, tuple[bytes, str]] = {}
        self.app.router.add_get("/cdn/{name}", self._cdn)

    def put_file(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Keep a file on the fake platform; returns its URL."""
        self.files[name] = (data, content_type)
        return f"{self.base_url}/cdn/{name}"

    async def _cdn(self, request: web.Request) -> web.Response:
        self.calls.append(Call("cdn", {"name": request.match_info["name"]}, dict(request.headers)))
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]


async def read_params(request: web.Request) -> dict[str, Any]:
    """JSON body, urlencoded form or multipart form (files recorded by name)."""
    ctype = request.content_type
    if ctype == "application/json":
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        return body if isinstance(body, dict) else {"_body": body}
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        out: dict[str, Any] = {}
        for key, value in form.items():
            out[key] = value if isinstance(value, str) else f"<file {getattr(value, 'filename', '')}>"
        return out
    out = dict(request.query)
    raw = await request.read()
    if raw:
        try:
            out.update(json.loads(raw))
        except (ValueError, TypeError):
            pass
    return out
