"""``python -m bench [GROUP] …``: run one case group, print its table, save its JSON.

The groups (see :data:`GROUPS`), each a :class:`bench.runner.Group` in a
module of its own:

``ssh`` (the default)  omsh against OpenSSH's sshd: exec round trip, ``cat``
                       and ``put`` of 1 GiB, RSS, a big ``ls``
                       (:mod:`bench.ssh_bench`);
``query``              omsh's catalog against SQLite (:mod:`bench.query_bench`);
``acl``                ``ls -l`` as a user with inherited access vs as admin
                       (:mod:`bench.acl_bench`);
``cdmi``               the CDMI endpoint against a bare aiohttp app
                       (:mod:`bench.cdmi_bench`; Debian's ``wrk`` if installed);
``sftp``               SFTP transfers with OpenSSH's ``sftp`` and ``rclone``
                       against sshd's sftp-server (:mod:`bench.sftp_bench`);
``complete``           Tab completion in a container of 100,000 children vs
                       listing it, in process (:mod:`bench.complete_bench`);
``at``                 ``cat --at`` 1,000 transactions back, ``ls --at`` and
                       ``ls /.snapshots/…`` of 10,000 children vs now, in
                       process (:mod:`bench.at_bench`);
``views``              ``ls /.views/NAME`` of 10,000 matches vs ``query`` of
                       the same, in process (:mod:`bench.views_bench`);
``watch``              latency from a commit (ssh ``put``, CDMI PUT) to its
                       event at a running ``watch --json`` over SSH
                       (:mod:`bench.watch_bench`);
``bulk``               ``set-meta --query`` on 100,000 objects vs SQLite's
                       ``UPDATE … WHERE``, in process (:mod:`bench.bulk_bench`);
``nodes``              4 KiB puts/s into one container from 1, 2 and 4
                       ``omsh serve`` nodes on one ZEO server, the same
                       clients in all (:mod:`bench.nodes_bench`);
``writes``             4 KiB objects/s through group commit and ``put``, with
                       10,000 and with 1,000,000 objects stored
                       and ``omsh import`` vs SQLite (:mod:`bench.writes_bench`).

Every group takes ``--quick`` (a smoke run), ``--cases`` where it has a
choice, ``--workdir``, ``--keep`` and ``--out``.  The ssh group runs 20
rounds of the small cases and 5 of the 1 GiB transfers plus one untimed
warm-up each, cipher aes128-gcm@openssh.com and key exchange
curve25519-sha256 pinned on both sides; ``--quick`` is 3 runs and 1
transfer of 64 MiB unless those are given.  Exit status 0 whatever the
verdicts; 1 if a case could not be measured.
"""

from __future__ import annotations

import importlib
import sys

from bench.runner import run

#: ``python -m bench NAME …`` runs this group: module and class.
GROUPS = {
    "ssh": ("bench.ssh_bench", "SSHBench"),
    "query": ("bench.query_bench", "QueryBench"),
    "acl": ("bench.acl_bench", "AclBench"),
    "cdmi": ("bench.cdmi_bench", "CdmiBench"),
    "sftp": ("bench.sftp_bench", "SFTPBench"),
    "complete": ("bench.complete_bench", "CompleteBench"),
    "at": ("bench.at_bench", "AtBench"),
    "views": ("bench.views_bench", "ViewsBench"),
    "watch": ("bench.watch_bench", "WatchBench"),
    "bulk": ("bench.bulk_bench", "BulkBench"),
    "nodes": ("bench.nodes_bench", "NodesBench"),
    "writes": ("bench.writes_bench", "WritesBench"),
}
DEFAULT = "ssh"


def main(argv: list[str] | None = None) -> int:
    """``python -m bench [GROUP] …``; without a group name, the ssh group."""
    argv = sys.argv[1:] if argv is None else argv
    name = argv[0] if argv[:1] and argv[0] in GROUPS else None
    module, group = GROUPS[name or DEFAULT]
    group_type = getattr(importlib.import_module(module), group)
    if name is not None:
        return run(group_type, name, argv[1:])
    others = ", ".join(f"python -m bench {other} --help" for other in GROUPS if other != DEFAULT)
    epilog = f"other case groups: {others}"
    return run(group_type, DEFAULT, argv, prog="python -m bench [ssh]", epilog=epilog)


if __name__ == "__main__":
    sys.exit(main())
