"""Measurement plumbing shared by the benchmark cases.

Nothing here knows about SSH: it times child processes, interleaves two
contenders so that a noisy, shared machine hurts both alike, samples a
process's resident memory from ``/proc``, and turns medians into a table and
a report (:mod:`bench.runner` saves the JSON).
"""

from __future__ import annotations

import contextlib
import operator
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.launcher import LaunchError

MIB = 1024 * 1024

#: How a measured value is compared with its target.
_COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}


class BenchError(Exception):
    """A case could not be measured (a command failed, the answers were wrong)."""


#: What stops a case or a group's set-up without stopping the run.
NOT_MEASURED = (BenchError, LaunchError)


# -- the run's surroundings ----------------------------------------------------


def say(message: str) -> None:
    """A progress line on stderr, with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def output_of(argv: list[str]) -> str | None:
    """What a short command printed (stdout and stderr), or None if it could not run."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return None
    return (done.stdout + done.stderr).strip() or None


def load_line(context: dict[str, Any]) -> str:
    """The CPUs and the load averages at the start and end of a run (from :func:`environment`)."""

    def averages(key: str) -> str:
        return "/".join(f"{value:.1f}" for value in context[key])

    return (
        f"  machine: {context['cpus']} CPUs, load average (1/5/15 min)"
        f" {averages('loadavg_at_start')} at start, {averages('loadavg_at_end')}"
        " at end; other load slows the CPU-heavier side more"
    )


def negotiated_lines(negotiated: dict[str, dict[str, str]]) -> list[str]:
    """One line per server: the algorithms a real connection agreed on."""
    return [
        f"  {label:8} negotiated cipher {algorithms['cipher']} (MAC {algorithms['mac']}),"
        f" kex {algorithms['kex']}, host key {algorithms['host_key']}"
        for label, algorithms in negotiated.items()
    ]


def write_random(path: Path, size: int, chunk: int = 4 * MIB) -> None:
    """*size* random bytes at *path* (incompressible, so no transport can shortcut them)."""
    with path.open("wb") as out:
        remaining = size
        while remaining > 0:
            piece = os.urandom(min(chunk, remaining))
            out.write(piece)
            remaining -= len(piece)


# -- running and timing ------------------------------------------------------


def _failure(argv: Sequence[str], status: int, stderr: bytes) -> BenchError:
    tail = stderr.decode("utf-8", "replace").strip()[-500:]
    return BenchError(f"exit status {status} from {argv[-1]!r}: {tail}")


def run_checked(argv: Sequence[str], *, stdin: Path | None = None, timeout: float = 600) -> float:
    """Run *argv* to completion and return its wall time in seconds.

    Standard input comes from the file *stdin* (or is empty); standard output
    goes to ``/dev/null``.  A non-zero exit status is a :class:`BenchError`
    carrying the end of standard error.
    """
    with open(stdin or os.devnull, "rb") as source:
        started = time.perf_counter()
        try:
            done = subprocess.run(
                list(argv),
                stdin=source,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"timed out after {timeout:.0f}s: {' '.join(argv)}") from None
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise _failure(argv, done.returncode, done.stderr)
    return elapsed


def checked_output(argv: Sequence[str], *, timeout: float = 120) -> str:
    """What *argv* printed on standard output; a non-zero exit is a :class:`BenchError`."""
    try:
        done = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"timed out after {timeout:.0f}s: {' '.join(argv)}") from None
    if done.returncode != 0:
        raise _failure(argv, done.returncode, done.stderr)
    return done.stdout.decode("utf-8", "replace")


@dataclass(frozen=True)
class OutputCount:
    """How much a command printed: bytes and lines."""

    size: int
    lines: int


def count_output(argv: Sequence[str], *, stdin: Path | None = None) -> OutputCount:
    """Run *argv* and count its standard output as it streams (nothing is kept).

    Used for untimed warm-up runs, to check that the timed ones do real work.
    """
    size = lines = 0
    with (
        open(stdin or os.devnull, "rb") as source,
        subprocess.Popen(
            list(argv), stdin=source, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as process,
    ):
        assert process.stdout is not None and process.stderr is not None
        while chunk := process.stdout.read(1 << 20):
            size += len(chunk)
            lines += chunk.count(b"\n")
        errors = process.stderr.read()
    if process.returncode != 0:
        raise _failure(argv, process.returncode, errors)
    return OutputCount(size, lines)


def interleave(
    runs: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Call *first* and *second* *runs* times each, alternating which goes first.

    Alternating (ABBA…) spreads slow drifts of a shared machine (page cache,
    another tenant, thermal) evenly over both contenders.
    """
    firsts: list[float] = []
    seconds: list[float] = []
    for index in range(runs):
        if index % 2 == 0:
            firsts.append(first())
            seconds.append(second())
        else:
            seconds.append(second())
            firsts.append(first())
    return firsts, seconds


# -- memory -------------------------------------------------------------------


def read_memory(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of *pid* in bytes, from ``/proc/PID/status``."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024  # reported in kB
    return values


def reset_peak(pid: int) -> bool:
    """Reset *pid*'s ``VmHWM`` to its current RSS (``clear_refs`` 5); False if not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Peak resident memory of one process while a ``with`` block runs.

    The peak is the larger of the highest sampled ``VmRSS`` and, when the
    kernel let us reset it at the start, the process's ``VmHWM`` at the end
    (which also catches spikes shorter than the sampling interval).
    """

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._hwm_valid = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, read_memory(self.pid)["VmRSS"])
            except (OSError, KeyError):
                return  # the process is gone; the case will report why
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._hwm_valid = reset_peak(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._hwm_valid:
            with contextlib.suppress(OSError, KeyError):
                self.peak = max(self.peak, read_memory(self.pid)["VmHWM"])


def settled_rss(pid: int, pause: float = 0.5) -> int:
    """The RSS of an idle process: read after a short pause, once it has settled."""
    time.sleep(pause)
    return read_memory(pid)["VmRSS"]


@dataclass
class MemoryWatch:
    """A server's resident memory: idle (read once), and its peak in each sampled block."""

    idle: int | None = None
    peaks: list[int] = field(default_factory=list)

    def read_idle(self, pid: int) -> None:
        """The idle RSS, the first time only (before any transfer grew the heap)."""
        if self.idle is None:
            self.idle = settled_rss(pid)

    @contextlib.contextmanager
    def sampled(self, pid: int) -> Iterator[None]:
        """Record *pid*'s peak RSS over the block."""
        with RssSampler(pid) as sampler:
            yield
        self.peaks.append(sampler.peak)

    def fill(self, result: CaseResult, needs: str) -> None:
        """*result* gets each peak over idle, in MiB, and a note of both."""
        if self.idle is None or not self.peaks:
            raise BenchError(f"needs {needs} to sample memory")
        result.omsh = [(peak - self.idle) / MIB for peak in self.peaks]
        result.notes.append(
            f"idle RSS {self.idle / MIB:.1f} MiB, highest peak {max(self.peaks) / MIB:.1f} MiB"
        )


# -- results ------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A goal for one case: ``value <comparator> threshold``."""

    comparator: str
    threshold: float

    def met(self, value: float) -> bool:
        return _COMPARATORS[self.comparator](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.comparator} {self.threshold:g}"


@dataclass
class CaseResult:
    """The outcome of one case: samples of both sides and the judged figure."""

    name: str
    description: str
    unit: str
    target: Target
    #: What ``target`` is compared with: ``"ratio"`` (of the medians, omsh over
    #: reference) or ``"max"`` (the largest omsh sample, for a limit like memory).
    judged: str = "ratio"
    omsh: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def omsh_median(self) -> float | None:
        return statistics.median(self.omsh) if self.omsh else None

    @property
    def reference_median(self) -> float | None:
        return statistics.median(self.reference) if self.reference else None

    @property
    def ratio(self) -> float | None:
        """Ratio of the medians, omsh over reference."""
        ours, theirs = self.omsh_median, self.reference_median
        if ours is None or not theirs:
            return None
        return ours / theirs

    @property
    def omsh_figure(self) -> float | None:
        """The omsh number shown: the median, or the maximum for a ``"max"`` case."""
        if self.judged == "max":
            return max(self.omsh) if self.omsh else None
        return self.omsh_median

    @property
    def figure(self) -> float | None:
        """The number the target applies to."""
        return self.ratio if self.judged == "ratio" else self.omsh_figure

    @property
    def status(self) -> str:
        if self.error is not None or self.figure is None:
            return "ERROR"
        return "PASS" if self.target.met(self.figure) else "MISS"

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["target"] = str(self.target)
        document.update(
            omsh_median=self.omsh_median,
            omsh_figure=self.omsh_figure,
            reference_median=self.reference_median,
            ratio=self.ratio,
            status=self.status,
        )
        return document


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text} {unit}".rstrip()


def format_table(results: Sequence[CaseResult]) -> str:
    """A plain-text table: case, both medians, ratio, target, verdict."""
    header = ("case", "omsh median", "reference median", "ratio", "target", "result")
    rows = [header]
    for result in results:
        target = str(result.target)
        omsh = _number(result.omsh_figure, result.unit)
        if result.judged != "ratio":
            target = f"omsh {result.judged} {target} {result.unit}"
            omsh = f"{result.judged} {omsh}"
        rows.append(
            (
                result.name,
                omsh,
                _number(result.reference_median, result.unit),
                _number(result.ratio),
                target,
                result.status,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class CaseSpec:
    """A case as its group declares it: its key, how it is shown and judged.

    The key names it in ``--cases`` and its method ``case_KEY``; the
    description may use the group settings' ``placeholders``.
    """

    key: str
    name: str
    description: str
    unit: str
    target: Target
    judged: str = "ratio"
    notes: tuple[str, ...] = ()

    def result(self, settings: Any) -> CaseResult:
        """The case's empty result, its description filled in from *settings*."""
        description = self.description.format(**settings.placeholders)
        return CaseResult(
            self.name, description, self.unit, self.target, self.judged, notes=list(self.notes)
        )


def result_lines(results: Sequence[CaseResult]) -> list[str]:
    """Below a table: each case's description, notes and error."""
    lines = []
    for result in results:
        lines.append(f"{result.name}: {result.description}")
        lines += [f"  note: {note}" for note in result.notes]
        if result.error:
            lines.append(f"  error: {result.error}")
    return lines


def report_text(
    head: Sequence[str], results: Sequence[CaseResult], tail: Sequence[str] = ()
) -> str:
    """A group's report: *head* lines, the table, each case's lines, then *tail*."""
    return "\n".join([*head, "", format_table(results), "", *result_lines(results), *tail])
