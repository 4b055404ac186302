"""A Slack incoming-webhook receiver: records posted payloads, can answer 429/5xx first."""

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.http import start_app


@dataclass
class FakeSlack:
    posts: list[dict[str, Any]] = field(default_factory=list)
    faults: list[tuple[int, int | None]] = field(default_factory=list)  # (status, Retry-After)
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, hook: str = "T000/B000/XXXX") -> str:
        return f"http://127.0.0.1:{self.port}/services/{hook}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/services/{hook:.*}", self._handle)
        self._runner, self.port = await start_app(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.text())
        if self.faults:
            status, retry_after = self.faults.pop(0)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return web.Response(status=status, text="rate_limited", headers=headers)
        if not payload.get("text") and not payload.get("blocks"):
            return web.Response(status=400, text="no_text")
        self.posts.append(payload)
        return web.Response(text="ok")
