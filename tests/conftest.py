"""Shared fixtures: an in-memory store with users, and a shell to drive;
for end-to-end tests, a real server and a CDMI client of it."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from omsh.commands.base import Interrupt, ShellSession
from omsh.commands.output import BufferOutput
from omsh.commands.registry import default_registry
from omsh.commands.runtime import Shell
from omsh.store import content
from omsh.store.database import Store


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing() -> Iterator[None]:
    """argon2id at its lowest cost: at the default cost every store takes ~0.3 s."""
    from argon2 import PasswordHasher

    from omsh.store import principals

    saved = principals._hasher
    principals._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    principals._hasher = saved


@pytest.fixture
def blobs_only(monkeypatch) -> None:
    """Every content a blob file, as before inline content (issue 14): for tests
    of blob files themselves (damage, pack, their fsync) and of old stores."""
    monkeypatch.setattr(content, "INLINE_LIMIT", -1)


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    store = Store.open(data_dir=str(tmp_path / "var"))
    store.bootstrap(admin_password="admin-secret")

    def add_users(root):
        for name in ("alice", "bob"):
            user = root.principals.add_user(name)
            user.set_password(f"{name}-secret")

    store.run(add_users)
    yield store
    store.close()


@pytest.fixture(scope="session")
def registry():
    return default_registry()


class ShellDriver:
    """Runs command lines as one user and captures what they print."""

    def __init__(self, store: Store, registry, user: str) -> None:
        self.session = ShellSession(user=user)
        self.store = store
        self.registry = registry
        self.stdin = io.BytesIO()
        self.out = BufferOutput()
        self.err = BufferOutput()
        #: Answers to secret prompts, in order; the prompts asked are kept in ``prompts``.
        self.secrets: list[str] = []
        self.prompts: list[str] = []
        #: As if on a PTY (uncoloured): then ``answers`` answer plain questions
        #: in order (None once they run out, as at end of input).
        self.terminal = False
        self.answers: list[str] = []
        #: The session's Ctrl-C, for tests of cancellation.
        self.interrupt: Interrupt | None = None

    def __call__(self, line: str, stdin: bytes = b"") -> tuple[int, str, str]:
        self.out = BufferOutput(terminal=self.terminal, color=False)
        self.err = BufferOutput(terminal=self.terminal, color=False)
        shell = Shell(
            self.store,
            self.registry,
            self.session,
            self.out,
            self.err,
            io.BytesIO(stdin),
            ask_secret=self._ask_secret if self.secrets else None,
            ask=self._ask if self.terminal else None,
            interrupt=self.interrupt,
        )
        if self.terminal:
            self.out.partner, self.err.partner = self.err, self.out
        status = shell.execute(line)
        return status, self.out.text, self.err.text

    def _ask_secret(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.secrets.pop(0)

    def _ask(self, prompt: str) -> str | None:
        self.prompts.append(prompt)
        return self.answers.pop(0) if self.answers else None

    def ok(self, line: str, stdin: bytes = b"") -> str:
        status, out, err = self(line, stdin)
        assert status == 0, f"{line!r} failed with {status}: {err}"
        return out


@pytest.fixture
def homes(store) -> None:
    """/home/alice and /home/bob, each owned by its user, who may write there."""
    from omsh.store.view import StoreView

    def make(root) -> None:
        view = StoreView.for_user(root, "admin")
        for name in ("alice", "bob"):
            home = view.make_container(f"/home/{name}", parents=True)
            view.change_owner(home, home.path, name, recursive=False)  # reindexed too

    store.run(make)


@pytest.fixture
def admin(store, registry) -> ShellDriver:
    return ShellDriver(store, registry, "admin")


@pytest.fixture
def alice(store, registry) -> ShellDriver:
    return ShellDriver(store, registry, "alice")


@pytest.fixture
def bob(store, registry) -> ShellDriver:
    return ShellDriver(store, registry, "bob")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ``omsh serve`` process on a free loopback port, for one test module."""
    from tests.e2e import OmshServer

    instance = OmshServer(tmp_path_factory.mktemp("omsh-e2e")).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def cdmi(server):
    """A CDMI client of the module's server, as admin."""
    from tests.cdmi_http import CdmiClient

    return CdmiClient(server.cdmi_url)


_boxes = count()


@pytest.fixture
def box(cdmi, request: pytest.FixtureRequest) -> str:
    """A fresh container for one test on the CDMI endpoint, as a URI ending in '/'."""
    name = re.sub(r"\W", "-", request.node.name)[:60]
    uri = f"/{name}-{next(_boxes)}/"
    assert cdmi.put_container(uri).status == 201
    return uri


@contextlib.contextmanager
def zeo_store(tmp_path: Path) -> Iterator[Store]:
    """A store on a ZEO server started for it (its blob cache not shared), closed after."""
    import ZEO

    address, stop = ZEO.server(
        path=str(tmp_path / "zeo.fs"), blob_dir=str(tmp_path / "zeo-blobs"), port=("127.0.0.1", 0)
    )
    try:
        host, port = address
        cache = tmp_path / "blob-cache"
        store = Store.open(uri=f"zeo://{host}:{port}?blob_dir={cache}&shared_blob_dir=false")
        try:
            yield store
        finally:
            store.close()
    finally:
        stop()
