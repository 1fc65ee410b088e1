"""The ``watch`` case: latency from a commit to its event at a running ``watch`` (issue 13).

One ``omsh serve`` (SSH and CDMI), a store filled offline with ``/w``.  An
OpenSSH ``ssh admin@omsh 'watch --json /w'`` runs for the whole case; a
thread reads its lines and notes when each arrived.  Then, one at a time,
EVENTS objects are stored and each event waited for before the next:

``ssh``   ``ssh admin@omsh 'put /w/sN'`` (an exec ``put``: a new connection each);
``cdmi``  a plain ``PUT /cdmi/w/cN`` over one keep-alive HTTP connection.

Latency is the event's arrival minus its transaction's time (the event's
``time``, from the transaction id: when the commit was stamped), both on
this machine's clock: commit to event, whatever the writer's connection
cost.  The figure is the median; p95 and the maximum are in the notes.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import queue
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench.harness import BenchError, CaseResult, CaseSpec, Target
from bench.launcher import HOST, generate_key, need, openssh_options, public_key_file
from bench.omsh_server import OmshServer
from bench.runner import Group, option, positive
from omsh.store.database import ADMIN_USER

TOP = "/w"
TARGET = Target("<=", 100)
#: Seconds an event may take before the case gives up.
EVENT_TIMEOUT = 10.0

CASES = (
    CaseSpec(
        "ssh",
        "ssh put → watch",
        "commit of an exec `put` to its event at `watch --json` over SSH, {events} events",
        "ms",
        TARGET,
        judged="median",
    ),
    CaseSpec(
        "cdmi",
        "cdmi PUT → watch",
        "commit of a plain CDMI PUT to its event at `watch --json` over SSH, {events} events",
        "ms",
        TARGET,
        judged="median",
    ),
)


@dataclass(frozen=True)
class Settings:
    events: int = option(200, positive, "events timed per case (200)", quick=20)
    cases: tuple[str, ...] = tuple(case.key for case in CASES)

    @property
    def placeholders(self) -> dict[str, Any]:
        return {"events": self.events}


def _arrivals(stream: IO[bytes], found: queue.Queue[tuple[float, dict[str, Any]]]) -> None:
    """Each JSON line of *stream* with the moment it was read."""
    for line in iter(stream.readline, b""):
        found.put((time.time(), json.loads(line)))


class WatchBench(Group):
    """One server, one ``watch`` over SSH, writes over SSH and CDMI."""

    description = "watch: latency from a commit (ssh put, CDMI PUT) to the event over SSH"
    quick_help = "20 events per case"
    settings_type = Settings
    case_specs = CASES

    def __init__(self, workdir: Path, settings: Settings, say: Any) -> None:
        super().__init__(workdir, settings, say)
        self.key = generate_key(workdir / "client_ed25519", "bench@watch")
        self.omsh = OmshServer(workdir / "omsh", public_key_file(self.key), cdmi=True)
        self.watcher: subprocess.Popen[bytes] | None = None
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()

    def _ssh(self, *command: str) -> list[str]:
        known_hosts = self.workdir / "known_hosts"
        known_hosts.write_text(self.omsh.known_hosts_line())
        options = openssh_options(known_hosts, self.key)
        return [need("ssh"), "-p", str(self.omsh.port), *options, f"{ADMIN_USER}@{HOST}", *command]

    def setup(self) -> None:
        self.say("filling the store offline")
        self.omsh.populate(containers=(TOP,), objects={})
        self.omsh.start()
        self.watcher = subprocess.Popen(
            self._ssh(f"watch --json {TOP}"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=(self.workdir / "watch.err").open("wb"),
        )
        assert self.watcher.stdout is not None
        threading.Thread(
            target=_arrivals, args=(self.watcher.stdout, self.events), daemon=True
        ).start()
        # watch starts at now: it follows once the event of a put made after it comes.
        for attempt in range(30):
            self._put_ssh(f"{TOP}/ready{attempt}")
            with contextlib.suppress(BenchError):
                self._latency(f"{TOP}/ready{attempt}", timeout=1.0)
                return
        raise BenchError("watch --json showed no event")

    def teardown(self) -> None:
        if self.watcher is not None:
            self.watcher.kill()
            self.watcher.wait(10)
        self.omsh.stop()

    def _put_ssh(self, path: str) -> None:
        done = subprocess.run(self._ssh(f"put {path}"), input=b"x", capture_output=True, timeout=60)
        if done.returncode != 0:
            raise BenchError(f"put {path} failed: {done.stderr.decode(errors='replace')}")

    def _latency(self, path: str, timeout: float = EVENT_TIMEOUT) -> float:
        """Milliseconds from the commit that created *path* to its event's arrival."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                arrived, event = self.events.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise BenchError(f"no event for {path} within {timeout:g} s") from None
            if event.get("path") == path and event.get("event") == "created":
                return (arrived - float(event["time"])) * 1000

    def _measure(self, result: CaseResult, write: Any, prefix: str) -> None:
        for number in range(self.settings.events):
            path = f"{TOP}/{prefix}{number}"
            write(path)
            result.omsh.append(self._latency(path))
        samples = sorted(result.omsh)
        p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
        result.notes.append(
            f"median {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms,"
            f" max {samples[-1]:.1f} ms over {len(samples)} events"
        )

    def case_ssh(self, result: CaseResult) -> None:
        self._measure(result, self._put_ssh, "s")

    def case_cdmi(self, result: CaseResult) -> None:
        credentials = f"{ADMIN_USER}:{self.omsh.admin_password}".encode()
        headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
            "Content-Type": "application/octet-stream",
        }
        connection = http.client.HTTPConnection(HOST, self.omsh.cdmi_port, timeout=30)

        def put(path: str) -> None:
            connection.request("PUT", path, body=b"x", headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                raise BenchError(f"PUT {path}: {response.status}")

        try:
            self._measure(result, put, "c")
        finally:
            connection.close()

    def head(self, context: dict[str, Any]) -> list[str]:
        return [
            "latency from a commit to its event at a running `ssh omsh 'watch --json /w'`"
            f" (OpenSSH), {self.settings.events} events per case, one write at a time",
        ]
