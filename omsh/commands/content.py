"""Object content and the shape of the tree.

``cat``, ``head``, ``put``, ``mkdir``, ``rm``, ``mv``, ``cp`` and ``verify``.

Content never passes through memory whole: reading streams the committed
blob file in :data:`~omsh.store.content.CHUNK_SIZE` pieces after the read
transaction has ended (committed blob files are immutable), and ``put``
stages standard input with :func:`~omsh.store.staging.stage_chunks` (written
and hashed behind, as SFTP and CDMI uploads are); it only becomes an object
when the input ended normally.

Commands taking several paths handle each in its own transaction and go on
past a failed one, as ``rm a b c`` does when ``b`` is missing.

Ctrl-C stops any of them within a chunk or an object
(:meth:`~omsh.commands.base.Invocation.check_cancelled`).  The unit that is
kept or dropped is the transaction: the paths already done stay done, the
one in progress is rolled back whole.  So ``rm -r``/``cp -r`` of one tree
leave it untouched (the tree is one transaction), ``rm a b c`` keeps ``a``
removed, and ``put`` never leaves a partial object.  In the interactive
shell, ``cat`` of 8 MiB or more, ``rm -r``, ``cp -r`` and ``verify`` show a
progress bar (:mod:`omsh.commands.progress`).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from omsh.commands.arguments import Complete, arg, at_arg, at_least, paths_arg, recursive_arg
from omsh.commands.base import Command, Invocation
from omsh.commands.bulk import (
    check_query_usage,
    count_matches,
    plural,
    query_arguments,
    refuse_cancelled,
    run_bulk,
)
from omsh.commands.formatting import printable
from omsh.commands.metadata import TYPING_DETAILS, TYPING_HELP, parse_assignments
from omsh.commands.output import Output
from omsh.commands.progress import (
    LARGE_CONTENT,
    Progress,
    passing,
    progress_bar,
    wants_progress,
)
from omsh.commands.streams import require_piped_input
from omsh.errors import NotFound, OmshError, UsageError
from omsh.store import bulk as bulk_edits
from omsh.store.commits import blocking_group
from omsh.store.content import CHUNK_SIZE, MissingContent, StoredContent, read_span
from omsh.store.metadata import is_mimetype
from omsh.store.model import Container, DataObject, StoreObject, StoreRoot, walk
from omsh.store.names import join_path, normalize_path
from omsh.store.staging import READ_BYTES, stage_chunks
from omsh.store.system import describe
from omsh.store.view import StoreView

#: Read size for base64 output: a multiple of 3, so no chunk needs padding.
_BASE64_CHUNK = CHUNK_SIZE - CHUNK_SIZE % 3
_RANGE = re.compile(r"(\d*)-(\d*)", re.ASCII)


# -- reading content ------------------------------------------------------


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range as in HTTP and CDMI: ``A-B``, ``A-`` or ``-N``."""

    first: int | None
    last: int | None

    def span(self, size: int, subject: str) -> tuple[int, int]:
        """``(offset, length)`` of this range in *size* bytes.

        A last byte past the end is clipped; a range that starts at or past
        the end (or any range of an empty object) cannot be satisfied.
        """
        if self.first is None:
            assert self.last is not None
            length = min(self.last, size)
            offset = size - length
        else:
            offset = self.first
            last = size - 1 if self.last is None else min(self.last, size - 1)
            length = last - offset + 1
        if offset >= size or length <= 0:
            raise OmshError(f"range not satisfiable (object is {size} bytes)", subject=subject)
        return offset, length


def parse_byte_range(text: str) -> ByteRange:
    """Parse ``A-B``, ``A-`` or ``-N`` (argparse ``type=``: bad text is a usage error)."""
    match = _RANGE.fullmatch(text.strip())
    if not match or not (match.group(1) or match.group(2)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a byte range (A-B, A- or -N)")
    first = int(match.group(1)) if match.group(1) else None
    last = int(match.group(2)) if match.group(2) else None
    if first is not None and last is not None and last < first:
        raise argparse.ArgumentTypeError(f"{text!r}: the range ends before it starts")
    if first is None and last == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a suffix range needs at least one byte")
    return ByteRange(first, last)


@dataclass(frozen=True)
class OpenedContent:
    """What a read transaction learned about one data object: plain values only."""

    #: The path as the user typed it, for error messages.
    subject: str
    path: str
    object_id: str
    mimetype: str
    size: int
    content: StoredContent
    #: Whether ``cdmi_atime`` is due for an update (relatime).
    atime_due: bool

    def open(self) -> BinaryIO:
        """The committed content; an unreadable blob file is a one-line error."""
        try:
            return self.content.open()  # closed by read_span / read_lines
        except OSError as exc:
            raise OmshError(
                f"content cannot be read ({exc.strerror}); run 'omsh check'", subject=self.subject
            ) from None


def open_content(inv: Invocation, path: str) -> OpenedContent:
    """Check read access to *path* and find its committed content."""

    def look(view: StoreView) -> OpenedContent:
        obj, content = view.open_content(view.resolve(path, inv.session.cwd), path)
        # note_access changes the object in this read transaction, which is
        # then aborted: it only tells whether a write is due afterwards.
        due = view.note_access(obj)
        return OpenedContent(path, obj.path, obj.object_id, obj.mimetype, obj.size, content, due)

    return inv.view(look)


def record_access(inv: Invocation, opened: OpenedContent) -> None:
    """Advance ``cdmi_atime`` in a small write transaction, if it is due.

    Best effort: an object removed meanwhile, or a persistent conflict, must
    not turn a successful read into a failure.
    """
    if opened.atime_due:
        with contextlib.suppress(OmshError):
            inv.view(lambda view: view.note_access(view.by_object_id(opened.object_id)), write=True)


def read_lines(stream: BinaryIO, count: int, chunk: int) -> Iterator[bytes]:
    """The first *count* lines of *stream* (each with its newline); closes it."""
    with stream:
        while count > 0:
            data = stream.read(chunk)
            if not data:
                return
            newlines = data.count(b"\n")
            if newlines >= count:
                end = -1
                for _ in range(count):
                    end = data.index(b"\n", end + 1)
                yield data[: end + 1]
                return
            count -= newlines
            yield data


def write_base64_document(out: Output, header: dict[str, Any], chunks: Iterable[bytes]) -> None:
    """One JSON document: *header*, then ``"value"`` as base64, streamed.

    Chunks are encoded as they come; any bytes beyond a multiple of three
    wait for the next chunk, so the concatenated pieces are valid base64.
    """
    opening = json.dumps({**header, "valuetransferencoding": "base64"}, ensure_ascii=False)
    out.write(opening[:-1] + ', "value": "')
    pending = b""
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        cut = len(data) - len(data) % 3
        out.write(base64.b64encode(data[:cut]).decode("ascii"))
        pending = data[cut:]
    out.write(base64.b64encode(pending).decode("ascii") + '"}\n')


def write_content(out: Output, data: bytes, bar: Progress) -> None:
    """Content onto *out*, giving *bar* a chance to show after the last whole line."""
    cut = data.rfind(b"\n") + 1 if bar.out is not None else 0
    if 0 < cut < len(data):
        out.write_bytes(data[:cut])
        bar.advance(cut)
        data = data[cut:]
    out.write_bytes(data)
    bar.advance(len(data))


class ContentReader(Command):
    """Shared body of ``cat`` and ``head``: per path, open, stream, note access."""

    #: Whether a large object shows a progress bar (``cat``; ``head`` is short).
    shows_progress = False

    def select(self, inv: Invocation, opened: OpenedContent, chunk: int) -> Iterator[bytes]:
        """The chunks to print; raise here (not lazily) if the request can't be met."""
        raise NotImplementedError

    def announce(self, inv: Invocation, shown: str, index: int) -> None:
        """Text printed before an object's bytes (``head``'s ``==> x <==``)."""

    def run(self, inv: Invocation) -> int | None:
        self.check_arguments(inv)
        paths: list[str] = inv.args.paths
        shown_count = 0

        def show(path: str) -> None:
            nonlocal shown_count
            opened = open_content(inv, path)
            chunk = _BASE64_CHUNK if inv.json else CHUNK_SIZE
            chunks = self.select(inv, opened, chunk)
            if inv.json:
                header = {
                    "path": opened.path,
                    "objectid": opened.object_id,
                    "mimetype": opened.mimetype,
                }
                write_base64_document(inv.out, header, inv.checked(chunks))
            else:
                if len(paths) > 1:
                    self.announce(inv, path, shown_count)
                size = opened.size if self.shows_progress else 0
                with progress_bar(inv, size, minimum=LARGE_CONTENT) as bar:
                    for data in inv.checked(chunks):
                        write_content(inv.out, data, bar)
            shown_count += 1
            record_access(inv, opened)

        return inv.each(paths, show)

    def check_arguments(self, inv: Invocation) -> None:
        """Refuse bad option combinations before any output."""


class Concatenate(ContentReader):
    name = "cat"
    shows_progress = True
    summary = "print objects' content (bytes as stored)"
    arguments = (
        at_arg(),
        arg(
            "--range",
            type=parse_byte_range,
            metavar="A-B",
            help="only bytes A to B inclusive; A- to the end, -N the last N",
        ),
        paths_arg("objects to print"),
    )

    def select(self, inv: Invocation, opened: OpenedContent, chunk: int) -> Iterator[bytes]:
        byte_range: ByteRange | None = inv.args.range
        if byte_range is None:
            offset, length = 0, opened.size
        else:
            offset, length = byte_range.span(opened.size, opened.subject)
        return read_span(opened.open(), offset, length, chunk)


class Head(ContentReader):
    name = "head"
    summary = "print the first lines (-n, default 10) or bytes (-c) of objects"
    arguments = (
        at_arg(),
        arg("-n", "--lines", type=at_least(0), metavar="N", help="first N lines (default 10)"),
        arg("-c", "--bytes", type=at_least(0), metavar="N", help="first N bytes"),
        paths_arg("objects to print"),
    )

    def check_arguments(self, inv: Invocation) -> None:
        if inv.args.lines is not None and inv.args.bytes is not None:
            raise UsageError("give -n (lines) or -c (bytes), not both")

    def select(self, inv: Invocation, opened: OpenedContent, chunk: int) -> Iterator[bytes]:
        if inv.args.bytes is not None:
            return read_span(opened.open(), 0, min(inv.args.bytes, opened.size), chunk)
        lines = 10 if inv.args.lines is None else inv.args.lines
        return read_lines(opened.open(), lines, chunk)

    def announce(self, inv: Invocation, shown: str, index: int) -> None:
        if index:
            inv.out.line()
        inv.out.line(f"==> {printable(shown)} <==")


# -- storing content ------------------------------------------------------


def check_mimetype(text: str | None) -> str | None:
    """A ``type/subtype[; k=v]`` media type, or a usage error."""
    if text is None:
        return None
    if not is_mimetype(text):
        raise UsageError(f"{printable(text[:60])!s}: not a media type like text/plain")
    return text


class Put(Command):
    name = "put"
    summary = "store standard input as an object (create or replace)"
    details = TYPING_DETAILS
    arguments = (
        arg("path", complete=Complete.PATH, help="where to store it"),
        arg("--mimetype", metavar="TYPE", help="media type (default: guessed from the name)"),
        arg(
            "--meta",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"user metadata item to set (repeatable); {TYPING_HELP}",
        ),
    )

    def run(self, inv: Invocation) -> None:
        require_piped_input(inv, "put PATH")
        args = inv.args
        path, cwd = args.path, inv.session.cwd
        mimetype = check_mimetype(args.mimetype)
        metadata = parse_assignments(args.meta)
        # Refuse before the client sends a single byte.
        inv.view(lambda view: view.check_can_store(path, cwd))
        # stdin checks for Ctrl-C on every read; stage_chunks then deletes the file
        chunks = iter(lambda: inv.stdin.read(READ_BYTES), b"")
        upload = stage_chunks(chunks, inv.store.temporary_directory())
        user = inv.session.user

        def store(root: StoreRoot) -> dict[str, Any]:
            view = StoreView.for_user(root, user)
            stored = view.store_data(path, upload, cwd, mimetype=mimetype, metadata=metadata)
            return describe(stored)

        try:  # group-committed with concurrent puts: one transaction, one round of fsync
            description = blocking_group(inv.store).run(store)
        finally:
            upload.discard()
        if inv.json:
            inv.out.json(description)


# -- shaping the tree -----------------------------------------------------


class MakeContainer(Command):
    name = "mkdir"
    summary = "create containers"
    arguments = (
        arg(
            "-p",
            "--parents",
            action="store_true",
            help="create missing parents; no error if it exists",
        ),
        paths_arg("containers to create"),
    )

    def run(self, inv: Invocation) -> int | None:
        cwd, parents = inv.session.cwd, inv.args.parents

        def make(path: str) -> None:
            created = inv.view(
                lambda view: describe(view.make_container(path, cwd, parents=parents)),
                write=True,
            )
            if inv.json:
                inv.out.json(created)

        return inv.each(inv.args.paths, make)


def _post_order(relative: str) -> list[tuple[int, str]]:
    """Sort key that puts everything below a container before the container."""
    return [(0, name) for name in relative.split("/") if name] + [(1, "")]


def _removal_order(view: StoreView, path: str, cwd: str, recursive: bool) -> list[str]:
    """*path*, and with *recursive* everything below it, deepest first (for ``rm -i``)."""
    obj = view.resolve(path, cwd)
    view.check_removable(obj, path)  # as view.remove will: ask nothing first
    if not recursive:
        return [path]
    relatives = sorted((relative for relative, _ in walk(obj)), key=_post_order)
    return [f"{path.rstrip('/')}/{relative}" if relative else path for relative in relatives]


class Remove(Command):
    name = "rm"
    summary = "remove objects and containers"
    arguments = (
        recursive_arg("remove containers and their contents"),
        arg("-f", "--force", action="store_true", help="ignore missing paths; never ask"),
        arg(
            "-i",
            "--interactive",
            action="store_true",
            help="ask before every removal (answers from stdin outside the shell)",
        ),
        paths_arg("what to remove", optional=True),
        *query_arguments("remove"),
    )
    details = """
        On a terminal, rm -r asks before removing more than one object
        ("remove N objects under PATH? [y/N]"); only y or yes removes, and a
        refusal removes nothing and exits 1.  -f or exec mode (no PTY) never
        asks.  -i asks for every object, deepest first with -r; in exec mode
        its answers are read from stdin, one per line, as coreutils does
        (printf 'y\nn\n' | ssh HOST rm -i a b).  A refused -i removal is
        skipped silently; -f overrides -i.

        rm --query EXPR [--in PATH] [-r] removes every object the query shows
        you in one transaction (a non-empty container needs -r); if you may
        not remove one of them, nothing is removed.  On a terminal it asks
        first, as rm -r does, unless -f.  --json: {"count", "changed"}.
    """

    def run(self, inv: Invocation) -> int | None:
        cwd, args = inv.session.cwd, inv.args
        if check_query_usage(inv, bool(args.paths), "rm --query EXPR [-r]"):
            return self.run_query(inv)
        if not args.paths:
            raise UsageError("usage: rm [-r] PATH…, or rm --query EXPR")
        each = args.interactive and not args.force
        guard = args.recursive and inv.terminal and not (args.force or args.interactive)

        def remove(view: StoreView, path: str, recursive: bool, bar: Progress) -> dict[str, Any]:
            absolute = normalize_path(path, cwd)
            bar.done = 0  # a conflict runs this again
            removed = view.remove(path, cwd, recursive=recursive, progress=passing(inv, bar))
            return {
                "path": absolute,
                "type": "container" if isinstance(removed, Container) else "object",
                "objectid": removed.object_id,
                "removed": True,
            }

        def remove_one(path: str, recursive: bool, count: int = 0) -> None:
            if recursive and not count and wants_progress(inv):
                count = len(inv.view(lambda view: _removal_order(view, path, cwd, True)))
            with progress_bar(inv, count, unit="objects") as bar:
                entry = inv.view(lambda view: remove(view, path, recursive, bar), write=True)
            if inv.json:
                inv.out.json(entry)

        worst = 0

        def ask_and_remove(item: str) -> None:
            if inv.confirm(f"remove {printable(item)}?"):
                remove_one(item, False)

        def one(path: str) -> None:
            nonlocal worst
            try:
                if each:
                    order = inv.view(lambda view: _removal_order(view, path, cwd, args.recursive))
                    # Each object on its own, as coreutils: a kept child keeps its container.
                    worst = max(worst, inv.each(order, ask_and_remove) or 0)
                    return
                count = 0
                if guard:
                    count = len(inv.view(lambda view: _removal_order(view, path, cwd, True)))
                    question = f"remove {count} objects under {printable(path)}?"
                    if count > 1 and not inv.confirm(question):
                        raise OmshError("cancelled, nothing removed", subject=path)
                remove_one(path, args.recursive, count)
            except NotFound:
                if args.force:
                    return
                raise

        status = inv.each(args.paths, one) or 0
        return max(worst, status) or None

    @staticmethod
    def run_query(inv: Invocation) -> None:
        """``rm --query``: on a terminal, ask first as ``rm -r`` does (unless -f)."""
        args = inv.args
        if args.interactive:
            raise UsageError("-i does not go with --query (try --dry-run)")
        expected = None
        if inv.terminal and not (args.force or args.dry_run):
            expected = count_matches(inv)
            question = f"remove {plural(expected)} matching the query?"
            if expected > 1:
                refuse_cancelled(question, inv)
        change = bulk_edits.Remove(recursive=args.recursive)
        run_bulk(
            inv,
            lambda view: change,
            lambda outcome: f"removed {plural(outcome.count)}",
            expected=expected,
        )


class Transfer(Command):
    """Shared body of ``mv`` and ``cp``: ``SRC DST`` or ``SRC… CONTAINER``."""

    def transfer(
        self, inv: Invocation, view: StoreView, source: str, target: str, bar: Progress
    ) -> StoreObject:
        raise NotImplementedError

    def total(self, inv: Invocation, source: str) -> int:
        """Bytes the transfer of *source* will pass, for its progress bar (0: no bar)."""
        return 0

    def moved(self, inv: Invocation, origin: str, destination: str) -> None:
        """Called after each successful transfer (``mv`` follows the cwd)."""

    def run(self, inv: Invocation) -> int | None:
        cwd = inv.session.cwd
        sources: list[str] = inv.args.sources
        target: str = inv.args.target
        if len(sources) > 1:
            inv.view(lambda view: view.resolve_as(Container, target, cwd))

        def work(view: StoreView, source: str, bar: Progress) -> dict[str, Any]:
            origin = view.resolve(source, cwd).path
            bar.done = 0  # a conflict runs this again
            entry = describe(self.transfer(inv, view, source, target, bar))
            entry["source"] = origin
            return entry

        def one(source: str) -> None:
            with progress_bar(inv, self.total(inv, source)) as bar:
                entry = inv.view(lambda view: work(view, source, bar), write=True)
            self.moved(inv, entry["source"], entry["path"])
            if inv.json:
                inv.out.json(entry)

        return inv.each(sources, one)


def _transfer_arguments(what: str) -> tuple[Any, ...]:
    return (
        arg("sources", nargs="+", metavar="SRC", complete=Complete.PATH, help=f"what to {what}"),
        arg(
            "target",
            metavar="DST",
            complete=Complete.PATH,
            help="new path, or an existing container to put the sources in",
        ),
    )


class Move(Transfer):
    name = "mv"
    summary = "move or rename objects and containers (they keep their object IDs)"
    arguments = _transfer_arguments("move")

    def transfer(
        self, inv: Invocation, view: StoreView, source: str, target: str, bar: Progress
    ) -> StoreObject:
        return view.move(source, target, inv.session.cwd)

    def moved(self, inv: Invocation, origin: str, destination: str) -> None:
        """Keep the working container when it (or an ancestor) was moved."""
        session = inv.session
        for attribute in ("cwd", "previous_cwd"):
            current = getattr(session, attribute)
            if current is not None and (current == origin or current.startswith(origin + "/")):
                setattr(session, attribute, destination + current[len(origin) :])


class Copy(Transfer):
    name = "cp"
    summary = "copy objects (and with -r containers) to new objects with new IDs"
    arguments = (
        recursive_arg("copy containers and their contents"),
        *_transfer_arguments("copy"),
    )

    def transfer(
        self, inv: Invocation, view: StoreView, source: str, target: str, bar: Progress
    ) -> StoreObject:
        cwd, recursive = inv.session.cwd, inv.args.recursive
        return view.copy(source, target, cwd, recursive=recursive, progress=passing(inv, bar))

    def total(self, inv: Invocation, source: str) -> int:
        if not (inv.args.recursive and wants_progress(inv)):
            return 0

        def size(view: StoreView) -> int:
            top = view.resolve(source, inv.session.cwd)
            return sum(obj.size for _, obj in walk(top) if isinstance(obj, DataObject))

        return inv.view(size)


# -- checking content -----------------------------------------------------


@dataclass(frozen=True)
class StoredHash:
    """What the store says an object's content is."""

    shown: str
    path: str
    object_id: str
    size: int
    sha256: str
    #: The blob file; ``None`` when it is missing altogether or the content
    #: is kept in the database.
    filename: str | None
    #: Content kept in the database, hashed as it was found (size, SHA-256):
    #: its bytes are not held until the check reaches it.
    inline: tuple[int, str] | None = None


def stored_hashes(
    view: StoreView,
    path: str,
    cwd: str,
    recursive: bool,
    checked: Callable[[Iterator[tuple[str, StoreObject]]], Iterator[tuple[str, StoreObject]]]
    | None = None,
) -> list[StoredHash]:
    """The data objects at *path* (below it, with *recursive*) the caller may read.

    *checked* wraps the walk (:meth:`Invocation.checked`: Ctrl-C in a big tree).
    """
    top = view.resolve(path, cwd)
    if isinstance(top, Container) and not recursive:
        raise OmshError("is a container (use -r)", subject=path)
    view.require_read(top, path)
    found = []
    tree = walk(top)
    for relative, obj in tree if checked is None else checked(tree):
        if not isinstance(obj, DataObject) or not view.can_read(obj):
            continue
        if not view.visible_below(top, obj):
            continue
        shown = join_path(path, relative) if relative else path
        try:
            content: StoredContent | None = obj.stored_content()
        except MissingContent:
            content = None
        filename = content.filename if content is not None else None
        inline = content.hash() if content is not None and content.inline else None
        found.append(
            StoredHash(shown, obj.path, obj.object_id, obj.size, obj.sha256, filename, inline)
        )
    return found


def rehash(
    stored: StoredHash, passed: Callable[[int], None] | None = None
) -> tuple[int | None, str | None]:
    """Size and SHA-256 of the committed content, or ``(None, None)`` if unreadable.

    *passed* sees the size of every chunk hashed: a progress bar, and a
    Ctrl-C check (it may raise) inside a large object.
    """
    if stored.inline is not None:
        if passed is not None:
            passed(stored.inline[0])
        return stored.inline
    if stored.filename is None:
        return None, None
    try:
        return StoredContent(stored.size, filename=stored.filename).hash(passed)
    except OSError:
        return None, None


class Verify(Command):
    name = "verify"
    summary = "re-hash stored content and compare it with the recorded sha256"
    arguments = (
        recursive_arg("verify every object below containers"),
        paths_arg("objects to verify"),
    )

    def run(self, inv: Invocation) -> int | None:
        cwd, recursive = inv.session.cwd, inv.args.recursive
        failed = 0

        def check(path: str) -> None:
            nonlocal failed
            found = inv.view(lambda view: stored_hashes(view, path, cwd, recursive, inv.checked))
            with progress_bar(inv, sum(stored.size for stored in found)) as bar:
                for stored in inv.checked(found):
                    failed += not self.verify_one(inv, stored, bar)

        worst = inv.each(inv.args.paths, check) or 0
        return max(worst, 1 if failed else 0) or None

    def verify_one(self, inv: Invocation, stored: StoredHash, bar: Progress) -> bool:
        """Re-hash one object and print its line; whether it was sound."""
        size, digest = rehash(stored, passing(inv, bar))
        ok = size == stored.size and digest == stored.sha256
        if inv.json:
            inv.out.json(
                {
                    "path": stored.path,
                    "objectid": stored.object_id,
                    "status": "OK" if ok else "FAILED",
                    "cdmi_hash": stored.sha256,
                    "computed_hash": digest,
                    "cdmi_size": stored.size,
                    "computed_size": size,
                }
            )
        else:
            status = inv.out.style("OK", "ok") if ok else inv.out.style("FAILED", "error")
            inv.out.line(f"{status} {printable(stored.shown)}")
        return ok


COMMANDS = (Concatenate, Head, Put, MakeContainer, Remove, Move, Copy, Verify)
