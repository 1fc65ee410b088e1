"""Content checksums in coreutils' format: ``sha256sum``, ``sha1sum``, ``md5sum``.

Tools that reach omsh over SSH probe for these as they would on any Unix
host: rclone's SFTP backend runs ``md5sum`` and ``sha1sum`` with empty
standard input and checks the first field against the empty-input digest,
then runs ``md5sum /some/path`` (shell-escaped) for each file.  So the output
is exactly coreutils': ``HEX  PATH`` per object with the path as typed,
``HEX  -`` for standard input (no PATH, or ``-``), and coreutils' escaping of
names holding a backslash, newline or carriage return (a leading ``\\``).

SHA-256 is what the store records as ``cdmi_hash`` while bytes stream in, so
``sha256sum`` answers from metadata without reading content.  The store
keeps no MD5 or SHA-1: hashing every upload three times (and keeping those
hashes right on every write path: put, SFTP, CDMI, cp) would cost all
writes for a probe few clients make.  They are computed on demand instead,
streaming the committed blob in ``CHUNK_SIZE`` pieces after the read
transaction has ended, exactly as ``cat`` reads it: memory stays at one
chunk whatever the size, and reading needs the same permission as ``cat``.
All three check that permission, even ``sha256sum``: a hash tells about the
content.  A Ctrl-C is noticed between chunks, as ``cat`` notices it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, ClassVar

from omsh.commands.arguments import Complete, arg
from omsh.commands.base import Command, Invocation
from omsh.commands.content import open_content, record_access
from omsh.commands.formatting import printable
from omsh.commands.streams import require_piped_input
from omsh.store.content import CHUNK_SIZE, read_span
from omsh.store.view import StoreView

#: The operand that names standard input, as in coreutils.
STDIN = "-"
#: coreutils' escapes for names that would break the one-line format.
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r"})


def digest_of(algorithm: str, chunks: Iterable[bytes]) -> str:
    """Hex digest of *chunks* with the ``hashlib`` *algorithm*, fed as they come."""
    digest = hashlib.new(algorithm)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def stdin_chunks(inv: Invocation) -> Iterable[bytes]:
    """Standard input in ``CHUNK_SIZE`` pieces until end of input."""
    while chunk := inv.stdin.read(CHUNK_SIZE):
        yield chunk


def checksum_line(digest: str, shown: str) -> str:
    """coreutils' ``HEX  NAME``; ``\\``, LF or CR in the name escaped, the line prefixed ``\\``."""
    escaped = shown.translate(_ESCAPES)
    prefix = "\\" if escaped != shown else ""
    return f"{prefix}{digest}  {escaped}"


class Checksum(Command):
    """Shared body of the three commands: each operand's digest, going on past failures."""

    #: The ``hashlib`` name, also the digest's key in ``--json`` output.
    algorithm: ClassVar[str]
    arguments = (
        arg(
            "paths",
            nargs="*",
            metavar="PATH",
            complete=Complete.PATH,
            help="objects to hash; none or - for standard input",
        ),
    )
    details = """
        With no PATH, or PATH -, standard input is hashed, e.g. ssh host 'md5sum' < file.
        Output is coreutils': HASH, two spaces, the path as given.
        --json: one line per operand, {"path", "objectid", "<algorithm>": HASH}
        ("path" is "-" and there is no "objectid" for standard input).
    """

    def run(self, inv: Invocation) -> int | None:
        return inv.each(inv.args.paths or [STDIN], lambda path: self.show(inv, path))

    def show(self, inv: Invocation, path: str) -> None:
        if path == STDIN:
            require_piped_input(inv, self.name)
            digest = digest_of(self.algorithm, stdin_chunks(inv))
            entry: dict[str, Any] = {"path": STDIN}
        else:
            digest, entry = self.of_object(inv, path)
        if inv.json:
            inv.out.json({**entry, self.algorithm: digest})
            return
        line = checksum_line(digest, path)
        inv.out.line(printable(line) if inv.out.terminal else line)

    def of_object(self, inv: Invocation, path: str) -> tuple[str, dict[str, Any]]:
        """The digest of the object at *path*, read as ``cat`` reads it, and its JSON fields."""
        opened = open_content(inv, path)
        chunks = read_span(opened.open(), 0, opened.size, CHUNK_SIZE)
        digest = digest_of(self.algorithm, inv.checked(chunks))
        record_access(inv, opened)
        return digest, {"path": opened.path, "objectid": opened.object_id}


class Sha256Sum(Checksum):
    name = "sha256sum"
    summary = "print SHA-256 checksums (the stored cdmi_hash; content is not read)"
    algorithm = "sha256"

    def of_object(self, inv: Invocation, path: str) -> tuple[str, dict[str, Any]]:
        """The recorded ``cdmi_hash``, with the same access check as ``cat``."""

        def look(view: StoreView) -> tuple[str, dict[str, Any]]:
            obj, _ = view.open_content(view.resolve(path, inv.session.cwd), path)
            return obj.sha256, {"path": obj.path, "objectid": obj.object_id}

        digest, entry = inv.view(look)
        if not digest:  # never recorded (not expected): hash the content after all
            return super().of_object(inv, path)
        return digest, entry


class Sha1Sum(Checksum):
    name = "sha1sum"
    summary = "print SHA-1 checksums, computed by reading the content"
    algorithm = "sha1"


class Md5Sum(Checksum):
    name = "md5sum"
    summary = "print MD5 checksums, computed by reading the content"
    algorithm = "md5"


COMMANDS = (Sha256Sum, Sha1Sum, Md5Sum)
