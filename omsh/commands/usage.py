"""How much is stored: ``du`` (a subtree, as the caller sees it) and ``df`` (the store).

The store computes the figures (:mod:`omsh.store.usage`, from the catalog);
these commands only choose what to print and how.  Both take ``-h`` for
human-readable sizes, as in coreutils; their help is ``--help``.
"""

from __future__ import annotations

from omsh.commands.arguments import Arg, arg, at_least, paths_arg
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import human_size, printable, render_table
from omsh.errors import UsageError
from omsh.store.usage import StoreFigures, Usage, store_figures, usage
from omsh.store.view import StoreView


def _size_text(size: int, human: bool) -> str:
    return human_size(size, bytes_unit="") if human else str(size)


def _human_arg() -> Arg:
    """``-h``: claimed for sizes, as coreutils does (so help is ``--help``)."""
    return arg(
        "-h",
        "--human-readable",
        action="store_true",
        help="sizes as 1.0K, 4.5M, 1.2G (powers of 1024, rounded up); --json keeps bytes",
    )


def _shown_path(argument: str, top: str, path: str) -> str:
    """*path* (at or below *top*) as the user wrote *top*: ``du photos`` → ``photos/2024``."""
    if path == top:
        return argument
    suffix = path if top == "/" else path[len(top) :]
    return argument.rstrip("/") + suffix


def _post_order(path: str) -> tuple[tuple[int, str], ...]:
    """A sort key that puts every container after what it holds, names in order (as ``du``)."""
    return (*((0, name) for name in path.split("/") if name), (1, ""))


class DiskUsage(Command):
    name = "du"
    summary = "bytes of content under containers, as you can see them"
    arguments = (
        arg("-s", "--summarize", action="store_true", help="only a total for each PATH"),
        arg("-a", "--all", action="store_true", help="data objects too, not only containers"),
        _human_arg(),
        arg(
            "-d",
            "--max-depth",
            type=at_least(0),
            default=None,
            metavar="N",
            help="show containers at most N levels below PATH (they still count in full)",
        ),
        arg("-c", "--total", action="store_true", help="a grand total after the PATHs"),
        paths_arg(
            "containers or objects to measure (default: the working container)", optional=True
        ),
    )
    details = """
        Sizes are bytes of content (coreutils' du --apparent-size -b), or with
        -h as ls -lh prints them. Each container's line counts everything
        below it; containers come after their contents. Only what you could
        find with ls -R from PATH is counted: an object you may not see, or
        one in a container you may not list, adds nothing.

        --json: one line per container (and object with -a):
        {"path": "/a/b", "type": "container", "bytes": 123}; with -c a last
        line {"total": 456}.
    """

    def run(self, inv: Invocation) -> int | None:
        args = inv.args
        if args.summarize and args.all:
            raise UsageError("cannot both summarize (-s) and show all entries (-a)")
        depth = args.max_depth
        if args.summarize:
            if depth not in (None, 0):
                raise UsageError("-s is --max-depth 0; it cannot be combined with another depth")
            depth = 0
        grand_total = 0

        def measure(path: str) -> None:
            nonlocal grand_total
            found = inv.view(lambda view: usage(view, path, inv.session.cwd, depth=depth))
            grand_total += found.total
            self._print(inv, path, found)

        status = inv.each(args.paths or ["."], measure)
        if args.total:
            total = _size_text(grand_total, args.human_readable)
            inv.emit({"total": grand_total}, f"{total}\ttotal")
        return status

    def _print(self, inv: Invocation, argument: str, found: Usage) -> None:
        entries = [(path, "container", size) for path, size in found.containers.items()]
        if inv.args.all or not found.is_container:
            entries += [(path, "object", size) for path, size in found.objects.items()]
        entries.sort(key=lambda entry: _post_order(entry[0]))
        for path, kind, size in entries:
            shown = printable(_shown_path(argument, found.path, path))
            text = f"{_size_text(size, inv.args.human_readable)}\t{shown}"
            inv.emit({"path": path, "type": kind, "bytes": size}, text)


class DiskFree(Command):
    name = "df"
    summary = "the store's size: objects, containers, bytes stored and space left"
    arguments = (
        _human_arg(),
        paths_arg(
            "objects in the store to show (each must exist; the figures are the store's)",
            optional=True,
        ),
    )
    details = """
        The whole store, whoever asks (as df shows a whole file system): data
        objects, containers, bytes of content stored (Used), and the free
        space of the file system holding the blobs (Avail: what can still be
        stored); Size is Used + Avail. When the blobs are not on this host
        (ZEO, RelStorage), Avail is the free space where uploads are staged
        here, and df says so on stderr. SFTP clients see the same figures
        (sftp's df, df on an sshfs mount).

        --json: {"objects": N, "containers": N, "used": BYTES,
        "available": BYTES, "size": BYTES, "blobs_local": true}.
    """

    def run(self, inv: Invocation) -> None:
        paths = inv.args.paths

        def figures_at(view: StoreView) -> StoreFigures:
            for path in paths:
                view.stat(view.resolve(path, inv.session.cwd), path)
            return store_figures(view.root)

        figures = inv.view(figures_at)
        size = figures.used + figures.available
        if inv.json:
            inv.out.json(
                {
                    "objects": figures.objects,
                    "containers": figures.containers,
                    "used": figures.used,
                    "available": figures.available,
                    "size": size,
                    "blobs_local": figures.blobs_local,
                }
            )
        else:
            human = inv.args.human_readable
            render_table(
                inv.out,
                [
                    [
                        _size_text(size, human),
                        _size_text(figures.used, human),
                        _size_text(figures.available, human),
                        _percent(figures.used, size),
                        str(figures.objects),
                        str(figures.containers),
                    ]
                ],
                headers=["Size", "Used", "Avail", "Use%", "Objects", "Containers"],
                right_aligned=frozenset(range(6)),
            )
        if not figures.blobs_local:
            inv.warn("the blobs are not on this host: Avail is the free space for staging uploads")


def _percent(used: int, size: int) -> str:
    """``Use%`` as coreutils df prints it: rounded up, ``-`` for an empty total."""
    if size == 0:
        return "-"
    return f"{-(-used * 100 // size)}%"


COMMANDS = (DiskUsage, DiskFree)
