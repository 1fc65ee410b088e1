"""The browser front end over plain HTTP (no browser) against a real ``omsh serve``.

Content negotiation both ways (browsers get pages, CDMI and plain clients
see exactly what they saw before), the log-in session and its cookie,
CSRF and Origin checks on every form, escaping of hostile names, metadata
and query text, pages that show no more than the ACLs allow, and the login
throttle.  Requests are written with :mod:`http.client` so every header is
as a browser would send it and nothing is followed or retried.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import re
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest

from omsh.cdmi.auth import Caller
from omsh.store.metadata import InvalidMetadata
from omsh.web import sessions
from omsh.web.negotiation import prefers_html
from omsh.web.pages import parse_item
from tests.cdmi_http import CdmiClient, basic
from tests.e2e import ADMIN_PASSWORD, OmshServer
from tests.test_cdmi_access_e2e import self_signed

pytestmark = pytest.mark.e2e

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
PASSWORDS = {"alice": "alice-web-pw", "bob": "bob-web-pw"}
#: The server's login throttle: the first delay after the free failures, and its cap.
DELAY = 2.0
#: Failed logins come from their own loopback address (the throttle is per address).
THROTTLED = "127.0.0.4"
#: ``<script>alert(1)</script>"'&.txt`` cannot be a name (names have no '/'): this is as bad.
HOSTILE = "<script>alert(1)<script><img src=x onerror=alert(1)>\"'&.txt"


@dataclass
class Page:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.text)
        assert found, self.text[:500]
        return found.group(1)

    def __repr__(self) -> str:
        return f"<Page {self.status} {self.location} {self.body[:300]!r}>"


class Browser:
    """Requests as a browser sends them: ``Accept`` for HTML, a cookie once logged in."""

    def __init__(
        self, url: str, *, ssl_context: ssl.SSLContext | None = None, source: str | None = None
    ) -> None:
        self.client = CdmiClient(url, None, ssl_context=ssl_context, source=source)
        self.origin = url.rstrip("/")
        self.cookie: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Page:
        sent = {"Accept": BROWSER_ACCEPT}
        if self.cookie:
            sent["Cookie"] = self.cookie
        reply = self.client.request(method, path, body, cdmi=False, headers=sent | (headers or {}))
        return Page(reply.status, reply.headers, reply.body)

    def get(self, path: str, **headers: str) -> Page:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, fields: dict[str, str], *, origin: str | None = "") -> Page:
        """A form POST from this site (Origin set), or from *origin*, or with none (None)."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if origin is not None:
            headers["Origin"] = origin or self.origin
        return self.request("POST", path, urlencode(fields).encode(), headers)

    def login(self, user: str, password: str) -> Page:
        page = self.post("/_omsh/login", {"user": user, "password": password, "next": "/"})
        cookie = page.headers.get("Set-Cookie")
        if page.status == 303 and cookie:
            self.cookie = cookie.split(";", 1)[0]
        return page

    def upload(self, directory: str, name: str, data: bytes, csrf: str) -> Page:
        """A multipart upload as a browser sends it: token, container, then the file."""
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n',
            f'--{boundary}\r\nContent-Disposition: form-data; name="dir"\r\n\r\n{directory}\r\n',
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n",
        ]
        body = "".join(parts).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Origin": self.origin,
        }
        return self.request("POST", "/_omsh/upload", body, headers)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OmshServer]:
    throttle = ("--auth-delay", str(DELAY), "--auth-delay-max", str(DELAY))
    instance = OmshServer(tmp_path_factory.mktemp("omsh-web"), serve_args=throttle).start()
    for user, password in PASSWORDS.items():
        instance.ok(f"user add {user} --password-stdin", stdin=f"{password}\n".encode())
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def cdmi(server: OmshServer) -> CdmiClient:
    return CdmiClient(server.cdmi_url)


@pytest.fixture(scope="module")
def admin(server: OmshServer) -> Browser:
    browser = Browser(server.cdmi_url)
    assert browser.login("admin", ADMIN_PASSWORD).status == 303
    return browser


@pytest.fixture(scope="module")
def bob(server: OmshServer) -> Browser:
    browser = Browser(server.cdmi_url)
    assert browser.login("bob", PASSWORDS["bob"]).status == 303
    return browser


_boxes = itertools.count()


@pytest.fixture
def box(cdmi: CdmiClient, request: pytest.FixtureRequest) -> str:
    """A fresh container (admin's, private) with one small object in it."""
    uri = f"/{re.sub(r'[^a-z0-9]', '-', request.node.name.lower())[:50]}-{next(_boxes)}/"
    assert cdmi.put_container(uri).status == 201
    assert cdmi.put_plain(uri + "a.txt", b"hello, browser", "text/plain").status == 201
    return uri


# -- content negotiation -----------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Accept": "*/*"},
        {"Accept": "application/json"},
        {"Accept": "text/html, */*"},  # no preference: not a browser
        {"Accept": "application/cdmi-object, text/html;q=0.5"},
    ],
)
def test_plain_clients_see_no_change(cdmi: CdmiClient, box: str, headers: dict[str, str]):
    reference = cdmi.get(box + "a.txt", cdmi=False)
    assert (reference.status, reference.body) == (200, b"hello, browser")
    reply = cdmi.get(box + "a.txt", cdmi=False, headers=headers)
    assert (reply.status, reply.content_type, reply.body) == (
        200,
        reference.content_type,
        reference.body,
    )
    assert cdmi.as_user(None).get(box, cdmi=False, headers=headers).status == 401


@pytest.mark.parametrize("accept", [None, BROWSER_ACCEPT, "application/cdmi-container"])
def test_cdmi_clients_see_no_change(cdmi: CdmiClient, box: str, accept: str | None):
    """The version header makes it CDMI, whatever Accept says."""
    reply = cdmi.get(box, headers={"Accept": accept} if accept else {})
    assert reply.status == 200, reply
    assert reply.content_type.startswith("application/cdmi-container")
    assert reply.json()["children"] == ["a.txt"]


def test_browsers_get_pages(admin: Browser, box: str):
    page = admin.get(box)
    assert page.status == 200, page
    assert page.headers["Content-Type"].startswith("text/html")
    assert ">a.txt</a>" in page.text
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]
    # A CDMI selector makes even a browser's request CDMI's.
    selected = admin.request("GET", box + "?children", headers={"Authorization": admin_basic()})
    assert selected.status == 200 and not selected.headers["Content-Type"].startswith("text/html")


def admin_basic() -> str:
    return basic("admin", ADMIN_PASSWORD)


def test_http_basic_still_works_for_pages(server: OmshServer, box: str):
    tool = Browser(server.cdmi_url)
    page = tool.get(box, Authorization=admin_basic())
    assert page.status == 200 and ">a.txt</a>" in page.text
    wrong = tool.get(box, Authorization=basic("nobody", "guess"))
    assert wrong.status == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic ")
    # Forms need a session: Basic credentials are sent by the browser to any site's form.
    refused = tool.request(
        "POST",
        "/_omsh/mkdir",
        urlencode({"dir": box, "name": "x"}).encode(),
        {"Authorization": admin_basic(), "Origin": tool.origin},
    )
    assert refused.status == 403, refused


# -- log-in, the cookie, log-out ------------------------------------------------------


def test_pages_redirect_to_the_login_form(server: OmshServer, box: str):
    stranger = Browser(server.cdmi_url)
    page = stranger.get(box)
    assert page.status == 303
    location = urlsplit(page.location)
    assert location.path == "/_omsh/login" and parse_qs(location.query)["next"] == [box]
    form = stranger.get(page.location)
    assert form.status == 200 and 'name="password"' in form.text


def test_login_sets_a_strict_cookie_and_logout_ends_the_session(server: OmshServer, box: str):
    browser = Browser(server.cdmi_url)
    wrong = browser.login("alice", "not-her-password")
    assert wrong.status == 401 and "Set-Cookie" not in wrong.headers
    assert "wrong user name or password" in wrong.text
    page = browser.login("alice", PASSWORDS["alice"])
    assert page.status == 303 and page.location == "/"
    flags = [flag.strip().lower() for flag in page.headers["Set-Cookie"].split(";")]
    assert {"httponly", "samesite=strict", "path=/"} <= set(flags)
    assert "secure" not in flags  # plain HTTP here; see the TLS test
    home = browser.get("/home/alice/")
    assert home.status == 200, home
    logout = browser.post("/_omsh/logout", {"csrf": home.csrf()})
    assert logout.status == 303 and logout.location == "/_omsh/login"
    assert browser.get("/home/alice/").status == 303  # the old cookie is worthless


def test_the_login_form_must_come_from_this_site(server: OmshServer):
    browser = Browser(server.cdmi_url)
    fields = {"user": "alice", "password": PASSWORDS["alice"]}
    assert browser.post("/_omsh/login", fields, origin="http://evil.example").status == 403
    assert browser.post("/_omsh/login", fields, origin=None).status == 403


def test_a_changed_password_or_a_removed_user_logs_out_at_once(server: OmshServer):
    server.ok("user add carol --password-stdin", stdin=b"carol-web-pw\n")
    browser = Browser(server.cdmi_url)
    assert browser.login("carol", "carol-web-pw").status == 303
    assert browser.get("/home/carol/").status == 200
    server.ok("passwd carol", stdin=b"carol-new-pw\n")
    page = browser.get("/home/carol/")
    assert page.status == 303 and page.location == "/_omsh/login"
    assert "omsh_session=" in page.headers.get("Set-Cookie", "")  # cleared
    assert browser.login("carol", "carol-new-pw").status == 303
    assert browser.get("/home/carol/").status == 200
    server.ok("user del carol")
    assert browser.get("/home/carol/").location == "/_omsh/login"
    assert browser.get("/").status == 303


def test_next_never_leaves_the_site(server: OmshServer):
    browser = Browser(server.cdmi_url)
    fields = {"user": "bob", "password": PASSWORDS["bob"], "next": "//evil.example/"}
    assert browser.post("/_omsh/login", fields).location == "/"


# -- pages -------------------------------------------------------------------------------


def test_listing_is_sorted_and_paged(admin: Browser, cdmi: CdmiClient, box: str):
    names = [f"n{i:03d}" for i in range(205)]
    for name in reversed(names):
        assert cdmi.put_plain(box + name, name.encode(), "text/plain").status == 201
    everything = ["a.txt", *names]
    shown: list[str] = []
    url = box
    while url:
        page = admin.get(url)
        assert page.status == 200, page
        rows = re.findall(r'<tr><td><a href="[^"]*">([^<]*)</a>', page.text)
        assert len(rows) <= 100
        shown += rows
        found = re.search(r'id="next" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert shown == everything
    first = admin.get(box).text
    assert '<td>object</td><td class="num">14</td>' in first  # kind and size of a.txt
    assert "<td>admin</td>" in first


def test_object_page(admin: Browser, cdmi: CdmiClient, server: OmshServer, box: str):
    server.ok(f"set-meta {box}a.txt n=7 title='a b' when=2024-01-02T03:04:05Z code:str=007")
    page = admin.get(box + "a.txt")
    assert page.status == 200, page
    text = page.text
    for row in [
        "<td>n</td><td>int</td><td>7</td>",
        "<td>code</td><td>str</td><td>007</td>",
        "<td>when</td><td>datetime</td><td>2024-01-02T03:04:05.000000Z</td>",
        "<td>title</td><td>str</td><td>a b</td>",
    ]:
        assert row in text
    digest = hashlib.sha256(b"hello, browser").hexdigest()
    assert f"<th>cdmi_hash</th><td>{digest}</td>" in text
    assert "<td>OWNER@</td><td>all</td>" in text and "<td>/</td></tr>" in text  # inherited
    assert "created" in text  # history: the file storage keeps it
    example = re.search(r'id="range-example">([^<]*)<', text)
    assert example and example.group(1) == f"curl -u USER -r 0-1023 '{admin.origin}{box}a.txt'"
    object_id = cdmi.read(box + "a.txt")["objectID"]
    by_id = admin.get(f"/cdmi_objectid/{object_id}")
    assert by_id.status == 303 and by_id.location == box + "a.txt", by_id
    download = re.search(r'id="download" href="([^"]+)"', text)
    assert download
    value = admin.get(download.group(1))
    assert (value.status, value.body) == (200, b"hello, browser")
    # Saved, never shown as one of the site's pages (an HTML value would run there).
    assert value.headers["Content-Disposition"] == "attachment; filename*=UTF-8''a.txt"
    assert value.headers["Content-Security-Policy"] == "sandbox"
    ranged = admin.get(download.group(1), Range="bytes=7-13")
    assert (ranged.status, ranged.body) == (206, b"browser")


def test_search_and_its_errors(admin: Browser, cdmi: CdmiClient, box: str):
    assert cdmi.put_plain(box + "b.log", b"x" * 2000, "text/plain").status == 201
    page = admin.get(box + "?" + urlencode({"q": "cdmi_size > 1000"}))
    assert page.status == 200 and "<h2>1 found</h2>" in page.text
    assert f'<a href="{box}b.log">{box}b.log</a>' in page.text
    bad = admin.get(box + "?" + urlencode({"q": "name = <script>"}))
    assert bad.status == 200, bad
    error = re.search(r'<pre class="error" id="query-error">(.*?)</pre>', bad.text, re.S)
    assert error and "syntax error" in error.group(1) and "^" in error.group(1)
    assert "<script>" not in bad.text and "&lt;script&gt;" in bad.text


def test_hostile_names_and_metadata_are_escaped(admin: Browser, cdmi: CdmiClient, box: str):
    uri = box + quote(HOSTILE, safe="")
    fields = {"value": "x", "metadata": {"note": "<script>alert(2)</script>", "<b>": "<i>"}}
    assert cdmi.put_object(uri, fields).status == 201
    for url in (box, uri, box + "?" + urlencode({"q": "note LIKE '<script>%'"})):
        page = admin.get(url)
        assert page.status == 200, page
        for markup in ("<script>", "<img", "<b>", "<i>"):
            assert markup not in page.text
    listing = admin.get(box).text
    assert (
        "&lt;script&gt;alert(1)&lt;script&gt;&lt;img src=x onerror=alert(1)&gt;&#34;&#39;&amp;.txt"
        in listing
    )
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in admin.get(uri).text


@pytest.mark.parametrize("size", [100, 2_000_000], ids=["in-memory", "from-file"])
def test_a_stored_html_value_never_runs_as_a_page_of_this_origin(
    cdmi: CdmiClient, box: str, size: int
):
    """CDMI serves values on the pages' origin: a stored HTML page is sandboxed there."""
    html = b"<script>fetch('/_omsh/')</script>".ljust(size, b" ")
    uri = box + "page.html"
    assert cdmi.put_plain(uri, html, "text/html").status in (201, 204)
    for path in (uri, uri + "?value"):
        reply = cdmi.get(path, cdmi=False)
        assert reply.status == 200 and reply.body == html, reply
        assert reply.headers["Content-Security-Policy"] == "sandbox"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"


# -- forms -------------------------------------------------------------------------------


def test_forms_change_the_store(admin: Browser, cdmi: CdmiClient, box: str):
    csrf = admin.get(box).csrf()
    made = admin.post("/_omsh/mkdir", {"csrf": csrf, "dir": box, "name": "sub"})
    assert made.status == 303 and made.location == box, made
    assert cdmi.get(box + "sub/").status == 200
    data = bytes(range(256)) * 20_000  # 5 MB, streamed to the store
    uploaded = admin.upload(box + "sub", "big.bin", data, csrf)
    assert uploaded.status == 303 and uploaded.location == box + "sub/", uploaded
    stored = cdmi.read(box + "sub/big.bin?metadata")["metadata"]
    assert stored["cdmi_hash"] == hashlib.sha256(data).hexdigest()
    meta = admin.post("/_omsh/meta", {"csrf": csrf, "path": box + "a.txt", "item": "n:int=42"})
    assert meta.status == 303, meta
    assert cdmi.read(box + "a.txt?metadata")["metadata"]["n"] == 42
    on_container = admin.post("/_omsh/meta", {"csrf": csrf, "path": box, "item": "team=web"})
    assert on_container.status == 303 and on_container.location == box, on_container
    assert "<td>team</td><td>str</td><td>web</td>" in admin.get(box).text
    removed = admin.post("/_omsh/rm", {"csrf": csrf, "path": box + "sub", "recursive": "yes"})
    assert removed.status == 303 and removed.location == box
    assert cdmi.get(box + "sub/").status == 404


def test_a_form_error_is_a_page_not_a_traceback(admin: Browser, box: str):
    csrf = admin.get(box).csrf()
    page = admin.post("/_omsh/meta", {"csrf": csrf, "path": box + "a.txt", "item": "n:int=x"})
    assert page.status == 400, page
    assert "&#39;x&#39; is not a int" in page.text
    again = admin.post("/_omsh/mkdir", {"csrf": csrf, "dir": box, "name": "a.txt"})
    assert again.status == 409, again


@pytest.mark.parametrize(
    ("token", "origin"),
    [(None, ""), ("forged", ""), ("right", "http://evil.example"), ("right", None)],
)
def test_forms_without_the_token_or_from_elsewhere_are_refused(
    admin: Browser, cdmi: CdmiClient, box: str, token: str | None, origin: str | None
):
    fields = {"dir": box, "name": "csrf-victim"}
    if token is not None:
        fields["csrf"] = admin.get(box).csrf() if token == "right" else token
    page = admin.post("/_omsh/mkdir", fields, origin=origin)
    assert page.status == 403, page
    assert cdmi.get(box + "csrf-victim/").status == 404
    upload = admin.upload(box, "victim.txt", b"x", "forged")
    assert upload.status == 403
    assert cdmi.get(box + "victim.txt").status == 404


# -- access: no page shows what the ACLs hide -----------------------------------------


def test_pages_show_only_what_the_acls_allow(
    bob: Browser, cdmi: CdmiClient, server: OmshServer, box: str
):
    assert cdmi.put_container(box + "shared/").status == 201
    for name in ("seen.txt", "hidden.txt"):
        assert cdmi.put_plain(box + f"shared/{name}", b"tagged", "text/plain").status == 201
    for name in ("seen.txt", "hidden.txt"):
        server.ok(f"set-meta {box}shared/{name} tag=web")
    assert bob.get(box).status == 403  # admin's: bob may not list it
    assert bob.get(box + "a.txt").status == 403
    server.ok(f"acl grant {box}shared bob read")
    server.ok(f"acl grant {box}shared/seen.txt bob read")
    listing = bob.get(box + "shared/")
    assert listing.status == 200, listing
    assert "seen.txt" in listing.text and "hidden.txt" not in listing.text
    found = bob.get(box + "shared/?" + urlencode({"q": "tag = 'web'"}))
    assert "<h2>1 found</h2>" in found.text and "hidden.txt" not in found.text
    assert bob.get(box + "shared/hidden.txt").status == 403
    assert bob.get(box + "shared/hidden.txt?download").status == 403
    hidden_id = cdmi.read(box + "shared/hidden.txt")["objectID"]
    by_id = bob.get(f"/cdmi_objectid/{hidden_id}")
    assert by_id.status == 403 and "hidden.txt" not in by_id.text + by_id.location
    csrf = listing.csrf()
    refused = bob.post("/_omsh/rm", {"csrf": csrf, "path": box + "shared/seen.txt"})
    assert refused.status == 403
    assert cdmi.get(box + "shared/seen.txt").status == 200


# -- TLS and throttling ----------------------------------------------------------------


def test_the_cookie_is_secure_under_tls(tmp_path: Path):
    cert, key = self_signed(tmp_path)
    tls = OmshServer(tmp_path / "srv", serve_args=("--tls-cert", str(cert), "--tls-key", str(key)))
    tls.start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
        browser = Browser(tls.cdmi_url, ssl_context=context)
        page = browser.login("admin", ADMIN_PASSWORD)
        assert page.status == 303, page
        flags = [flag.strip().lower() for flag in page.headers["Set-Cookie"].split(";")]
        assert "secure" in flags and "httponly" in flags
        assert browser.get("/").status == 200
    finally:
        tls.stop()


def test_failed_form_logins_are_throttled(server: OmshServer):
    """Three free failures from a fresh address, then DELAY before the next answer."""
    guesser = Browser(server.cdmi_url, source=THROTTLED)
    timings = []
    for _ in range(4):
        started = time.monotonic()
        assert guesser.login("alice", "guess").status == 401
        timings.append(time.monotonic() - started)
    assert timings[3] >= DELAY, timings
    assert timings[3] >= min(timings[:3]) + DELAY / 2, timings


# -- the pieces, without a server ---------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "browser"),
    [
        (BROWSER_ACCEPT, True),  # Chromium
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # Firefox
        ("text/html", True),
        ("text/html;q=0.9, application/json;q=0.5", True),
        (None, False),  # curl -H 'Accept:', http.client
        ("*/*", False),  # curl
        ("text/html, */*", False),  # no preference
        ("application/json", False),
        ("application/cdmi-object, text/html;q=0.5", False),
        ("text/html;q=0", False),
        ("text/html;q=oops, */*;q=0.1", False),
    ],
)
def test_which_accept_headers_are_a_browsers(accept: str | None, browser: bool):
    assert prefers_html(accept) is browser


def test_sessions_end_when_idle(monkeypatch: pytest.MonkeyPatch):
    now = [1000.0]
    monkeypatch.setattr(sessions.time, "monotonic", lambda: now[0])
    table = sessions.Sessions()
    token, session = table.open(Caller("alice", "hash"))

    class Request:
        cookies = {sessions.COOKIE: token}

    found = table.find(Request())  # type: ignore[arg-type]
    assert found is session and session.csrf_matches(session.csrf)
    assert not session.csrf_matches(None) and not session.csrf_matches(session.csrf + "x")
    now[0] += sessions.IDLE_SECONDS + 1
    assert table.find(Request()) is None  # type: ignore[arg-type]
    assert len(table) == 0


@pytest.mark.parametrize(
    ("text", "item"),
    [("n=7", ("n", 7)), ("code:str=007", ("code", "007")), ("title=a=b", ("title", "a=b"))],
)
def test_set_meta_items_are_typed_as_the_shell_types_them(text: str, item: tuple[str, object]):
    assert parse_item(text) == item


def test_a_set_meta_item_needs_an_equals_sign():
    with pytest.raises(InvalidMetadata, match="expected KEY=VALUE"):
        parse_item("colour")


@pytest.mark.parametrize(
    "name", ["../templates/login.html", "vendor/../../web/service.py", "/etc/passwd", "x.html"]
)
def test_static_files_are_only_the_terminal_scripts_and_styles(name: str):
    from omsh.cdmi.protocol import HTTPProblem
    from omsh.web.terminal import static_file

    with pytest.raises(HTTPProblem) as refused:
        static_file(name)
    assert refused.value.status == 404
