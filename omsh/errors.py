"""The exceptions every layer of omsh raises, and the exit status each maps to.

The store, the commands and the front ends share this one hierarchy so that a
``NotFound`` raised deep in path resolution becomes exit status 3 over SSH and
404 over CDMI without any translation table in between.  The message of an
``OmshError`` is meant for the user: one line, no traceback.
"""

from __future__ import annotations


class OmshError(Exception):
    """A failure that is reported to the user as one line.

    ``exit_status`` is the status an exec session returns (ARCHITECTURE §6.2).
    """

    exit_status = 1

    def __init__(self, message: str, *, subject: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.subject = subject

    def __str__(self) -> str:
        if self.subject is not None:
            return f"{self.subject}: {self.message}"
        return self.message


class UsageError(OmshError):
    """The command line itself is wrong: unknown flag, missing argument."""

    exit_status = 2


class NotFound(OmshError):
    """A path, object ID, user or command that does not exist."""

    exit_status = 3

    def __init__(self, subject: str | None = None, message: str = "not found") -> None:
        super().__init__(message, subject=subject)


class PermissionDenied(OmshError):
    """The ACL decision said no.  The message never says what lies behind."""

    exit_status = 4

    def __init__(self, subject: str | None = None, message: str = "permission denied") -> None:
        super().__init__(message, subject=subject)


class AlreadyExists(OmshError):
    """The target name is taken, or a write lost a conflict for good."""

    exit_status = 5

    def __init__(self, subject: str | None = None, message: str = "already exists") -> None:
        super().__init__(message, subject=subject)


class InvalidName(OmshError):
    """A name that may not be stored (``/``, NUL, ``.``, ``..``, too long)."""

    exit_status = 1


class NotAContainer(OmshError):
    """A container was required and a data object was found."""

    def __init__(self, subject: str | None = None, message: str = "not a container") -> None:
        super().__init__(message, subject=subject)


class IsAContainer(OmshError):
    """A data object was required and a container was found."""

    def __init__(self, subject: str | None = None, message: str = "is a container") -> None:
        super().__init__(message, subject=subject)


class NotEmpty(OmshError):
    """A container with children was to be removed without recursion."""

    def __init__(self, subject: str | None = None, message: str = "container not empty") -> None:
        super().__init__(message, subject=subject)


class TransferAborted(OmshError):
    """The client went away before the end of an upload; nothing was stored."""

    def __init__(self, subject: str | None = None, message: str = "transfer aborted") -> None:
        super().__init__(message, subject=subject)


class Cancelled(OmshError):
    """The person interrupted the command (Ctrl-C, or SIGINT over the channel).

    Exit status 130, as bash gives a command killed by SIGINT (128 + 2).
    Not a failure of one item: ``Invocation.each`` lets it through, so a
    multi-object command stops at once rather than going on to the next.
    """

    exit_status = 130

    def __init__(self) -> None:
        super().__init__("interrupted")
