"""Object names and paths.

A name is any Unicode text except ``/`` and NUL, not ``.`` or ``..``, at most
255 bytes of UTF-8 (ARCHITECTURE §6.1).  A path is a ``/``-separated sequence of
names, absolute or relative to a working container.  ``..`` above the root
stays at the root, as on every POSIX system, so no path can escape the tree.
"""

from __future__ import annotations

from omsh.errors import InvalidName

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096


def validate_name(name: str) -> str:
    """Return *name* unchanged if it may be stored, else raise ``InvalidName``."""
    if not name:
        raise InvalidName("empty name")
    if name in (".", ".."):
        raise InvalidName(f"{name!r} is not a valid name")
    if "/" in name:
        raise InvalidName("a name may not contain '/'")
    if "\0" in name:
        raise InvalidName("a name may not contain NUL")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidName("a name must be valid Unicode") from None
    if size > MAX_NAME_BYTES:
        raise InvalidName(f"name is {size} bytes; the limit is {MAX_NAME_BYTES}")
    return name


def normalize_path(path: str, cwd: str = "/") -> str:
    """The absolute, normalized form of *path* seen from *cwd*.

    ``.`` and empty segments vanish, ``..`` climbs (never above ``/``).  Each
    remaining segment is validated, so a NUL or an over-long name is refused
    here before any lookup happens.
    """
    if "\0" in path:
        raise InvalidName("a path may not contain NUL")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidName(f"path longer than {MAX_PATH_BYTES} bytes")
    joined = path if path.startswith("/") else f"{cwd.rstrip('/')}/{path}"
    parts: list[str] = []
    for segment in joined.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts:
                parts.pop()
            continue
        parts.append(validate_name(segment))
    return "/" + "/".join(parts)


def split_path(path: str) -> list[str]:
    """The names along an absolute normalized path (``/`` gives ``[]``)."""
    return [segment for segment in path.split("/") if segment]


def parent_and_name(path: str) -> tuple[str, str]:
    """Split an absolute normalized path into its parent path and last name."""
    if path == "/":
        raise InvalidName("the root has no name")
    parent, _, name = path.rpartition("/")
    return parent or "/", name


def join_path(parent: str, name: str) -> str:
    return f"{parent.rstrip('/')}/{name}"
