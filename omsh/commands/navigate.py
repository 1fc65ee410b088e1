"""Moving around and looking: ``pwd``, ``cd``, ``ls``, ``tree``, ``stat``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omsh.commands.arguments import Complete, arg, at_arg, paths_arg
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import (
    human_size,
    printable,
    render_columns,
    render_table,
    short_time,
)
from omsh.errors import OmshError, UsageError
from omsh.store.admin import start_container
from omsh.store.model import Container, StoreObject
from omsh.store.names import join_path
from omsh.store.system import describe
from omsh.store.view import StoreView


class PrintWorkingContainer(Command):
    name = "pwd"
    summary = "print the working container"

    def run(self, inv: Invocation) -> None:
        inv.emit({"path": inv.session.cwd}, printable(inv.session.cwd))


class ChangeContainer(Command):
    name = "cd"
    summary = "change the working container ('cd' or 'cd ~' goes home, 'cd -' goes back)"
    arguments = (
        arg(
            "path",
            nargs="?",
            complete=Complete.CONTAINER,
            help="container to enter (~ is your home, ~/x below it), or - for the previous one",
        ),
    )
    details = """
        Without PATH, goes to your home (/home/USER), or to / if you have none.
    """

    def run(self, inv: Invocation) -> None:
        session = inv.session
        target = inv.args.path
        if target == "-":
            if session.previous_cwd is None:
                raise OmshError("no previous container")
            target = session.previous_cwd

        def enter(view: StoreView) -> str:
            if target is None:
                return start_container(view)
            return view.enter(target, session.cwd).path

        new_cwd = inv.view(enter)
        session.previous_cwd, session.cwd = session.cwd, new_cwd
        if inv.json:
            inv.out.json({"path": new_cwd})
        elif inv.args.path == "-":
            inv.out.line(printable(new_cwd))


def _name_entry(obj: StoreObject, shown_path: str) -> dict[str, Any]:
    """All a short listing shows: the name and whether it is a container.

    Formatting an object's times and metadata costs more than finding it:
    plain ``ls`` of 10,000 children need not pay for what it does not print.
    """
    return {"type": obj.kind, "shown": shown_path}


def _entry(obj: StoreObject, shown_path: str) -> dict[str, Any]:
    entry = describe(obj)
    entry["path"] = obj.path
    entry["shown"] = shown_path
    return entry


def _long_row(entry: dict[str, Any], human: bool) -> list[str]:
    """One ``ls -l`` line: sizes in bytes, or as ``ls -lh`` with *human*."""
    size = entry["cdmi_size"]
    if entry["type"] == "container":
        shown = f"{size} items"
    else:
        shown = human_size(size, bytes_unit="") if human else str(size)
    return [
        "d" if entry["type"] == "container" else "-",
        entry["cdmi_owner"],
        shown,
        short_time(_epoch(entry["cdmi_mtime"])),
        _display_name(entry),
    ]


def _display_name(entry: dict[str, Any]) -> str:
    name = printable(entry["shown"])
    return name + "/" if entry["type"] == "container" and not name.endswith("/") else name


def _epoch(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


class ListContainer(Command):
    name = "ls"
    aliases = ("dir",)
    summary = "list containers and objects"
    arguments = (
        at_arg(),
        arg("-l", "--long", action="store_true", help="long listing: type, owner, size, mtime"),
        arg(
            "-h",
            "--human-readable",
            action="store_true",
            help="with -l, sizes as 1.0K, 4.5M, 1.2G (powers of 1024); --json keeps bytes",
        ),
        arg("-a", "--all", action="store_true", help="include names starting with '.'"),
        arg("-R", "--recursive", action="store_true", help="list sub-containers too"),
        arg(
            "-d",
            "--directory",
            action="store_true",
            help="list containers themselves, not their contents",
        ),
        paths_arg("containers or objects to list (wildcards allowed)", optional=True),
    )

    def run(self, inv: Invocation) -> int | None:
        args = inv.args
        paths = args.paths or ["."]
        failures: list[OmshError] = []

        def collect(view: StoreView) -> list[tuple[str | None, list[dict[str, Any]]]]:
            sections: list[tuple[str | None, list[dict[str, Any]]]] = []
            singles: list[dict[str, Any]] = []
            for path in paths:
                try:
                    obj = view.stat(view.resolve(path, inv.session.cwd), path)
                except OmshError as exc:
                    failures.append(exc)
                    continue
                if isinstance(obj, Container) and not args.directory:
                    entry = _entry if args.long or inv.json else _name_entry
                    self._list_container(view, obj, path, sections, entry, args.all, args.recursive)
                else:
                    singles.append(_entry(obj, path))
            if singles:
                sections.insert(0, (None, singles))
            return sections

        sections = inv.view(collect)
        for failure in failures:
            inv.warn(str(failure))
        titled = len(sections) > 1 or args.recursive
        for index, (title, entries) in enumerate(sections):
            if inv.json:
                for entry in entries:
                    entry.pop("shown")
                    inv.out.json(entry)
                continue
            if titled and title is not None:
                if index:
                    inv.out.line()
                inv.out.line(f"{printable(title)}:")
            self._render(inv, entries)
        if failures:
            return max(failure.exit_status for failure in failures)
        return None

    def _list_container(
        self,
        view: StoreView,
        container: Container,
        shown: str,
        sections: list[tuple[str | None, list[dict[str, Any]]]],
        entry: Callable[[StoreObject, str], dict[str, Any]],
        show_hidden: bool,
        recursive: bool,
    ) -> None:
        entries = []
        sub_containers = []
        for name, child in view.children(container, shown):
            if name.startswith(".") and not show_hidden:
                continue
            entries.append(entry(child, name))
            if isinstance(child, Container):
                sub_containers.append((name, child))
        sections.append((shown, entries))
        if recursive:
            for name, child in sub_containers:
                if view.can_list(child):
                    self._list_container(
                        view, child, join_path(shown, name), sections, entry, show_hidden, True
                    )

    def _render(self, inv: Invocation, entries: list[dict[str, Any]]) -> None:
        styles = ["container" if e["type"] == "container" else None for e in entries]
        if inv.args.long:
            render_table(
                inv.out,
                [_long_row(e, inv.args.human_readable) for e in entries],
                right_aligned=frozenset({2}),
                styles=styles,
            )
        elif inv.out.terminal:
            render_columns(inv.out, [_display_name(e) for e in entries], styles)
        else:
            for entry in entries:
                inv.out.line(_display_name(entry))


class Tree(Command):
    name = "tree"
    summary = "show a container's subtree"
    arguments = (
        at_arg(),
        arg("-L", "--level", type=int, default=None, metavar="N", help="descend at most N levels"),
        arg("-a", "--all", action="store_true", help="include names starting with '.'"),
        arg("path", nargs="?", default=".", complete=Complete.CONTAINER, help="where to start"),
    )

    def run(self, inv: Invocation) -> None:
        level = inv.args.level
        if level is not None and level < 1:
            raise UsageError("-L needs a level of 1 or more")

        def build(view: StoreView, obj: StoreObject, shown: str, depth: int) -> dict[str, Any]:
            node: dict[str, Any] = {"name": shown, "type": "object"}
            if isinstance(obj, Container):
                node["type"] = "container"
                node["children"] = []
                if (level is None or depth < level) and view.can_list(obj):
                    for name, child in view.children(obj, shown):
                        if name.startswith(".") and not inv.args.all:
                            continue
                        node["children"].append(build(view, child, name, depth + 1))
            return node

        def walk(view: StoreView) -> dict[str, Any]:
            root = view.stat(view.resolve(inv.args.path, inv.session.cwd), inv.args.path)
            # Like ls: the top must be listable; unlistable ones below show empty.
            if isinstance(root, Container):
                view.require_list(root, inv.args.path)
            return build(view, root, inv.args.path, 0)

        tree = inv.view(walk)
        if inv.json:
            inv.out.json(tree)
            return
        counts = {"container": 0, "object": 0}
        inv.out.line(inv.out.style(printable(tree["name"]), "container"))
        self._render(inv, tree.get("children", []), "", counts)
        inv.out.line(f"\n{counts['container']} containers, {counts['object']} objects")

    def _render(
        self, inv: Invocation, children: list[dict[str, Any]], prefix: str, counts: dict[str, int]
    ) -> None:
        for index, child in enumerate(children):
            last = index == len(children) - 1
            counts[child["type"]] += 1
            name = printable(child["name"])
            if child["type"] == "container":
                name = inv.out.style(name + "/", "container")
            inv.out.line(f"{prefix}{'└── ' if last else '├── '}{name}")
            if child.get("children"):
                self._render(inv, child["children"], prefix + ("    " if last else "│   "), counts)


class Stat(Command):
    name = "stat"
    summary = "show an object's system metadata"
    arguments = (
        at_arg(),
        arg("paths", nargs="+", metavar="PATH", complete=Complete.PATH, help="objects to show"),
    )

    def run(self, inv: Invocation) -> int | None:
        failures: list[OmshError] = []

        def gather(view: StoreView) -> list[dict[str, Any]]:
            found = []
            for path in inv.args.paths:
                try:
                    obj = view.stat(view.resolve(path, inv.session.cwd), path)
                except OmshError as exc:
                    failures.append(exc)
                    continue
                entry = describe(obj)
                entry["metadata_items"] = len(obj.metadata)
                found.append(entry)
            return found

        for entry in inv.view(gather):
            if inv.json:
                inv.out.json(entry)
                continue
            rows = [
                ["Path:", printable(entry["path"])],
                ["Type:", entry["type"]],
                ["ObjectID:", entry["objectid"]],
                ["Owner:", entry["cdmi_owner"]],
            ]
            if entry["type"] == "object":
                rows += [
                    ["Size:", f"{entry['cdmi_size']} ({human_size(entry['cdmi_size'])})"],
                    ["Mimetype:", entry["mimetype"]],
                    ["Hash:", f"sha256:{entry['cdmi_hash']}"],
                ]
            else:
                rows.append(["Children:", str(entry["cdmi_size"])])
            rows += [
                ["Created:", entry["cdmi_ctime"]],
                ["Modified:", entry["cdmi_mtime"]],
                ["Accessed:", entry["cdmi_atime"]],
                ["Metadata:", f"{entry['metadata_items']} items"],
            ]
            render_table(inv.out, rows)
        for failure in failures:
            inv.warn(str(failure))
        return max((f.exit_status for f in failures), default=None)


COMMANDS = (PrintWorkingContainer, ChangeContainer, ListContainer, Tree, Stat)
