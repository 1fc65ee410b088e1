"""RelStorage on PostgreSQL: what ``--storage postgresql://…`` opens.

Imported only when such a URI is given (:meth:`omsh.store.database.Store.open`):
RelStorage and its driver are the optional extra ``omsh[postgresql]``.

Blobs are kept in PostgreSQL (``shared_blob_dir=false``) unless the URI
says otherwise, so the nodes of one database need no shared disk; each
node then only caches blobs, in ``blob_dir`` when given, else in a
temporary folder of its own that is removed on close.  History is kept
unless ``keep_history=false`` (RelStorage's default too).

The password is best left out of the URI: a URI given on a command line is
shown by ``ps`` to every local user.  libpq then finds it as it does for
``psql`` (:class:`LibpqConnection`).
"""

from __future__ import annotations

import logging
import tempfile
import urllib.parse
from collections.abc import Callable
from typing import Any

from relstorage.adapters.postgresql import PostgreSQLAdapter
from relstorage.zodburi_resolver import PostgreSQLAdapterHelper, RelStorageURIResolver

from omsh.errors import OmshError

#: How a PostgreSQL URI is written (said when one is not).
POSTGRES_FORM = "postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE[?OPTION=VALUE&...]"


class LibpqConnection(PostgreSQLAdapterHelper):
    """RelStorage's PostgreSQL helper, giving libpq only the parts a URI names.

    RelStorage's own writes every part into the connection string, a
    missing password as the word ``None``, so the password had to be in the
    URI.  Left out here, libpq looks for it as for ``psql``: ``PGPASSWORD``,
    the password file (``~/.pgpass``, ``PGPASSFILE``), or none at all for
    peer or trust authentication; a missing user or port takes libpq's
    default too.  Values are quoted as libpq reads them, so a password may
    hold quotes and backslashes.
    """

    def __call__(self, parsed_uri: Any, kw: dict[str, str]) -> tuple[Any, dict[str, str]]:
        options, unused = self.interpret_kwargs(kw)
        dsn = connection_string(parsed_uri, options)

        def adapter(options: Any) -> PostgreSQLAdapter:
            return PostgreSQLAdapter(dsn=dsn, options=options)

        return adapter, unused


def connection_string(parsed_uri: Any, options: dict[str, object]) -> str:
    """The libpq connection string of a split URI: only the parts it names, and *options*."""
    parts: dict[str, object] = {
        "dbname": urllib.parse.unquote(parsed_uri.path[1:]),
        "user": urllib.parse.unquote(parsed_uri.username or ""),
        "password": urllib.parse.unquote(parsed_uri.password or ""),
        "host": parsed_uri.hostname,
        "port": parsed_uri.port,
        **options,
    }
    return " ".join(f"{name}={libpq_quoted(value)}" for name, value in parts.items() if value)


def libpq_quoted(value: object) -> str:
    """*value* as a value of a libpq connection string: quoted, ``\\`` and ``'`` escaped."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def postgres_uri(uri: str) -> tuple[str, str | None]:
    """*uri* as RelStorage's resolver takes it, and the blob cache folder made for it (or None).

    The folder is made when the URI names no ``blob_dir``; it goes when
    the store closes.
    """
    uri = "postgres://" + uri.split("://", 1)[1]
    parts = urllib.parse.urlsplit(uri)
    try:
        parts.port  # noqa: B018 - read for its ValueError
    except ValueError:
        raise OmshError(f"a PostgreSQL URI is {POSTGRES_FORM}: the port is a number") from None
    if not (parts.hostname and parts.path[1:]):
        raise OmshError(f"a PostgreSQL URI is {POSTGRES_FORM}: host and database given")
    query = parts.query
    options = dict(urllib.parse.parse_qsl(query))
    added = []
    if "shared_blob_dir" not in options:
        added.append("shared_blob_dir=false")
    cleanup_dir = None
    if "blob_dir" not in options:
        if options.get("shared_blob_dir", "false").lower() in ("true", "1", "yes", "on"):
            raise OmshError("shared_blob_dir=true needs blob_dir=, a folder all nodes share")
        cleanup_dir = tempfile.mkdtemp(prefix="omsh-blob-cache-")
        added.append(f"blob_dir={cleanup_dir}")
    if added:
        uri = f"{uri}{'&' if query else '?'}{'&'.join(added)}"
    return uri, cleanup_dir


def postgres_storage(uri: str) -> tuple[Callable[[], Any], dict[str, Any], str | None]:
    """RelStorage for *uri*: a storage factory, its ``ZODB.DB`` arguments, a folder to remove."""
    # RelStorage logs its retries; unless logging is set up (``serve``), only our line shows.
    relstorage_log = logging.getLogger("relstorage")
    if not relstorage_log.handlers:
        relstorage_log.addHandler(logging.NullHandler())
    resolved, cleanup_dir = postgres_uri(uri)
    factory, db_arguments = RelStorageURIResolver(LibpqConnection())(resolved)
    return factory, db_arguments, cleanup_dir
