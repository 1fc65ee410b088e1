"""The contender: an ``omsh serve`` process with a store filled offline.

The store is populated through omsh's own store API before the server
starts (a FileStorage is opened by one process at a time), so the benchmark
measures the server, not a slow way of filling it: the big object is streamed
in with :class:`~omsh.store.content.ContentUpload`, like ``put`` does, and
the many small children are created in a few large transactions.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from bench.harness import ServerProcess
from bench.ssh_client import Endpoint, public_key
from omsh.store.content import CHUNK_SIZE, ContentUpload
from omsh.store.database import ADMIN_USER, Store
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView

HOST = "127.0.0.1"
HOST_KEY_NAME = "ssh_host_ed25519_key"
#: Children created per transaction when filling a big container.
BATCH = 2000
_LISTENING = re.compile(r"SSH listening on [\d.]+:(\d+)")
_CDMI_LISTENING = re.compile(r"CDMI listening on (http://[\d.]+:\d+/)")


class OmshServer(ServerProcess):
    """``omsh serve`` on a free loopback port, with its own data and keys."""

    label = "omsh"

    def __init__(self, workdir: Path, client_public_key: Path) -> None:
        super().__init__(workdir / "omsh.log")
        self.workdir = workdir
        self.data = workdir / "var"
        self.keys = workdir / "keys"
        self.keys.mkdir(parents=True, exist_ok=True)
        self.authorized_keys = self.keys / "authorized_keys"
        self.authorized_keys.write_text(client_public_key.read_text(encoding="ascii"))
        #: admin's password (for HTTP Basic on the CDMI endpoint).
        self.admin_password = secrets.token_urlsafe(16)
        #: The CDMI endpoint's base URL, once started with ``cdmi=True``.
        self.cdmi_url = ""

    # -- filling the store offline -------------------------------------------

    def _as_admin(self, store: Store, work: Callable[[StoreView], object]) -> None:
        def run(root: StoreRoot) -> None:
            work(StoreView.for_user(root, ADMIN_USER))

        store.run(run)

    def populate(
        self,
        *,
        containers: tuple[str, ...],
        objects: dict[str, Path],
        children: tuple[str, list[str]] | None = None,
    ) -> None:
        """Create *containers*, objects with the bytes of local files, and empty children.

        *objects* maps an omsh path to the local file whose content it gets;
        *children* is a container path and the names of the empty objects to
        create in it.  The admin user (with the client key) is created too.
        """
        store = Store.open(data_dir=str(self.data))
        try:
            store.bootstrap(
                admin_password=self.admin_password,
                admin_keys=self.authorized_keys.read_text(encoding="ascii").splitlines(),
            )
            for path in containers:
                self._as_admin(
                    store, lambda view, path=path: view.make_container(path, parents=True)
                )
            for path, source in objects.items():
                self._store_file(store, path, source)
            if children is not None:
                parent, names = children
                for start in range(0, len(names), BATCH):
                    self._store_empty(store, parent, names[start : start + BATCH])
        finally:
            store.close()

    def _store_file(self, store: Store, path: str, source: Path) -> None:
        with ContentUpload(store.temporary_directory()) as upload, source.open("rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                upload.write(chunk)
            self._as_admin(store, lambda view: view.store_data(path, upload))

    def _store_empty(self, store: Store, parent: str, names: list[str]) -> None:
        def create(view: StoreView) -> None:
            for name in names:
                with ContentUpload(store.temporary_directory()) as upload:
                    view.store_data(f"{parent}/{name}", upload)

        self._as_admin(store, create)

    # -- the server process ----------------------------------------------------

    def start(self, timeout: float = 60.0, *, cdmi: bool = False) -> Endpoint:
        """Start the server; with *cdmi* also its CDMI endpoint (on a free port)."""
        options = {
            "--data": self.data,
            "--keys": self.keys,
            "--host": HOST,
            "--ssh-port": 0,
            # Unless asked for, no CDMI: it is not what the SSH cases measure
            # (and a fixed default port could clash with another server).
            "--cdmi-port": 0 if cdmi else -1,
            "--log-level": "WARNING",
        }
        argv = [str(Path(sys.executable).with_name("omsh")), "serve"]
        for option, value in options.items():
            argv += [option, str(value)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        console = self.workdir / "omsh.out"
        ready = _CDMI_LISTENING if cdmi else _LISTENING
        match = self.launch(argv, ready, console=console, env=env, timeout=timeout)
        if cdmi:
            self.cdmi_url = match.group(1)
            match = _LISTENING.search(console.read_text(encoding="utf-8", errors="replace"))
            assert match is not None, "the SSH line comes before the CDMI one"
        host_key = public_key(self.keys / HOST_KEY_NAME)
        return Endpoint(self.label, HOST, int(match.group(1)), ADMIN_USER, host_key)
