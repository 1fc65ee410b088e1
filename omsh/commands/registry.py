"""The command registry: a ``zope.interface`` component registry, used explicitly.

Commands are named adapters from a :class:`Location` (the working container,
as a non-persistent value carrying the interfaces of the object it names) to
:class:`~omsh.commands.interfaces.ICommand`.  A plugin adds or overrides a
command by registering its own adapter, for every object (``IStoreObject``)
or only for a more specific interface.  Nothing registers at import time:
:func:`default_registry` builds the core set on demand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zope.interface import directlyProvides, providedBy
from zope.interface.registry import Components

from omsh.commands.interfaces import ICommand
from omsh.store.model import IStoreObject, StoreObject

if TYPE_CHECKING:
    from omsh.commands.base import Command


@dataclass
class Location:
    """Where a command runs: a path plus the interfaces of the object there.

    Commands are adapted from this rather than from the persistent object so
    they never hold an object across transactions.
    """

    path: str
    object_id: str

    @classmethod
    def of(cls, obj: StoreObject) -> Location:
        location = cls(obj.path, obj.object_id)
        directlyProvides(location, *providedBy(obj))
        return location


def register_command(
    registry: Components, factory: type[Command], for_: type | None = None
) -> None:
    """Register *factory* under its ``name`` and each of its ``aliases``."""
    required = (for_ or IStoreObject,)
    for name in (factory.name, *getattr(factory, "aliases", ())):
        registry.registerAdapter(factory, required, ICommand, name)


def lookup_command(registry: Components, name: str, location: Location) -> ICommand | None:
    return registry.queryAdapter(location, ICommand, name)


def command_factories(registry: Components) -> dict[str, type[Command]]:
    """Every registered command name mapped to its factory, aliases included."""
    return {
        registration.name: registration.factory
        # mypy-zope's stub says registeredAdapters() returns None; it yields registrations.
        for registration in registry.registeredAdapters()  # type: ignore[func-returns-value, attr-defined]
        if registration.provided is ICommand
    }


def primary_commands(registry: Components) -> list[type[Command]]:
    """Each command factory once, sorted by its primary name."""
    unique = {factory.name: factory for factory in command_factories(registry).values()}
    return [unique[name] for name in sorted(unique)]


def default_registry(extra_modules: Iterable[str] = ()) -> Components:
    """A registry with the core command families (and any plugin modules).

    Each family module exposes ``COMMANDS``, a tuple of command classes.
    """
    import importlib

    from omsh.commands import FAMILIES

    registry = Components("omsh.commands")
    for module_name in (*FAMILIES, *extra_modules):
        module = importlib.import_module(module_name)
        for factory in module.COMMANDS:
            register_command(registry, factory)
    return registry
