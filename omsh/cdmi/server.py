"""The CDMI aiohttp application and its listener, on the server's event loop."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from omsh.cdmi.dispatch import CdmiService

#: aiohttp's own limits answer oversized request lines and headers with 400.
MAX_LINE = 8190
MAX_FIELD = 8190


class _OneLineClientErrors(logging.Filter):
    """aiohttp logs a client's malformed request (a header line too long, too
    many headers) as an ERROR with a traceback; anyone could fill the log so.
    One INFO line says the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError | ConnectionError):
            record.levelno, record.levelname = logging.INFO, "INFO"
            text = " ".join(str(error).split())[:200]
            record.msg, record.args = "bad request from a client: %s", (text,)
            record.exc_info = record.exc_text = None
        return True


def make_server(service: CdmiService) -> web.Server:
    """aiohttp's low-level server: every request goes to :meth:`CdmiService.handle`.

    No router or application middleware: the service parses each URI itself
    (it must see the raw path), so routing would only cost time.
    """
    return web.Server(
        service.handle, max_line_size=MAX_LINE, max_field_size=MAX_FIELD, access_log=None
    )


class CdmiListener:
    """The running endpoint: stop it with :meth:`cleanup`."""

    def __init__(self, runner: web.ServerRunner, service: CdmiService) -> None:
        self.runner = runner
        self.service = service

    async def cleanup(self) -> None:
        self.service.stop_streams()  # a change feed never ends by itself
        await self.runner.cleanup()
        self.service.close()


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


async def start_cdmi_server(
    service: CdmiService, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[CdmiListener, int]:
    """Start listening; returns the listener (to clean up) and the bound port."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _OneLineClientErrors) for f in server_log.filters):
        server_log.addFilter(_OneLineClientErrors())
    runner = web.ServerRunner(make_server(service))
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, backlog=1024)
    await site.start()
    # The port actually bound when port 0 was asked for (a loop's server is an asyncio.Server).
    server = cast(asyncio.Server | None, site._server)
    bound = server.sockets[0].getsockname()[1] if server is not None else port
    return CdmiListener(runner, service), bound
