"""The interfaces shared by the command layer and the front ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from omsh.commands.base import Invocation


class ICommand(Interface):
    """One shell command, adapted from the working location.

    Implementations are registered as named adapters providing ``ICommand``
    (see :mod:`omsh.commands.registry`); the name is what the user types.
    """

    name = Attribute("The command name as typed")
    aliases = Attribute("Other names it answers to")
    summary = Attribute("One line for `help`")
    arguments = Attribute("Sequence of omsh.commands.arguments.Arg")

    def run(invocation: Invocation) -> int | None:
        """Do the work; raise omsh.errors.OmshError subclasses to fail."""
