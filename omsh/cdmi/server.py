"""The CDMI aiohttp application and its listener, on the server's event loop."""

from __future__ import annotations

import logging
import ssl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from omsh.cdmi.handlers import CdmiService

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


def make_app(service: CdmiService) -> web.Application:
    app = web.Application(handler_args={"max_line_size": MAX_LINE, "max_field_size": MAX_FIELD})
    app.router.add_route("*", "/{tail:.*}", service.handle)
    return app


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


async def start_cdmi_server(
    service: CdmiService, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Start listening; returns the runner (to clean up) and the bound port."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _OneLineClientErrors) for f in server_log.filters):
        server_log.addFilter(_OneLineClientErrors())
    runner = web.AppRunner(make_app(service), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, backlog=1024)
    await site.start()
    server = site._server  # the port actually bound when port 0 was asked for
    bound = server.sockets[0].getsockname()[1] if server is not None else port
    return runner, bound
