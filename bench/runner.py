"""``python -m bench NAME``: what every case group's command line does.

A group declares itself once as an :class:`Entry`: its settings (a frozen
dataclass whose defaults are the full run), the options that may change
them, the values ``--quick`` uses, its cases, the class that sets up its
servers and runs the cases, and its report.  :func:`run` then does the rest
the same way for every group: the options (plus ``--cases``, ``--quick``,
``--workdir``, ``--keep`` and ``--out``), the settings, a temp folder, set-up,
the cases, tear-down, the report on stdout and the JSON document in
``bench/out/``.  The exit status is 0 whatever the verdicts, 1 if a case
could not be measured or the group could not be set up.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.harness import MIB, NOT_MEASURED, CaseResult, output_of, say

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "bench" / "out"


# -- option types ----------------------------------------------------------------


def positive(text: str) -> int:
    """argparse ``type=`` for counts that must be at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


_SIZE = re.compile(r"(\d+)\s*([kmg]?)(?:i?b)?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """argparse ``type=`` for sizes: ``1073741824``, ``1G``, ``256MiB``, ``64m`` (binary units)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1G or 256M")
    scale = {"": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}[match.group(2).lower()]
    return int(match.group(1)) * scale


def case_keys(keys: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    """argparse ``type=`` for ``--cases a,b``: a subset of *keys*."""

    def parse(text: str) -> tuple[str, ...]:
        cases = tuple(name.strip() for name in text.split(",") if name.strip())
        unknown = sorted(set(cases) - set(keys))
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown cases {unknown}; choose from {keys}")
        return cases

    return parse


# -- what a group declares -------------------------------------------------------


class CaseGroup(Protocol):
    """A group of cases with its own servers: what :func:`run` drives."""

    def setup(self) -> None: ...

    def run(self) -> list[CaseResult]: ...

    def teardown(self) -> None: ...


@dataclass(frozen=True)
class Option:
    """A command-line option that sets the settings field of the same name."""

    flag: str
    type: Callable[[str], Any]
    help: str

    @property
    def name(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def _no_details(group: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Entry:
    """A case group as ``python -m bench NAME`` runs it."""

    name: str
    description: str
    #: A frozen dataclass; its defaults are the full run.
    settings: type
    #: ``group(workdir, settings, say)``: sets the servers up, runs the cases.
    group: Callable[[Path, Any, Callable[[str], None]], CaseGroup]
    #: ``report(settings, group, results, context)``: the text printed.
    report: Callable[[Any, Any, list[CaseResult], dict[str, Any]], str]
    options: tuple[Option, ...]
    #: What ``--quick`` sets, unless the option is given, and how it is described.
    quick: Mapping[str, Any]
    quick_help: str
    #: The case keys ``--cases`` chooses from (in the settings' ``cases``); none: no option.
    cases: tuple[str, ...] = ()
    #: What the JSON document adds at its top level, from the group after its run.
    details: Callable[[Any], dict[str, Any]] = _no_details
    #: What the environment record adds (versions of the systems compared).
    context: Callable[[], dict[str, Any]] = dict
    #: The settings as the JSON document records them.
    record: Callable[[Any], dict[str, Any]] = dataclasses.asdict


def parser(
    entry: Entry, prog: str | None = None, epilog: str | None = None
) -> argparse.ArgumentParser:
    """The group's options, then ``--cases``, ``--quick`` and where it works and reports."""
    parser = argparse.ArgumentParser(
        prog=prog or f"python -m bench {entry.name}", description=entry.description, epilog=epilog
    )
    for option in entry.options:
        parser.add_argument(option.flag, type=option.type, help=option.help)
    if entry.cases:
        parser.add_argument(
            "--cases",
            type=case_keys(entry.cases),
            default=entry.cases,
            help=f"comma-separated subset of {','.join(entry.cases)}",
        )
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {entry.quick_help}")
    parser.add_argument("--workdir", type=Path, help="where the temp folder goes (default: TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (stores, logs)")
    parser.add_argument("--out", type=Path, help="JSON results folder (default: bench/out)")
    return parser


def settings_from(entry: Entry, args: argparse.Namespace) -> Any:
    """Each setting from its option if given, else from ``--quick``'s values, else its default."""
    chosen: dict[str, Any] = {}
    for option in entry.options:
        value = getattr(args, option.name)
        if value is None and args.quick:
            value = entry.quick.get(option.name)
        if value is not None:
            chosen[option.name] = value
    if entry.cases:
        chosen["cases"] = args.cases
    return entry.settings(**chosen)


# -- running a group -------------------------------------------------------------


def environment() -> dict[str, Any]:
    """What the numbers were measured on."""
    dirty = output_of(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "git_head": output_of(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
        "git_tracked_changes": bool(dirty),
    }


def workspace(keep: bool, parent: Path | None) -> contextlib.AbstractContextManager[str]:
    """A temp folder for keys, stores and files: removed at the end unless *keep*."""
    if keep:
        kept = tempfile.mkdtemp(prefix="omsh-bench-", dir=parent)
        say(f"keeping {kept}")
        return contextlib.nullcontext(kept)
    return tempfile.TemporaryDirectory(prefix="omsh-bench-", dir=parent)


def run_group(group: CaseGroup) -> list[CaseResult] | None:
    """Set *group* up, run its cases, tear it down; None if it could not be set up."""
    try:
        group.setup()
        return group.run()
    except NOT_MEASURED as exc:
        say(f"set-up failed: {exc}")
        return None
    finally:
        group.teardown()


def run(
    entry: Entry,
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    epilog: str | None = None,
) -> int:
    """``python -m bench NAME ARGV…``: run *entry*'s group; the exit status.

    A workspace, the group set up, run and torn down, the report printed and
    the JSON document saved (the settings, the environment, then what the
    entry's ``details`` adds).
    """
    args = parser(entry, prog, epilog).parse_args(argv)
    settings = settings_from(entry, args)
    started = time.time()
    context = {**environment(), **entry.context()}
    with workspace(args.keep, args.workdir) as temp:
        group = entry.group(Path(temp), settings, say)
        results = run_group(group)
    if results is None:
        return 1
    context["loadavg_at_end"] = os.getloadavg()
    print(entry.report(settings, group, results, context))
    document = {
        "settings": entry.record(settings),
        "environment": context,
        **entry.details(group),
    }
    return save_results(args.out or DEFAULT_OUT, entry.name, started, document, results)


def save_results(
    directory: Path,
    name: str,
    started: float,
    document: dict[str, Any],
    results: Sequence[CaseResult],
) -> int:
    """Write a run's JSON (*document* with the results), say where; the exit status.

    The status is 1 if a case could not be measured, else 0 whatever the
    verdicts: benchmarks report, they do not assert.
    """
    full = {
        "benchmark": name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": round(time.time() - started, 1),
        **document,
        "results": [result.as_dict() for result in results],
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {path}")
    return 1 if any(result.status == "ERROR" for result in results) else 0
