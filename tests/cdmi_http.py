"""A small, literal HTTP client for the CDMI end-to-end tests.

Built on :mod:`http.client` rather than a full-featured client on purpose:
the request line goes out exactly as written (``..``, ``%2e%2e`` and ``%2F``
reach the server unnormalised), nothing is retried, and every request uses a
fresh connection so one test's broken exchange cannot leak into the next.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.e2e import ADMIN_PASSWORD

VERSION = "X-CDMI-Specification-Version"
OBJECT = "application/cdmi-object"
CONTAINER = "application/cdmi-container"
CAPABILITY = "application/cdmi-capability"
#: CDMI's timestamp form, YYYY-MM-DDThh:mm:ss.ssssssZ.
TIMESTAMP = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z"


@dataclass
class Reply:
    """What came back: status, headers (case-insensitive) and the whole body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def version(self) -> str | None:
        """The ``X-CDMI-Specification-Version`` answered, if any."""
        return self.headers.get(VERSION)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def __repr__(self) -> str:  # shown by failing asserts
        return f"<Reply {self.status} {self.content_type} {self.body[:300]!r}>"


def basic(user: str, password: str) -> str:
    """An ``Authorization`` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class CdmiClient:
    """Requests to one CDMI endpoint as one user (``None`` for anonymous)."""

    def __init__(
        self,
        base_url: str,
        user: str | None = "admin",
        password: str = ADMIN_PASSWORD,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        source: str | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.user = user
        self.password = password
        self.ssl_context = ssl_context
        self.timeout = timeout
        #: The loopback address to connect from (login throttling is per address).
        self.source = source

    def as_user(
        self, user: str | None, password: str = "", *, source: str | None = None
    ) -> CdmiClient:
        """The same endpoint as someone else (from another loopback address)."""
        return CdmiClient(
            f"{self.scheme}://{self.host}:{self.port}/",
            user,
            password,
            ssl_context=self.ssl_context,
            timeout=self.timeout,
            source=source or self.source,
        )

    def connection(self) -> http.client.HTTPConnection:
        source = (self.source, 0) if self.source else None
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                self.host,
                self.port,
                timeout=self.timeout,
                context=self.ssl_context,
                source_address=source,
            )
        return http.client.HTTPConnection(
            self.host, self.port, timeout=self.timeout, source_address=source
        )

    def raw_socket(self) -> socket.socket:
        """A plain TCP connection to the endpoint, for hand-written requests."""
        return socket.create_connection((self.host, self.port), timeout=self.timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        *,
        content_type: str | None = None,
        cdmi: bool = True,
        version: str = "1.1.1",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request; a dict body is sent as JSON.

        *cdmi* adds ``X-CDMI-Specification-Version: version``; credentials
        go along unless the client is anonymous.
        """
        sent: dict[str, str] = {}
        if cdmi:
            sent[VERSION] = version
        if self.user is not None:
            sent["Authorization"] = basic(self.user, self.password)
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        if content_type is not None:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        connection = self.connection()
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    # -- shorthands ------------------------------------------------------------

    def get(self, path: str, **options: Any) -> Reply:
        return self.request("GET", path, **options)

    def delete(self, path: str, **options: Any) -> Reply:
        return self.request("DELETE", path, **options)

    def put_container(self, path: str, fields: dict[str, Any] | None = None) -> Reply:
        """CDMI container create or update (``fields`` is the JSON body)."""
        return self.request("PUT", path, fields or {}, content_type=CONTAINER)

    def put_object(self, path: str, fields: dict[str, Any], **options: Any) -> Reply:
        """CDMI data object create or update (``fields`` is the JSON body)."""
        return self.request("PUT", path, fields, content_type=OBJECT, **options)

    def put_plain(self, path: str, data: bytes, content_type: str, **options: Any) -> Reply:
        """Non-CDMI PUT: the body is the value."""
        return self.request("PUT", path, data, content_type=content_type, cdmi=False, **options)

    def value(self, path: str) -> bytes:
        """The value of a data object, read with a plain GET that must succeed."""
        reply = self.get(path, cdmi=False)
        assert reply.status == 200, reply
        return reply.body

    def read(self, path: str) -> dict[str, Any]:
        """A CDMI read that must succeed, as JSON."""
        reply = self.get(path)
        assert reply.status == 200, reply
        return reply.json()
