"""Which requests are a browser's: content negotiation on the CDMI port.

A browser asks for pages with ``Accept: text/html,...,*/*;q=0.8``; CDMI
clients send ``X-CDMI-Specification-Version`` and ``application/cdmi-*``
types; curl and friends send ``*/*`` or nothing.  Only the first kind gets
pages: a request without the CDMI version header whose ``Accept`` ranks
``text/html`` strictly above every JSON, CDMI and wildcard type.  A GET
whose query string carries anything but the pages' own parameters (a CDMI
selector such as ``?children``) is CDMI's whatever it accepts, and so is
everything that is not a GET or HEAD, except below :data:`PREFIX`, where
the log-in and the forms live.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

#: Paths the browser front end keeps for itself (log-in, log-out, the forms).
PREFIX = "/_omsh/"
#: Query parameters of the pages themselves: paging, search, download.
PAGE_PARAMETERS = frozenset({"after", "q", "download"})
_VERSION_HEADER = "X-CDMI-Specification-Version"
_HTML = frozenset({"text/html", "application/xhtml+xml"})


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def _competes(media: str) -> bool:
    """Whether *media* is a type CDMI or a plain client would be answered with."""
    return media in ("*/*", "application/*") or media.endswith("json") or "cdmi" in media


def prefers_html(accept: str | None) -> bool:
    """Whether an ``Accept`` header ranks HTML strictly above JSON, CDMI and ``*/*``."""
    if not accept:
        return False
    html = other = 0.0
    for item in accept.split(","):
        media, *parameters = item.split(";")
        media = media.strip().lower()
        quality = _quality(parameters)
        if media in _HTML:
            html = max(html, quality)
        elif _competes(media):
            other = max(other, quality)
    return html > other


def is_browser_page(request: web.BaseRequest) -> bool:
    """A GET or HEAD a browser sent for a page (see the module docstring)."""
    if request.method not in ("GET", "HEAD") or _VERSION_HEADER in request.headers:
        return False
    if not prefers_html(request.headers.get("Accept")):
        return False
    query = request.raw_path.partition("?")[2]
    names = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    return names <= PAGE_PARAMETERS and (bool(names) or not query)


def claims(request: web.BaseRequest) -> bool:
    """Whether the browser front end answers *request* rather than CDMI."""
    if request.path.startswith(PREFIX) and _VERSION_HEADER not in request.headers:
        return True
    return is_browser_page(request)
