"""Start an aiohttp application on a TCP port (0: a free one) and learn which port it got.

Shared by the metrics/health server, the feed server of the demo and the tests' fake servers.
"""

from aiohttp import web


async def start_app(
    app: web.Application, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, int]:
    """The running app's runner (call `cleanup()` to stop it) and its bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server  # aiohttp exposes the bound port only here
    sockets = getattr(server, "sockets", None) or []
    return runner, (sockets[0].getsockname()[1] if sockets else port)
