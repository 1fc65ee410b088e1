"""Shell commands: one module per command family (ARCHITECTURE §6.2).

Each family module defines ``COMMANDS``, a tuple of :class:`Command`
subclasses.  :func:`omsh.commands.registry.default_registry` registers them
as named ``ICommand`` adapters; nothing is registered at import time.
"""

FAMILIES = (
    "omsh.commands.navigate",
    "omsh.commands.content",
    "omsh.commands.checksums",
    "omsh.commands.metadata",
    "omsh.commands.access",
    "omsh.commands.identity",
    "omsh.commands.admin",
    "omsh.commands.shell",
    "omsh.commands.query",
    "omsh.commands.maintenance",
    "omsh.commands.usage",
    "omsh.commands.history",
    "omsh.commands.snapshots",
    "omsh.commands.views",
    "omsh.commands.watch",
)
