"""``python -m bench NAME``: what every case group's command line does.

A group is a class that subclasses :class:`Group`: it says in three class
attributes what it is (``description``, ``quick_help``) and what settings it
takes (``settings_type``, a frozen dataclass whose defaults are the full run
and whose :func:`option` fields are its command-line options, with the value
``--quick`` uses).  It sets its servers up, runs its cases, tears down, and
gives the lines above and below its table.  :func:`run` does the rest the
same way for every group: the options (plus ``--cases`` if the settings
have ``cases``, ``--quick``, ``--workdir``, ``--keep`` and ``--out``), the
settings, a temp folder, set-up, the cases, tear-down, the report on stdout
and the JSON document in ``bench/out/``.  The exit status is 0 whatever the
verdicts, 1 if a case could not be measured or the group could not be set up.
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from bench.harness import (
    MIB,
    NOT_MEASURED,
    CaseResult,
    CaseSpec,
    output_of,
    report_text,
    say,
)

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


def option(default: Any, parse: Callable[[str], Any], text: str, *, quick: Any = None) -> Any:
    """A settings field that ``--NAME`` sets (``_`` in NAME becomes ``-``).

    *parse* reads the option's text, *text* is its help, *quick* the value
    ``--quick`` gives it when the option is not given (None: the default).
    """
    return dataclasses.field(
        default=default, metadata={"parse": parse, "help": text, "quick": quick}
    )


class Group:
    """A group of cases with its own servers; subclasses declare the class attributes."""

    #: One line for ``--help``.
    description: ClassVar[str]
    #: What ``--quick`` runs, for ``--help``.
    quick_help: ClassVar[str]
    #: The settings' frozen dataclass (see :func:`option`).
    settings_type: ClassVar[type]
    #: Its cases in the order they run, for the default :meth:`run`.
    case_specs: ClassVar[Sequence[CaseSpec]] = ()

    def __init__(self, workdir: Path, settings: Any, say: Callable[[str], None]) -> None:
        """A temp folder for its files, its settings, and a progress printer."""
        self.workdir = workdir
        self.settings = settings
        self.say = say

    def setup(self) -> None:
        raise NotImplementedError

    def run(self) -> list[CaseResult]:
        """Each selected case of :attr:`case_specs`, in order: its method ``case_KEY``
        fills its result in; a case that cannot be measured is reported, not fatal."""
        results = []
        for case in self.case_specs:
            if case.key not in self.settings.cases:
                continue
            self.say(f"case {case.key}")
            result = case.result(self.settings)
            try:
                getattr(self, f"case_{case.key}")(result)
            except NOT_MEASURED as exc:
                result.error = str(exc)
                self.say(f"case {case.key} failed: {exc}")
            results.append(result)
        return results

    def teardown(self) -> None:
        raise NotImplementedError

    def head(self, context: dict[str, Any]) -> list[str]:
        """The report's lines above the table; *context* is the environment record."""
        raise NotImplementedError

    def tail(self) -> list[str]:
        """The report's lines after the cases'."""
        return []

    def details(self) -> dict[str, Any]:
        """What the JSON document adds at its top level, after the run."""
        return {}

    @staticmethod
    def versions() -> dict[str, Any]:
        """What the environment record adds: versions of the systems compared."""
        return {}

    def record(self) -> dict[str, Any]:
        """The settings as the JSON document records them."""
        return dataclasses.asdict(self.settings)


def parser(group: type[Group], prog: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """The group's options, ``--cases``, ``--quick`` and where it works and reports."""
    parser = argparse.ArgumentParser(prog=prog, description=group.description, epilog=epilog)
    for field in dataclasses.fields(group.settings_type):
        if "parse" in field.metadata:
            flag = "--" + field.name.replace("_", "-")
            parser.add_argument(flag, type=field.metadata["parse"], help=field.metadata["help"])
        elif field.name == "cases":
            keys = field.default
            parser.add_argument(
                "--cases",
                type=case_keys(keys),
                default=keys,
                help=f"comma-separated subset of {','.join(keys)}",
            )
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {group.quick_help}")
    parser.add_argument("--workdir", type=Path, help="where the temp folder goes (default: TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (stores, logs)")
    parser.add_argument("--out", type=Path, help="JSON results folder (default: bench/out)")
    return parser


def settings_from(group: type[Group], args: argparse.Namespace) -> Any:
    """Each setting from its option if given, else its ``--quick`` value, else its default."""
    chosen: dict[str, Any] = {}
    for field in dataclasses.fields(group.settings_type):
        value = getattr(args, field.name, None)
        if value is None and args.quick:
            value = field.metadata.get("quick")
        if value is not None:
            chosen[field.name] = value
    return group.settings_type(**chosen)


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


def run_group(group: Group) -> list[CaseResult] | None:
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
    group_type: type[Group],
    name: str,
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    epilog: str | None = None,
) -> int:
    """``python -m bench NAME ARGV…``: run the group; the exit status.

    A workspace, the group set up, run and torn down, the report printed and
    the JSON document saved (the settings, the environment, then what the
    group's ``details`` adds).
    """
    args = parser(group_type, prog or f"python -m bench {name}", epilog).parse_args(argv)
    settings = settings_from(group_type, args)
    started = time.time()
    context = {**environment(), **group_type.versions()}
    with workspace(args.keep, args.workdir) as temp:
        group = group_type(Path(temp), settings, say)
        results = run_group(group)
    if results is None:
        return 1
    context["loadavg_at_end"] = os.getloadavg()
    print(report_text(group.head(context), results, group.tail()))
    document = {"settings": group.record(), "environment": context, **group.details()}
    return save_results(args.out or DEFAULT_OUT, name, started, document, results)


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
