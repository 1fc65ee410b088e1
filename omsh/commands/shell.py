"""The shell itself: ``help``, ``history``, ``clear``, ``exit``/``quit``."""

from __future__ import annotations

from typing import Any

from omsh.commands.arguments import Complete, arg
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import printable, render_table
from omsh.commands.history import DETAILS as HISTORY_DETAILS
from omsh.commands.history import max_count_arg, print_history
from omsh.commands.registry import lookup_command, primary_commands
from omsh.errors import NotFound, UsageError

#: Home the cursor, clear the screen and the scroll-back (xterm's ``clear``).
CLEAR_SCREEN = "\x1b[H\x1b[2J\x1b[3J"
MAX_EXIT_STATUS = 255


def command_document(factory: type[Command]) -> dict[str, Any]:
    """A command's declaration as JSON: names, summary, usage and arguments."""
    return {
        "name": factory.name,
        "aliases": list(factory.aliases),
        "summary": factory.summary,
        "usage": factory.parser().format_usage().strip(),
        "arguments": [
            {
                "flags": list(declared.flags),
                "help": declared.help,
                "complete": declared.complete.value,
            }
            for declared in factory.arguments
        ],
    }


class Help(Command):
    name = "help"
    summary = "list the commands, or show how to use one"
    arguments = (
        arg("command", nargs="?", complete=Complete.COMMAND, help="the command to explain"),
    )

    def run(self, inv: Invocation) -> None:
        if inv.args.command is not None:
            self.explain(inv, inv.args.command)
            return
        factories = primary_commands(inv.registry)
        if inv.json:
            for factory in factories:
                inv.out.json(command_document(factory))
            return
        rows = [[_names(factory), factory.summary] for factory in factories]
        render_table(inv.out, rows)
        inv.out.line()
        inv.out.line("'help CMD' or 'CMD --help' explains one command; every command takes --json.")
        inv.out.line("-h is help too, except where it means human-readable sizes: ls, du, df.")

    def explain(self, inv: Invocation, name: str) -> None:
        # Looked up like the shell looks it up, so an override is what's explained.
        command = lookup_command(inv.registry, name, self.location)
        if command is None:
            raise NotFound(printable(name), "no such command")
        factory: type[Command] = type(command)  # type: ignore[assignment]
        if inv.json:
            inv.out.json(command_document(factory))
        else:
            inv.out.write(factory.help_text())


def _names(factory: type[Command]) -> str:
    if not factory.aliases:
        return factory.name
    return f"{factory.name} [{', '.join(factory.aliases)}]"


class History(Command):
    name = "history"
    summary = "the command lines typed in this session, or every change of an object"
    arguments = (
        max_count_arg(),
        arg(
            "count",
            nargs="?",
            metavar="N|PATH",
            complete=Complete.PATH,
            help="only the last N lines; or an object, to list its changes",
        ),
    )
    details = HISTORY_DETAILS

    def run(self, inv: Invocation) -> None:
        target: str | None = inv.args.count
        if target is not None and target.startswith("-") and target[1:].isdigit():
            raise UsageError("N must not be negative")
        if target is not None and not target.isdigit():
            print_history(inv, target)
            return
        if inv.args.max_count is not None:
            raise UsageError("-n needs a PATH")
        count = None if target is None else int(target)
        entries = list(enumerate(inv.session.history, start=1))
        if count is not None:
            entries = entries[len(entries) - count :] if count else []
        for number, line in entries:
            inv.emit({"index": number, "line": line}, f"{number:5d}  {printable(line)}")


class Clear(Command):
    name = "clear"
    summary = "clear the terminal screen"

    def run(self, inv: Invocation) -> None:
        if inv.json:
            inv.out.json({"cleared": inv.out.terminal})
        elif inv.out.terminal:
            inv.out.write(CLEAR_SCREEN)


class Exit(Command):
    name = "exit"
    aliases = ("quit", "logout")
    summary = "end the session (with exit status N, default 0)"
    arguments = (arg("status", nargs="?", type=int, default=0, metavar="N", help="exit status"),)

    def run(self, inv: Invocation) -> int:
        status: int = inv.args.status
        if not 0 <= status <= MAX_EXIT_STATUS:
            raise UsageError(f"exit status must be 0 to {MAX_EXIT_STATUS}")
        inv.session.finished = True
        return status


COMMANDS = (Help, History, Clear, Exit)
