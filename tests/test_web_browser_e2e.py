"""The store in a real browser: headless Chromium (Debian's) driven by Playwright.

Log in, browse, open an object page, search (and see a bad query's error
under it), upload, mkdir, set-meta, rm and log out, all by filling in and
submitting the pages' forms as a person would, with no JavaScript of ours
on the pages.  A screenshot must be a real picture of the listing.  The
browser is Debian's ``chromium`` (``scripts/system-packages.sh``); Playwright
never downloads one here.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.cdmi_http import CdmiClient
from tests.e2e import ADMIN_PASSWORD, OmshServer

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="needs the Debian package chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip, test extra)")

HOSTILE = "<img src=x onerror=alert(1)>\"'&.txt"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OmshServer]:
    instance = OmshServer(tmp_path_factory.mktemp("omsh-browser")).start()
    cdmi = CdmiClient(instance.cdmi_url)
    assert cdmi.put_container("/docs/").status == 201
    for name, data in [("report.txt", b"quarterly figures\n"), ("big.log", b"x" * 5000)]:
        assert cdmi.put_plain(f"/docs/{name}", data, "text/plain").status == 201
    assert cdmi.put_plain("/docs/" + quote(HOSTILE, safe=""), b"!", "text/plain").status == 201
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        # Chromium refuses to run as root with its sandbox (containers run tests as root).
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) whose alert() dialogs are recorded."""
    context = browser.new_context()
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()


def log_in(page: Any, url: str) -> None:
    page.goto(url)
    assert "/_omsh/login" in page.url
    page.fill("input[name=user]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")


def png_pixels(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and the raw (filtered) pixel rows of a PNG, with the stdlib only."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    data, offset = b"", 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return width, height, zlib.decompress(data)


def test_log_in_browse_search_and_change(server: OmshServer, page: Any, tmp_path: Path):
    cdmi = CdmiClient(server.cdmi_url)
    base = server.cdmi_url.rstrip("/")
    log_in(page, base + "/docs/")
    assert page.url == base + "/docs/"  # back where the log-in was asked for
    names = page.locator("#listing tbody a").all_inner_texts()
    assert names == sorted(names) and {"report.txt", "big.log", HOSTILE} <= set(names)

    # The screenshot is a picture of the listing: a page-sized PNG with text on it.
    shot = page.screenshot(full_page=True)
    width, height, pixels = png_pixels(shot)
    assert width >= 600 and height >= 300 and len(shot) > 5000
    assert len(set(pixels)) > 16, "the screenshot is blank"
    assert "report.txt" in page.inner_text("#listing")
    # The style sheet is allowed by the pages' Content-Security-Policy (no inline style).
    header = "getComputedStyle(document.querySelector('header')).display"
    assert page.evaluate(header) == "flex"

    # An object page: system metadata, ACL, history, a download that works.
    page.click("text=report.txt")
    assert page.url == base + "/docs/report.txt"
    assert "cdmi_hash" in page.inner_text("#system")
    assert "OWNER@" in page.inner_text("#acl")
    assert "created" in page.inner_text("#history")
    with page.expect_download() as download:
        page.click("#download")
    assert Path(download.value.path()).read_bytes() == b"quarterly figures\n"

    # set-meta on the object page, typed as the shell types it.
    page.fill("#set-meta input[name=item]", "pages=12")
    page.click("#set-meta button")
    assert "pages\tint\t12" in page.inner_text("#metadata")

    # Search here, then a query with a syntax error: shown under it, not a 500.
    page.goto(base + "/docs/")
    page.fill("#search input[name=q]", "cdmi_size > 1000")
    page.click("#search button")
    assert "1 found" in page.inner_text("#results")
    assert page.locator("#results a").all_inner_texts() == ["/docs/big.log"]
    page.fill("#search input[name=q]", "cdmi_size >")
    page.click("#search button")
    error = page.inner_text("#query-error")
    assert "syntax error" in error and "^" in error

    # Upload a file from disk, make a container, remove the object.
    upload = tmp_path / "from-browser.bin"
    upload.write_bytes(os.urandom(300_000))
    page.goto(base + "/docs/")
    page.set_input_files("#upload input[type=file]", str(upload))
    page.click("#upload button")
    assert page.url == base + "/docs/"
    assert "from-browser.bin" in page.locator("#listing tbody a").all_inner_texts()
    assert cdmi.value("/docs/from-browser.bin") == upload.read_bytes()
    page.fill("#mkdir input[name=name]", "made here")
    page.click("#mkdir button")
    assert "made here/" in page.locator("#listing tbody a").all_inner_texts()
    assert cdmi.get("/docs/made%20here/").status == 200
    page.click("text=report.txt")
    page.click("#rm button")
    assert page.url == base + "/docs/"
    assert "report.txt" not in page.locator("#listing tbody a").all_inner_texts()
    assert cdmi.get("/docs/report.txt").status == 404

    # The hostile name was text all along: nothing ran.
    assert page.dialogs == []
    page.click("header button")  # log out
    assert "/_omsh/login" in page.url
    page.goto(base + "/docs/")
    assert "/_omsh/login" in page.url
