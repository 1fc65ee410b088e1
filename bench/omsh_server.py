"""The contender: an ``omsh serve`` process with a store filled offline.

The process itself is :class:`bench.launcher.OmshProcess`, as in the tests.
The store is populated through omsh's own store API before the server
starts (a FileStorage is opened by one process at a time), so the benchmark
measures the server, not a slow way of filling it: the big object is streamed
in with :class:`~omsh.store.content.ContentUpload`, like ``put`` does, and
the many small children are created in a few large transactions.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from bench.launcher import HOST, OmshProcess
from bench.ssh_client import Endpoint
from omsh.store.content import CHUNK_SIZE, ContentUpload
from omsh.store.database import ADMIN_USER, Store
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView

#: Children created per transaction when filling a big container.
BATCH = 2000


class OmshServer(OmshProcess):
    """``omsh serve`` on a free loopback port, with its own data and keys.

    Unless *cdmi*, without its CDMI endpoint: that is not what the SSH cases
    measure.
    """

    def __init__(self, workdir: Path, client_public_key: Path, *, cdmi: bool = False) -> None:
        super().__init__(
            workdir, client_public_key, cdmi=cdmi, serve_args=("--log-level", "WARNING")
        )
        #: admin's password (for HTTP Basic on the CDMI endpoint).
        self.admin_password = secrets.token_urlsafe(16)

    def endpoint(self) -> Endpoint:
        """How the SSH client reaches the started server: as admin, with the client key."""
        return Endpoint(self.label, HOST, self.port, ADMIN_USER, self.public_host_key())

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
