"""``python -m bench [ssh]``: omsh against OpenSSH's sshd, printed as a table.

``python -m bench query`` runs the metadata query cases instead (omsh's
catalog against SQLite; see :mod:`bench.query_bench`), and ``python -m bench
acl`` the cost of ACL checks (``ls -l`` as a user with inherited access vs as
admin; see :mod:`bench.acl_bench`), and ``python -m bench cdmi`` the CDMI
endpoint against a bare aiohttp app (see :mod:`bench.cdmi_bench`; needs
Debian's ``wrk``), and ``python -m bench sftp`` SFTP transfers with OpenSSH's
``sftp`` and ``rclone`` against sshd's sftp-server (see :mod:`bench.sftp_bench`).

Defaults: 20 runs of the small cases (exec, big ``ls``), 5 runs of the
1 GiB transfers (``cat``, ``put``) plus one untimed warm-up each, cipher
aes128-gcm@openssh.com and key exchange curve25519-sha256 pinned on both
sides.  ``--quick`` is a smoke run (3 runs, 1 transfer of 64 MiB) unless
those are given explicitly.  Exit status 0 whatever the verdicts; 1 if a
case could not be measured.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

import asyncssh

from bench import harness
from bench.harness import (
    DEFAULT_OUT,
    MIB,
    CaseResult,
    case_keys,
    chosen_settings,
    format_table,
    load_line,
    negotiated_lines,
    output_of,
    parse_size,
    result_lines,
    run_main,
    say,
)
from bench.ssh_bench import CASE_KEYS, Settings, SSHBench
from bench.ssh_client import DEFAULT_CIPHER, DEFAULT_KEX

QUICK = {"runs": 3, "big_runs": 1, "size": 64 * MIB}


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


#: The other case groups: ``python -m bench NAME …`` runs ``main`` of the module.
GROUPS = {
    "query": "bench.query_bench",
    "acl": "bench.acl_bench",
    "cdmi": "bench.cdmi_bench",
    "sftp": "bench.sftp_bench",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="omsh vs OpenSSH sshd, as ratios of medians",
        epilog="other case groups: "
        + ", ".join(f"python -m bench {name} --help" for name in GROUPS),
    )
    parser.add_argument("--runs", type=positive, help="timed runs of the small cases (default 20)")
    parser.add_argument(
        "--big-runs", type=positive, help="timed runs of the cat and put transfers (default 5)"
    )
    parser.add_argument("--size", type=parse_size, help="transfer size, e.g. 1G, 256M (default 1G)")
    parser.add_argument(
        "--children", type=positive, default=10_000, help="children of the big container"
    )
    parser.add_argument(
        "--cases",
        type=case_keys(CASE_KEYS),
        default=CASE_KEYS,
        help=f"comma-separated subset of {','.join(CASE_KEYS)}",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 runs, 1 x 64 MiB")
    parser.add_argument("--cipher", default=DEFAULT_CIPHER, help="cipher pinned on both sides")
    parser.add_argument("--kex", default=DEFAULT_KEX, help="key exchange pinned on both sides")
    parser.add_argument("--workdir", type=Path, help="where the temp folder goes (default: TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, stores)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results folder")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    chosen = chosen_settings(args, ("runs", "big_runs", "size"), Settings(), QUICK)
    return Settings(
        **chosen, children=args.children, cases=args.cases, cipher=args.cipher, kex=args.kex
    )


def environment() -> dict[str, Any]:
    """What the numbers were measured on, with the SSH implementations' versions."""
    return {
        "openssh": output_of(["ssh", "-V"]),
        "asyncssh": asyncssh.__version__,
        **harness.environment(),
    }


def report(
    settings: Settings, bench: SSHBench, results: list[CaseResult], context: dict[str, Any]
) -> str:
    lines = [
        f"omsh vs OpenSSH sshd: medians of {settings.runs} runs (exec, ls) and"
        f" {settings.big_runs} runs of {settings.size / MIB:g} MiB (cat, put),"
        " runs interleaved, fresh connection each",
        load_line(context),
        *negotiated_lines(bench.negotiated),
        "",
        format_table(results),
        "",
        *result_lines(results),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench [ssh] …``, or ``python -m bench GROUP …`` for a group in :data:`GROUPS`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in GROUPS:
        group: Any = importlib.import_module(GROUPS[argv[0]])
        return int(group.main(argv[1:]))
    if argv[:1] == ["ssh"]:
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    settings = settings_from(args)
    return run_main(
        "ssh",
        args,
        lambda temp: SSHBench(temp, settings, say),
        lambda bench, results, context: report(settings, bench, results, context),
        {**vars(settings), "cases": list(settings.cases)},
        details=lambda bench: {"negotiated": bench.negotiated},
    )


if __name__ == "__main__":
    sys.exit(main())
