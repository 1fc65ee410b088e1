"""``view``: saved queries, live at ``/.views/NAME`` on every front end.

The store keeps the views and builds ``/.views`` (:mod:`omsh.store.views`);
this command adds, lists, removes and runs them.  ``view run NAME`` prints
what ``query`` would, with the view's own ``--in`` and ``--select``.
"""

from __future__ import annotations

from omsh.commands.arguments import Complete, arg, within_arg
from omsh.commands.base import Invocation
from omsh.commands.formatting import printable
from omsh.commands.query import SearchCommand, select_arg, select_fields
from omsh.errors import UsageError
from omsh.store.views import add_view, remove_view, require_view, views_of


class View(SearchCommand):
    name = "view"
    summary = "saved queries, live at /.views/NAME: view add NAME EXPR | list | rm NAME | run NAME"
    details = """
        forms:
          view add NAME EXPR [--in PATH] [--select F,…] [--shared]
          view list            your views, then shared ones (--json: one per line)
          view rm NAME [--shared]
          view run NAME        the matches now, as query EXPR --in PATH --select F,…

        /.views/NAME lists what the view matches now, as your query would
        (exact as of the reading transaction, only what you may see), in
        the shell, over SFTP/SCP (sftp, rclone, sshfs) and CDMI. Each entry
        is the object itself, named by its path below the view's --in with
        '/' written %2F (and '%' as %25): photos%2F2024%2Fa.jpg. Entries are
        read-only there (change the object at its own path). A view is its
        owner's; administrators may add --shared ones, which every user sees
        unless they have a view of the same name.
        """
    arguments = (
        arg("action", choices=("add", "list", "rm", "run"), help="what to do"),
        arg("view", nargs="?", metavar="NAME", help="the view's name"),
        arg(
            "expression",
            nargs="?",
            metavar="EXPR",
            complete=Complete.QUERY,
            help="add: the query (see help query)",
        ),
        within_arg("add: only objects below this container"),
        select_arg("add: the fields view run shows as columns"),
        arg("--shared", action="store_true", help="add, rm: a view for everyone (administrators)"),
    )

    def run(self, inv: Invocation) -> None:
        args = inv.args
        action = args.action
        if action != "add" and (args.expression or args.within or args.select):
            raise UsageError(f"EXPR, --in and --select go with {inv.name} add")
        if args.shared and action not in ("add", "rm"):
            raise UsageError(f"--shared goes with {inv.name} add or rm")
        if action == "list":
            if args.view is not None:
                raise UsageError("view list takes no NAME")
            self.list_all(inv)
            return
        if args.view is None:
            raise UsageError(f"view {action} needs a NAME")
        name = str(args.view)
        if action == "add":
            self.add(inv, name)
        elif action == "rm":
            saved = inv.view(lambda view: remove_view(view, name, shared=args.shared), write=True)
            inv.emit(saved.document() | {"removed": True}, f"view {printable(name)} removed")
        else:
            saved = inv.view(lambda view: require_view(view, name))
            self.search(inv, saved.node, saved.within, select=select_fields(",".join(saved.select)))

    def add(self, inv: Invocation, name: str) -> None:
        args = inv.args
        if not args.expression:
            raise UsageError("view add needs a NAME and an EXPR")
        select = tuple(field.strip() for field in (args.select or "").split(",") if field.strip())
        select_fields(",".join(select))  # a bad field name is a usage error now, not later
        cwd = inv.session.cwd
        saved = inv.view(
            lambda view: add_view(
                view,
                name,
                args.expression,
                within=args.within,
                select=select,
                shared=args.shared,
                cwd=cwd,
            ),
            write=True,
        )
        inv.emit(saved.document(), f"view {printable(name)} added: {saved.path}")

    def list_all(self, inv: Invocation) -> None:
        user = inv.session.user
        inv.listing(
            [saved.document() for saved in inv.view(lambda view: views_of(view.root, user))],
            ("Name", "Owner", "In", "Query"),
            lambda d: [
                printable(d["name"]),
                "shared" if d["shared"] else printable(d["owner"]),
                printable(d["in"] or "/"),
                printable(d["query"]),
            ],
        )


COMMANDS = (View,)
