"""The CDMI cases: omsh's CDMI endpoint against a bare aiohttp app, same clients.

``python -m bench cdmi`` starts, in the same run, an ``omsh serve`` with its
CDMI endpoint (store filled offline) and the bare app of
:mod:`bench.cdmi_reference`, both on loopback, and measures both with the
same load generator, runs interleaved:

``get 4k``       plain GET of a 4 KiB object, 32 connections (``wrk``):
                 requests/s vs the bare handler returning 4 KiB from memory;
``get 4k cdmi``  the same object read as CDMI JSON (``X-CDMI-Specification-Version``,
                 value in the body) vs the same bare handler;
``put 4k``       plain PUTs of 4 KiB to new names, 16 connections: objects
                 committed per second (counted in the container afterwards);
                 the bare app writing files is shown for scale;
``put 1g``       one plain PUT of SIZE bytes (``curl -T``) vs the bare app
                 writing the body to a file;
``get 1g``       one plain GET of SIZE bytes vs the bare app's ``FileResponse``;
``rss``          omsh's peak RSS over its idle RSS during the SIZE transfers.

omsh authenticates every request (HTTP Basic as admin; the verified
credentials are remembered, as for any client) and checks the ACL; the bare
app does neither, hashes nothing and never ``fsync``s.

Load generators: Debian's ``wrk`` (``apt-get install wrk``) for the 4 KiB
cases, falling back to a pool of aiohttp clients in this process if it is
missing (noted in the report; a Python client is slower, which narrows the
gaps); ``curl`` for the big transfers, or an aiohttp client without it.
Benchmarks report, they never assert: a missed target prints ``MISS``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import (
    MIB,
    BenchError,
    CaseResult,
    CaseSpec,
    MemoryWatch,
    Target,
    interleave,
    run_checked,
    write_random,
)
from bench.launcher import ServerProcess, generate_key, public_key_file
from bench.omsh_server import OmshServer
from bench.runner import Group, option, parse_size, positive
from omsh.store.database import ADMIN_USER

GIB = 1024 * MIB
SMALL = 4096
GET_CONNECTIONS = 32
PUT_CONNECTIONS = 16
TOP = "/bench"
_REFERENCE_READY = re.compile(r"reference listening on (http://[\d.]+:\d+/)")
_WRK_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b")
_WRK_FAILURES = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}

#: wrk script: PUT a 4 KiB body to a fresh name on every request.  The first
#: argument (after ``--``) makes names unique per run, math.random per thread.
PUT_SCRIPT = """
local counter = 0
local prefix = ""
local headers = {}
local body = string.rep("x", %d)
function init(args)
  prefix = args[1] .. "-" .. tostring(math.random(1, 1000000000)) .. "-"
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Content-Type"] = "application/octet-stream"
end
function request()
  counter = counter + 1
  return wrk.format("PUT", wrk.path .. prefix .. counter, headers, body)
end
"""


# -- settings and cases ------------------------------------------------------------


CASES = (
    CaseSpec(
        "get",
        "get 4k",
        f"plain GET of a 4 KiB object, {GET_CONNECTIONS} connections, vs a bare handler"
        " returning 4 KiB from memory",
        "req/s",
        Target(">=", 0.5),
    ),
    CaseSpec(
        "json",
        "get 4k cdmi",
        f"CDMI JSON GET of the same object (metadata and value in JSON),"
        f" {GET_CONNECTIONS} connections, vs the same bare handler",
        "req/s",
        Target(">=", 0.5),
    ),
    CaseSpec(
        "put",
        "put 4k",
        f"plain PUTs of 4 KiB to new names, {PUT_CONNECTIONS} connections: objects committed"
        " per second (reference: the bare app writing files, no fsync, for scale)",
        "obj/s",
        Target(">=", 1000),
        judged="median",
    ),
    CaseSpec(
        "put_big",
        "put 1g",
        "one plain PUT of {size_mib} MiB vs the bare app writing it to a file",
        "MiB/s",
        Target(">=", 0.7),
    ),
    CaseSpec(
        "get_big",
        "get 1g",
        "one plain GET of {size_mib} MiB vs the bare app's FileResponse",
        "MiB/s",
        Target(">=", 0.7),
    ),
    CaseSpec(
        "rss",
        "server RSS over idle",
        "omsh's peak RSS during the {size_mib} MiB PUTs and GETs, minus its idle RSS",
        "MiB",
        Target("<", 150),
        judged="max",
    ),
)
CASE_KEYS = tuple(case.key for case in CASES)


@dataclass(frozen=True)
class Settings:
    """What to run and how long."""

    runs: int = option(5, positive, "timed runs of the 4 KiB cases (5)", quick=2)
    seconds: float = option(5.0, float, "length of each 4 KiB run (5)", quick=2.0)
    big_runs: int = option(3, positive, "timed big transfers each way (3)", quick=1)
    size: int = option(GIB, parse_size, "big transfer size, e.g. 1G, 256M (1G)", quick=64 * MIB)
    cases: tuple[str, ...] = CASE_KEYS

    @property
    def placeholders(self) -> dict[str, str]:
        """What case descriptions may use."""
        return {"size_mib": f"{self.size / MIB:g}"}


# -- load generators -----------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """What a load run did: answers received, how long, how many were not 2xx."""

    requests: int
    seconds: float
    failures: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _wrk_load(output: str) -> Load:
    requests = _WRK_REQUESTS.search(output)
    if requests is None:
        raise BenchError(f"could not read wrk's output:\n{output[-500:]}")
    failures = _WRK_FAILURES.search(output)
    sockets = _WRK_SOCKET.search(output)
    failed = int(failures.group(1)) if failures else 0
    failed += sum(int(count) for count in sockets.groups()) if sockets else 0
    seconds = float(requests.group(2)) * _UNIT_SECONDS[requests.group(3)]
    return Load(int(requests.group(1)), seconds, failed)


class Wrk:
    """Debian's ``wrk``: one thread (the server gets the other CPUs), keep-alive."""

    label = "wrk"

    def __init__(self, script_dir: Path) -> None:
        self.put_script = script_dir / "put.lua"
        self.put_script.write_text(PUT_SCRIPT % SMALL, encoding="ascii")

    def run(
        self, url: str, connections: int, seconds: float, headers: dict[str, str], *, put: str = ""
    ) -> Load:
        """GET *url*, or PUT 4 KiB bodies to ``url + put + "-…"`` names if *put*."""
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
        for name, value in headers.items():
            argv += ["-H", f"{name}: {value}"]
        if put:
            argv += ["-s", str(self.put_script), url, "--", put]
        else:
            argv.append(url)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise BenchError(f"wrk failed: {done.stderr.strip()[-300:]}")
        return _wrk_load(done.stdout)


class ClientPool:
    """Without wrk: *connections* aiohttp clients in a loop in this process."""

    label = "aiohttp client pool (wrk is not installed)"

    def run(
        self, url: str, connections: int, seconds: float, headers: dict[str, str], *, put: str = ""
    ) -> Load:
        return asyncio.run(self._run(url, connections, seconds, headers, put))

    async def _run(
        self, url: str, connections: int, seconds: float, headers: dict[str, str], put: str
    ) -> Load:
        counts = {"done": 0, "failed": 0}
        body = b"x" * SMALL
        stop = time.perf_counter() + seconds
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

            async def client(number: int) -> None:
                serial = 0
                while time.perf_counter() < stop:
                    serial += 1
                    if put:
                        target = f"{url}{put}-{number}-{serial}"
                        request = session.put(target, data=body)
                    else:
                        request = session.get(url)
                    async with request as response:
                        await response.read()
                        counts["done"] += 1
                        counts["failed"] += response.status >= 300

            started = time.perf_counter()
            await asyncio.gather(*(client(number) for number in range(connections)))
            elapsed = time.perf_counter() - started
        return Load(counts["done"], elapsed, counts["failed"])


def transfer_argv(url: str, headers: dict[str, str], upload: Path | None) -> list[str] | None:
    """A ``curl`` command line for one big GET (or PUT of *upload*); None without curl."""
    curl = shutil.which("curl")
    if curl is None:
        return None
    argv = [curl, "-sS", "--fail", "-o", os.devnull, "-H", "Expect:"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    if upload is not None:
        argv += ["-T", str(upload), "-H", "Content-Type: application/octet-stream"]
    return [*argv, url]


async def _transfer(url: str, headers: dict[str, str], upload: Path | None) -> None:
    async with aiohttp.ClientSession(headers=headers) as session:
        if upload is not None:
            with upload.open("rb") as body:
                async with session.put(url, data=body) as response:
                    response.raise_for_status()
            return
        async with session.get(url) as response:
            response.raise_for_status()
            async for _ in response.content.iter_chunked(MIB):
                pass


def timed_transfer(url: str, headers: dict[str, str], upload: Path | None = None) -> float:
    """Seconds for one big transfer: curl if installed, else an aiohttp client."""
    argv = transfer_argv(url, headers, upload)
    if argv is not None:
        return run_checked(argv)
    started = time.perf_counter()
    try:
        asyncio.run(_transfer(url, headers, upload))
    except aiohttp.ClientError as exc:
        raise BenchError(f"transfer of {url} failed: {exc}") from None
    return time.perf_counter() - started


# -- the servers ----------------------------------------------------------------------


def _memory_dir() -> Path | None:
    """A fresh folder in tmpfs (``/dev/shm``) for the bare app's 4 KiB PUTs, if there is one.

    Thousands of small files written without ``fsync`` stay dirty in the
    page cache; on the disk omsh uses they would be written back during
    omsh's next runs and slow its ``fsync``s down.  In memory they disturb
    nothing.  (The big PUT goes to disk: that is what it is compared with.)
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="omsh-bench-", dir=shm))
    return None


class Reference(ServerProcess):
    """The bare aiohttp app of :mod:`bench.cdmi_reference`."""

    label = "bare aiohttp"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir / "reference.log")
        self.workdir = workdir
        self.uploads = workdir / "uploads"
        self.memory = _memory_dir()
        self.scratch = self.memory or workdir / "scratch"
        self.url = ""

    def stop(self) -> None:
        super().stop()
        if self.memory is not None:
            shutil.rmtree(self.memory, ignore_errors=True)

    def start(self, small: Path, big: Path) -> str:
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "bench.cdmi_reference",
            "--small",
            str(small),
            "--big",
            str(big),
            "--uploads",
            str(self.uploads),
            "--scratch",
            str(self.scratch),
        ]
        env = {
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),  # bench is no package
        }
        console = self.workdir / "reference.out"
        self.url = self.launch(argv, _REFERENCE_READY, console=console, env=env).group(1)
        return self.url


class CdmiBench(Group):
    """Both servers, the cases, the tear-down."""

    description = "omsh's CDMI endpoint vs a bare aiohttp app (needs wrk: apt-get install wrk)"
    quick_help = "2 x 2 s, 1 x 64 MiB"
    settings_type = Settings
    case_specs = CASES

    def __init__(self, workdir: Path, settings: Settings, say: Callable[[str], None]) -> None:
        super().__init__(workdir, settings, say)
        client_key = generate_key(workdir / "client_ed25519", "bench@cdmi")
        self.omsh = OmshServer(workdir / "omsh", public_key_file(client_key), cdmi=True)
        self.reference = Reference(workdir / "reference")
        self.small = workdir / "small.bin"
        self.big = workdir / "big.bin"
        self.load: Wrk | ClientPool = Wrk(workdir) if shutil.which("wrk") else ClientPool()
        self.memory = MemoryWatch()
        self.auth: dict[str, str] = {}
        self.notes: list[str] = []

    # -- set-up ---------------------------------------------------------------------

    def _write_sources(self) -> None:
        write_random(self.small, SMALL)
        write_random(self.big, self.settings.size)

    def setup(self) -> None:
        self.say(f"writing the sources (4 KiB, {self.settings.size / MIB:g} MiB)")
        self._write_sources()
        self.say("filling the omsh store offline")
        self.omsh.populate(
            containers=(TOP, f"{TOP}/puts"),
            objects={f"{TOP}/small": self.small, f"{TOP}/big": self.big},
        )
        self.say("starting omsh (CDMI) and the bare aiohttp app")
        self.omsh.start()
        self.reference.start(self.small, self.big)
        credentials = f"{ADMIN_USER}:{self.omsh.admin_password}".encode()
        self.auth = {"Authorization": "Basic " + base64.b64encode(credentials).decode()}
        for url, expected in ((self._omsh(f"{TOP}/small"), SMALL), (self._bare("small"), SMALL)):
            got = len(self._fetch(url))
            if got != expected:
                raise BenchError(f"GET {url} gave {got} bytes, not {expected}")
        if isinstance(self.load, ClientPool):
            self.notes.append(f"load generator: {self.load.label}")

    def teardown(self) -> None:
        self.omsh.stop()
        self.reference.stop()

    # -- helpers ----------------------------------------------------------------------

    def _omsh(self, path: str) -> str:
        return self.omsh.cdmi_url.rstrip("/") + path

    def _bare(self, path: str) -> str:
        return self.reference.url + path

    def _fetch(self, url: str, headers: dict[str, str] | None = None) -> bytes:
        async def get() -> bytes:
            async with (
                aiohttp.ClientSession(headers={**self.auth, **(headers or {})}) as session,
                session.get(url) as response,
            ):
                response.raise_for_status()
                return await response.read()

        return asyncio.run(get())

    def _children(self) -> int:
        """How many objects ``/bench/puts/`` holds (its ``cdmi_size``)."""
        body = self._fetch(
            self._omsh(f"{TOP}/puts/?metadata:cdmi_size"),
            {"X-CDMI-Specification-Version": "1.1.1"},
        )
        return int(json.loads(body)["metadata"]["cdmi_size"])

    @contextmanager
    def _sampled(self) -> Iterator[None]:
        """Record omsh's peak RSS over the block (its idle RSS first, once)."""
        self.memory.read_idle(self.omsh.pid)
        with self.memory.sampled(self.omsh.pid):
            yield

    def _rate(self, url: str, connections: int, headers: dict[str, str]) -> Callable[[], float]:
        def run() -> float:
            load = self.load.run(url, connections, self.settings.seconds, headers)
            if load.failures:
                raise BenchError(f"{load.failures} failed requests to {url}")
            return load.rate

        return run

    # -- the cases ---------------------------------------------------------------------

    def case_get(self, result: CaseResult, cdmi: bool = False) -> None:
        headers = {**self.auth, **({"X-CDMI-Specification-Version": "1.1.1"} if cdmi else {})}
        omsh = self._rate(self._omsh(f"{TOP}/small"), GET_CONNECTIONS, headers)
        bare = self._rate(self._bare("small"), GET_CONNECTIONS, self.auth)
        omsh(), bare()  # warm-up
        result.omsh, result.reference = interleave(self.settings.runs, omsh, bare)

    def case_json(self, result: CaseResult) -> None:
        self.case_get(result, cdmi=True)

    def case_put(self, result: CaseResult) -> None:
        serial = iter(range(1_000_000))

        def omsh() -> float:
            before = self._children()
            load = self.load.run(
                self._omsh(f"{TOP}/puts/o"),
                PUT_CONNECTIONS,
                self.settings.seconds,
                self.auth,
                put=f"r{next(serial)}",
            )
            committed = self._children() - before
            # Every 201 is a committed object; a few more may have been in
            # flight when the load stopped.
            if load.failures or committed < load.requests:
                raise BenchError(
                    f"{load.requests} PUTs answered, {load.failures} failed,"
                    f" {committed} objects committed"
                )
            return load.rate

        def bare() -> float:
            load = self.load.run(
                self._bare("scratch/o"),
                PUT_CONNECTIONS,
                self.settings.seconds,
                {},
                put=f"r{next(serial)}",
            )
            if load.failures:
                raise BenchError(f"{load.failures} failed PUTs to the bare app")
            return load.rate

        omsh(), bare()  # warm-up: threads, caches
        before = self._children()
        result.omsh, result.reference = interleave(self.settings.runs, omsh, bare)
        result.notes.append(
            f"the container held {before} objects before the timed runs and"
            f" {self._children()} after (a commit costs more as the catalog grows)"
        )

    def _throughput(self, seconds: float) -> float:
        return self.settings.size / MIB / seconds

    def case_put_big(self, result: CaseResult) -> None:
        def omsh() -> float:
            with self._sampled():
                return timed_transfer(self._omsh(f"{TOP}/upload"), self.auth, self.big)

        def bare() -> float:
            return timed_transfer(self._bare("upload/big"), {}, self.big)

        omsh(), bare()  # warm-up (and the idle RSS is read before it)
        stored = self._fetch(
            self._omsh(f"{TOP}/upload?metadata:cdmi_size"),
            {"X-CDMI-Specification-Version": "1.1.1"},
        )
        size = int(json.loads(stored)["metadata"]["cdmi_size"])
        if size != self.settings.size:
            raise BenchError(f"omsh stored {size} bytes, not {self.settings.size}")
        omsh_s, bare_s = interleave(self.settings.big_runs, omsh, bare)
        result.omsh = [self._throughput(s) for s in omsh_s]
        result.reference = [self._throughput(s) for s in bare_s]

    def case_get_big(self, result: CaseResult) -> None:
        def omsh() -> float:
            with self._sampled():
                return timed_transfer(self._omsh(f"{TOP}/big"), self.auth)

        def bare() -> float:
            return timed_transfer(self._bare("big"), {})

        omsh(), bare()
        omsh_s, bare_s = interleave(self.settings.big_runs, omsh, bare)
        result.omsh = [self._throughput(s) for s in omsh_s]
        result.reference = [self._throughput(s) for s in bare_s]

    def case_rss(self, result: CaseResult) -> None:
        self.memory.fill(result, "the put 1g or get 1g case")

    # -- the report ------------------------------------------------------------------------

    def head(self, context: dict[str, Any]) -> list[str]:
        settings = self.settings
        return [
            f"omsh CDMI vs a bare aiohttp app: medians of {settings.runs} runs of"
            f" {settings.seconds:g} s (4 KiB cases, load by {self.load.label}) and"
            f" {settings.big_runs} transfers of {settings.size / MIB:g} MiB, runs interleaved;"
            f" {context['cpus']} CPUs, load average {context['loadavg_at_start'][0]:.1f}"
            f" at start, {context['loadavg_at_end'][0]:.1f} at end",
        ]

    def tail(self) -> list[str]:
        return [f"note: {note}" for note in self.notes]

    def details(self) -> dict[str, Any]:
        return {"load_generator": self.load.label}
