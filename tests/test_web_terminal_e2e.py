"""The web terminal in a real browser: Debian's headless Chromium, xterm.js from
the npm registry, the same interactive shell as ``ssh`` behind a WebSocket.

Log in, open the terminal, run commands, complete with Tab, interrupt with
Ctrl-C, resize the window (the shell lays out for the new width), log out in
another tab (the terminal closes), and a socket without the session's token
or from another site is refused.
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.test_web_browser_e2e import CHROMIUM, browser, log_in, page, server

__all__ = ["browser", "page", "server"]  # fixtures shared with the browser tests

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="needs the Debian package chromium"),
]


def screen(tab: Any) -> str:
    """What the terminal shows now, row by row (xterm.js's DOM renderer)."""
    return str(tab.inner_text("#terminal .xterm-rows"))


def wait_until(tab: Any, test: Callable[[str], bool], timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(tab)
        if test(shown):
            return shown
        time.sleep(0.1)
    raise AssertionError(f"the terminal never showed what was awaited; it shows:\n{shown}")


def open_terminal(tab: Any, base: str) -> None:
    log_in(tab, base + "/_omsh/terminal")
    assert tab.url == base + "/_omsh/terminal"
    wait_until(tab, lambda shown: "admin@omsh" in shown)


def test_the_shell_in_a_browser_tab(server: Any, page: Any) -> None:
    base = server.cdmi_url.rstrip("/")
    open_terminal(page, base)
    page.keyboard.type("mkdir -p /webterm/a /webterm/b; ls /webterm")
    page.keyboard.press("Enter")
    wait_until(page, lambda shown: re.search(r"^a/\s+b/", shown, re.M) is not None)
    # Completion, as over ssh: "hel" + Tab becomes "help".
    page.keyboard.type("hel")
    page.keyboard.press("Tab")
    wait_until(page, lambda shown: re.search(r"\$ help\s*$", shown, re.M) is not None)
    page.keyboard.press("Control+c")  # at the prompt, drops the line
    page.keyboard.type("whoami")
    page.keyboard.press("Enter")
    wait_until(page, lambda shown: re.search(r"^admin\s*$", shown, re.M) is not None)
    assert page.dialogs == []


def test_resize_reaches_the_shell(server: Any, page: Any) -> None:
    base = server.cdmi_url.rstrip("/")
    names = " ".join(f"/webterm/r/n{i:02d}" for i in range(40))
    page.set_viewport_size({"width": 1400, "height": 700})
    open_terminal(page, base)
    page.keyboard.type(f"mkdir -p {names}; clear")
    page.keyboard.press("Enter")
    page.keyboard.type("ls /webterm/r")
    page.keyboard.press("Enter")
    wide = wait_until(page, lambda shown: "n39/" in shown)
    widest = max(len(line.rstrip()) for line in wide.splitlines())
    page.set_viewport_size({"width": 500, "height": 700})
    page.keyboard.type("clear")
    page.keyboard.press("Enter")
    page.keyboard.type("ls /webterm/r")
    page.keyboard.press("Enter")
    narrow = wait_until(page, lambda shown: "n39/" in shown)
    assert max(len(line.rstrip()) for line in narrow.splitlines()) < widest / 2


def test_logging_out_closes_the_terminal(server: Any, browser: Any) -> None:
    base = server.cdmi_url.rstrip("/")
    context = browser.new_context()
    try:
        tab = context.new_page()
        open_terminal(tab, base)
        other = context.new_page()  # the same session, in another tab
        other.goto(base + "/")
        other.click("header form button[type=submit]")  # Log out
        tab.wait_for_selector("#terminal[data-closed=yes]", timeout=10_000)
        assert "[session closed]" in screen(tab)
    finally:
        context.close()


@pytest.mark.parametrize(
    "headers, query",
    [
        ({"Origin": "http://elsewhere.example"}, "csrf={csrf}"),
        ({"Origin": "{origin}"}, "csrf=wrong"),
    ],
    ids=["other-site", "no-token"],
)
def test_a_socket_needs_the_token_and_our_origin(
    server: Any, browser: Any, headers: dict[str, str], query: str
) -> None:
    base = server.cdmi_url.rstrip("/")
    context = browser.new_context()
    try:
        tab = context.new_page()
        log_in(tab, base + "/_omsh/terminal")
        csrf = tab.get_attribute("#terminal", "data-csrf")
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
    finally:
        context.close()
    host = base.split("//", 1)[1]
    connection = http.client.HTTPConnection(host, timeout=10)
    sent = {key: value.format(origin=base) for key, value in headers.items()}
    sent |= {
        "Cookie": cookie,
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    connection.request("GET", "/_omsh/terminal/socket?" + query.format(csrf=csrf), headers=sent)
    assert connection.getresponse().status == 403


@pytest.fixture(autouse=True)
def _assets() -> Iterator[None]:
    from importlib import resources

    if not resources.files("omsh.web").joinpath("static", "vendor", "xterm.js").is_file():
        pytest.fail("xterm.js is not installed: make venv fetches it (scripts/fetch_web_assets.py)")
    yield


def test_removing_the_user_closes_the_terminal(server: Any, browser: Any) -> None:
    base = server.cdmi_url.rstrip("/")
    server.ok("user add carol --password-stdin", stdin=b"carol-secret-1\n")
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(base + "/_omsh/terminal")
        tab.fill("input[name=user]", "carol")
        tab.fill("input[name=password]", "carol-secret-1")
        tab.click("button[type=submit]")
        wait_until(tab, lambda shown: "carol@omsh" in shown)
        server.ok("user del carol")
        tab.wait_for_selector("#terminal[data-closed=yes]", timeout=10_000)
    finally:
        context.close()
