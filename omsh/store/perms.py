"""Permission bits: the CDMI 1.1.1 ACE mask values (the NFSv4 ones).

Their own module because both the entries that name them
(:mod:`omsh.store.acl`) and the decision that reads those entries
(:mod:`omsh.store.access`, which builds on that module) need them.
"""

from __future__ import annotations

import enum


class Perm(enum.IntFlag):
    """CDMI ACE mask bits (CDMI 1.1.1 §16.1.5)."""

    NONE = 0
    READ = 0x00000001  # READ_OBJECT / LIST_CONTAINER
    WRITE = 0x00000002  # WRITE_OBJECT / ADD_OBJECT
    APPEND = 0x00000004  # APPEND_DATA / ADD_SUBCONTAINER
    READ_METADATA = 0x00000008
    WRITE_METADATA = 0x00000010
    EXECUTE = 0x00000020
    DELETE_CHILD = 0x00000040  # DELETE_OBJECT / DELETE_SUBCONTAINER
    READ_ATTRIBUTES = 0x00000080
    WRITE_ATTRIBUTES = 0x00000100
    WRITE_RETENTION = 0x00000200
    WRITE_RETENTION_HOLD = 0x00000400
    DELETE = 0x00010000
    READ_ACL = 0x00020000
    WRITE_ACL = 0x00040000
    WRITE_OWNER = 0x00080000
    SYNCHRONIZE = 0x00100000

    @classmethod
    def all(cls) -> Perm:
        value = cls.NONE
        for member in cls:
            value |= member
        return value
