"""The browser front end's entry point: who is asking, which page, which form.

:class:`BrowserPages` gets every request :func:`~omsh.web.negotiation.claims`
picks (``omsh/cdmi/dispatch.py`` asks first).  A caller is a session
(:mod:`~omsh.web.sessions`) or HTTP Basic credentials (tools, and browsers
told them); anyone else is sent to the log-in form.  Log-in goes through
the CDMI endpoint's :class:`~omsh.cdmi.auth.BasicAuth`, hence the shared
:class:`~omsh.authn.Authenticator` and its throttle.

Store work runs in the CDMI workers (reads, one transaction each) or the
group commit (writes), through a :class:`StoreView` for the caller made in
that transaction; a session whose user was removed, or whose password
changed, fails there (:class:`~omsh.cdmi.auth.StaleCredentials`) and is
closed.  Errors are pages with the status and one line, never a traceback.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote

from aiohttp import BodyPartReader, web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from omsh.authn import Authenticator
from omsh.cdmi.auth import Caller, StaleCredentials
from omsh.cdmi.context import Backend, Located, locate
from omsh.cdmi.dataobjects import PlainValue, read_plain
from omsh.cdmi.protocol import HTTPProblem, parse_target, status_for
from omsh.cdmi.staging import stage
from omsh.cdmi.values import STORED_VALUE_HEADERS
from omsh.errors import OmshError, PermissionDenied
from omsh.store.content import CHUNK_SIZE
from omsh.store.history import NoHistory, object_history
from omsh.store.model import Container, DataObject
from omsh.store.names import join_path, normalize_path, validate_name
from omsh.store.system import timestamp
from omsh.store.view import StoreView
from omsh.web import pages
from omsh.web.negotiation import PREFIX
from omsh.web.sessions import (
    Session,
    Sessions,
    clear_cookie,
    own_origin,
    same_origin,
    set_cookie,
)
from omsh.web.terminal import TerminalTarget, WebTerminal, page_policy, static_file

log = logging.getLogger(__name__)
T = TypeVar("T")

LOGIN = PREFIX + "login"
STATIC = PREFIX + "static/"
TERMINAL = PREFIX + "terminal"
TERMINAL_SOCKET = PREFIX + "terminal/socket"
STYLE = PREFIX + "style.css"
#: Entries of an object's history shown on its page.
HISTORY_SHOWN = 20
#: A form field other than the file (a name, a path, a token) is at most this long.
FIELD_LIMIT = 64 * 1024
#: Every page: no scripts, no framing, no sniffing, never cached.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Redirect(Exception):
    """Answer 303 See Other to *location*."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _safe_next(target: str | None) -> str:
    """A local path to go to after log-in; anything else (``//evil``, URLs) is '/'."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class BrowserPages:
    """Pages and forms for browsers, on the CDMI endpoint's store and workers."""

    def __init__(self, backend: Backend, authenticator: Authenticator) -> None:
        self.backend = backend
        self.authenticator = authenticator
        self.sessions = Sessions()
        self.templates = Environment(
            loader=PackageLoader("omsh.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
        )
        style = resources.files("omsh.web").joinpath("templates", "style.css")
        self.style = style.read_text(encoding="utf-8")
        #: The web terminal, once the SSH server it relays to is listening.
        self.terminal: WebTerminal | None = None

    def enable_terminal(self, target: TerminalTarget) -> None:
        """Offer the web terminal, relaying to the SSH server at *target*."""
        self.terminal = WebTerminal(self.authenticator, self.sessions, target, self._still_valid)

    async def _still_valid(self, session: Session) -> bool:
        """Whether *session*'s user is still there with its password; else it ends."""
        try:
            await self.read(session.caller, lambda view: None)
        except StaleCredentials:
            self.sessions.close(session)
            return False
        return True

    # -- answering -----------------------------------------------------------

    def render(
        self, name: str, code: int = 200, extra: dict[str, str] | None = None, **values: Any
    ) -> web.Response:
        """Template *name* filled with *values* (each escaped), answered with *code*."""
        values.setdefault("session", None)
        session = values["session"]
        values.setdefault("user", session.caller.user if session is not None else None)
        body = self.templates.get_template(name).render(**values)
        return web.Response(
            status=code,
            text=body,
            content_type="text/html",
            charset="utf-8",
            headers=HEADERS | (extra or {}),
        )

    def error_page(
        self,
        status: int,
        message: str,
        session: Session | None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        """One line and the status, as a page; a 401 challenges for Basic as CDMI does."""
        extra = dict(headers or {})
        if status == 401:
            extra["WWW-Authenticate"] = 'Basic realm="omsh", charset="UTF-8"'
        page = {"status": status, "message": message, "session": session}
        return self.render("error.html", status, extra, **page)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Every browser request; errors become pages (one line), never tracebacks."""
        session: Session | None = None
        try:
            if request.path == STYLE:
                return web.Response(
                    text=self.style,
                    content_type="text/css",
                    headers={"Cache-Control": "max-age=3600"},
                )
            if request.path.startswith(STATIC):
                return static_file(request.path[len(STATIC) :])
            session = self.sessions.find(request)
            if request.path == LOGIN:
                return await self.login(request, session)
            if request.path in (TERMINAL, TERMINAL_SOCKET):
                return await self.open_terminal(request, session)
            caller = await self._caller(request, session)
            try:
                return await self.route(request, caller, session)
            except StaleCredentials:  # the user was removed or changed password
                if session is not None:
                    self.sessions.close(session)
                    response = web.HTTPSeeOther(LOGIN, headers=HEADERS)
                    clear_cookie(request, response)
                    return response
                self.backend.auth.forget(caller)
                return self.error_page(401, "credentials no longer valid", None)
        except Redirect as redirect:
            return web.HTTPSeeOther(redirect.location, headers=HEADERS)
        except HTTPProblem as problem:
            return self.error_page(problem.status, problem.message, session, problem.headers)
        except OmshError as exc:
            return self.error_page(status_for(exc), str(exc), session)
        except ConnectionError:
            log.info("web %s %s: the client went away", request.method, request.path[:200])
            return self.error_page(400, "connection lost", session)
        except Exception:
            log.exception("web %s %s failed", request.method, request.raw_path[:200])
            return self.error_page(500, "internal error (details are in the server log)", session)

    async def open_terminal(
        self, request: web.BaseRequest, session: Session | None
    ) -> web.StreamResponse:
        """The terminal page, or its socket: for a logged-in browser session only."""
        if self.terminal is None:
            raise HTTPProblem(404, "the web terminal is off (no SSH server in this process)")
        if session is None:
            raise Redirect(LOGIN + "?next=" + quote(TERMINAL, safe=""))
        if request.path == TERMINAL_SOCKET:
            return await self.terminal.socket(request, session)
        return self.render(
            "terminal.html",
            extra={"Content-Security-Policy": page_policy(request)},
            session=session,
        )

    async def _caller(self, request: web.BaseRequest, session: Session | None) -> Caller:
        """The session's user, else HTTP Basic's, else off to the log-in form."""
        if session is not None:
            return session.caller
        header = request.headers.get("Authorization")
        if header is not None:
            return await self.backend.auth.caller(header, request.remote or "?")
        if request.method in ("GET", "HEAD"):
            raise Redirect(LOGIN + "?next=" + quote(request.raw_path, safe=""))
        raise Redirect(LOGIN)

    async def route(
        self, request: web.BaseRequest, caller: Caller, session: Session | None
    ) -> web.StreamResponse:
        if request.path.startswith(PREFIX):
            if request.method != "POST":
                raise HTTPProblem(405, "forms are sent with POST")
            action = request.path[len(PREFIX) :]
            if session is None:
                raise HTTPProblem(403, "forms need a log-in session (HTTP Basic cannot send them)")
            if action == "upload":
                return await self.upload(request, caller, session)
            form = await self._form(request, session)
            if action == "logout":
                self.sessions.close(session)
                response = web.HTTPSeeOther(LOGIN, headers=HEADERS)
                clear_cookie(request, response)
                return response
            forms = {"mkdir": self.mkdir, "rm": self.remove, "meta": self.set_meta}
            if action not in forms:
                raise HTTPProblem(404, "no such form")
            location = await forms[action](caller, form)
            raise Redirect(location)
        return await self.page(request, caller, session)

    # -- store work ------------------------------------------------------------

    async def read(self, caller: Caller, work: Callable[[StoreView], T]) -> T:
        """*work* in one read transaction in a worker, through the caller's view."""
        store = self.backend.store
        return await self.backend.in_thread(
            lambda: store.read(lambda root: work(StoreView(root, caller.principal(root))))
        )

    async def write(self, caller: Caller, work: Callable[[StoreView], T]) -> T:
        """*work* group-committed with the other writes, through the caller's view."""
        return await self.backend.group.run(
            lambda root: work(StoreView(root, caller.principal(root)))
        )

    # -- pages -----------------------------------------------------------------

    async def page(
        self, request: web.BaseRequest, caller: Caller, session: Session | None
    ) -> web.StreamResponse:
        """A container's listing (and search), or a data object's page or value."""
        target = parse_target(request.raw_path)
        if target.kind == "capabilities":
            raise HTTPProblem(404, "capabilities are CDMI's: ask for JSON")
        if target.kind == "objectid":  # to the page of the object it names, by path
            page_url = await self.read(caller, lambda view: _page_of(view, locate(view, target)))
            raise Redirect(page_url)
        query = dict(parse_qsl(request.raw_path.partition("?")[2], keep_blank_values=True))
        path = target.path

        values = self.backend.values

        def read(view: StoreView) -> pages.Listing | pages.ObjectPage | PlainValue:
            obj = view.resolve(path)
            container = isinstance(obj, Container)
            if container != target.trailing_slash and path != "/":
                raise Redirect(pages.href(path, container))
            if isinstance(obj, Container):
                view.require_list(obj, path)
                return pages.listing(view, obj, path, query.get("after"), query.get("q"))
            assert isinstance(obj, DataObject)
            if "download" in query:  # the value, exactly as CDMI's plain GET sends it
                return read_plain(view, Located(obj, path, path), values)
            return pages.object_page(view, obj, path)

        found = await self.read(caller, read)
        if isinstance(found, pages.Listing):
            return self.render("container.html", listing=found, session=session, user=caller.user)
        if isinstance(found, PlainValue):
            return _attachment(found.response(request), path)
        history, history_note = await self._history(caller, path)
        return self.render(
            "object.html",
            page=found,
            history=history,
            history_note=history_note,
            origin=own_origin(request),
            session=session,
            user=caller.user,
        )

    async def _history(self, caller: Caller, path: str) -> tuple[list[Any], str]:
        """The object's newest changes, or why there are none to show."""
        user = caller.user
        assert user is not None
        store = self.backend.store
        try:
            history = await self.backend.in_thread(
                lambda: object_history(store, user, path, limit=HISTORY_SHOWN)
            )
        except NoHistory as exc:
            return [], str(exc)
        except PermissionDenied:
            return [], "not shown"
        entries = [
            {
                "time": timestamp(entry.time),
                "txn": entry.tid,
                "user": entry.user,
                "changes": ", ".join(entry.changes),
            }
            for entry in history.entries
        ]
        return entries, "" if history.complete else f"the newest {HISTORY_SHOWN} changes"

    # -- log-in ----------------------------------------------------------------

    async def login(self, request: web.BaseRequest, session: Session | None) -> web.StreamResponse:
        """The form (GET), or its check (POST): the same users, argon2 and throttle as CDMI."""
        query = dict(parse_qsl(request.raw_path.partition("?")[2]))
        if request.method in ("GET", "HEAD"):
            if session is not None:
                raise Redirect(_safe_next(query.get("next")))
            return self.render(
                "login.html",
                next=_safe_next(query.get("next")),
                error=None,
                user_name="",
                session=None,
            )
        if request.method != "POST":
            raise HTTPProblem(405, "log in with the form")
        if not same_origin(request):
            raise HTTPProblem(403, "the log-in form must come from this site")
        form = await request.post()
        user, password = str(form.get("user", "")), str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "/")))
        header = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        try:
            if not user or ":" in user:
                raise HTTPProblem(401, "wrong user name or password")
            caller = await self.backend.auth.caller(header, request.remote or "?")
        except HTTPProblem as problem:
            return self.render(
                "login.html",
                problem.status,
                next=target,
                error=problem.message,
                user_name=user,
                session=None,
            )
        assert caller.user is not None
        await self.authenticator.login_succeeded(caller.user, request.remote or "?", "web")
        token, _ = self.sessions.open(Caller(caller.user, caller.password_hash))
        response = web.HTTPSeeOther(target, headers=HEADERS)
        set_cookie(request, response, token)
        return response

    # -- forms -----------------------------------------------------------------

    async def _form(self, request: web.BaseRequest, session: Session) -> dict[str, str]:
        """A URL-encoded form from this site, with the session's CSRF token."""
        if not same_origin(request):
            raise HTTPProblem(403, "the form must come from this site (Origin/Referer)")
        posted = await request.post()
        form = {name: value for name, value in posted.items() if isinstance(value, str)}
        if not session.csrf_matches(form.get("csrf")):
            raise HTTPProblem(403, "the form's CSRF token is missing or wrong; reload the page")
        return form

    @staticmethod
    def _field(form: dict[str, str], name: str) -> str:
        value = form.get(name)
        if not value:
            raise HTTPProblem(400, f"the form has no {name}")
        return value

    async def mkdir(self, caller: Caller, form: dict[str, str]) -> str:
        parent = normalize_path(self._field(form, "dir"))
        path = join_path(parent, validate_name(self._field(form, "name")))
        await self.write(caller, lambda view: view.make_container(path))
        return pages.href(parent, True)

    async def remove(self, caller: Caller, form: dict[str, str]) -> str:
        path = normalize_path(self._field(form, "path"))
        recursive = form.get("recursive") == "yes"
        await self.write(caller, lambda view: view.remove(path, recursive=recursive))
        return pages.href(path.rsplit("/", 1)[0] or "/", True)

    async def set_meta(self, caller: Caller, form: dict[str, str]) -> str:
        path = normalize_path(self._field(form, "path"))
        key, value = pages.parse_item(self._field(form, "item"))

        def change(view: StoreView) -> bool:
            obj = view.resolve(path)
            view.set_metadata(obj, path, {key: value})
            return isinstance(obj, Container)

        return pages.href(path, await self.write(caller, change))

    async def upload(
        self, request: web.BaseRequest, caller: Caller, session: Session
    ) -> web.StreamResponse:
        """A multipart upload: the token and the container first, then the file, streamed.

        The file part is fed to the same staging as a CDMI PUT's body
        (:func:`omsh.cdmi.staging.stage`), never held whole in memory, and
        only after the token was checked and the store said it may be written.
        """
        if not same_origin(request):
            raise HTTPProblem(403, "the form must come from this site (Origin/Referer)")
        reader = await request.multipart()
        fields: dict[str, str] = {}
        part = await reader.next()
        while isinstance(part, BodyPartReader) and part.name != "file":
            fields[part.name or ""] = await _small_field(part)
            part = await reader.next()
        if not session.csrf_matches(fields.get("csrf")):
            raise HTTPProblem(403, "the form's CSRF token is missing or wrong; reload the page")
        if not isinstance(part, BodyPartReader) or not part.filename:
            raise HTTPProblem(400, "choose a file to upload")
        parent = normalize_path(self._field(fields, "dir"))
        path = join_path(parent, validate_name(part.filename))
        await self.read(caller, lambda view: view.check_can_store(path))
        with self.backend.group.coming():
            upload = await stage(self.backend, _chunks(part))
        try:
            await self.write(caller, lambda view: view.store_data(path, upload))
        finally:
            upload.discard()
        raise Redirect(pages.href(parent, True))


def _page_of(view: StoreView, found: Located) -> str:
    """The page of an object found by ID, if the caller may see it (its path tells)."""
    obj = view.stat(found.obj, found.subject)
    return pages.href(obj.path, isinstance(obj, Container))


def _attachment(response: web.StreamResponse, path: str) -> web.StreamResponse:
    """A download is saved, never shown: an HTML value must not run as one of our pages."""
    name = path.rsplit("/", 1)[-1]
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    response.headers.update(STORED_VALUE_HEADERS)
    return response


async def _small_field(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        data += chunk
        if len(data) > FIELD_LIMIT:
            raise HTTPProblem(413, f"a form field is longer than {FIELD_LIMIT} bytes")
    return data.decode("utf-8", "replace")


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK_SIZE):
        yield chunk
