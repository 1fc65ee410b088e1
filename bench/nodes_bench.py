"""The ``nodes`` group: several ``omsh serve`` nodes on one ZEO server (issue 14).

A ZEO server (``runzeo``, FileStorage with blobs, on 127.0.0.1) and 1, 2
and 4 nodes on it, each ``omsh serve --storage zeo://…`` with its own SSH
and CDMI ports and its own blob cache.  The same total number of writers
(asyncssh exec ``put`` and plain CDMI ``PUT``, spread evenly over the
nodes) stores PUTS objects of 4 KiB each into ONE container; the figure is
committed objects per second, and the report gives 2 and 4 nodes as ratios
of one, with the number of cores the run had (on two cores, the nodes and
the ZEO server share them: more nodes cannot be faster).

The cluster (:class:`ZeoServer`, :class:`Cluster`) and the writers
(:func:`write_load`) are what ``tests/test_nodes_e2e.py`` runs too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncssh

from bench.harness import BenchError, CaseResult, CaseSpec, Target
from bench.launcher import (
    HOST,
    OMSH,
    OmshProcess,
    ServerProcess,
    free_port,
    generate_key,
    public_key_file,
)
from bench.runner import Group, option, positive
from omsh.store.database import ADMIN_USER

RUNZEO = str(Path(sys.executable).with_name("runzeo"))
_ZEO_LISTENING = re.compile(r"listening on \('127\.0\.0\.1', (\d+)\)")
#: The configuration ``runzeo -C`` reads: FileStorage with blobs, on loopback.
ZEO_CONFIG = """\
<zeo>
  address {host}:{port}
</zeo>
<filestorage>
  path {data}
  blob-dir {blobs}
</filestorage>
"""


class ZeoServer(ServerProcess):
    """``runzeo`` on a free loopback port, with a FileStorage and blobs in ROOT.

    Run by this venv's Python, so omsh's classes are importable on the
    server: ZEO resolves write conflicts there (``_p_resolveConflict``).
    """

    label = "zeo"

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root / "zeo.log")
        self.root = root
        self.port = 0

    def start(self, timeout: float = 60.0) -> ZeoServer:
        self.port = free_port()
        config = self.root / "zeo.conf"
        config.write_text(
            ZEO_CONFIG.format(
                host=HOST, port=self.port, data=self.root / "Data.fs", blobs=self.root / "blobs"
            )
        )
        self.launch([RUNZEO, "-C", str(config)], _ZEO_LISTENING, timeout=timeout)
        return self

    def uri(self, blob_cache: Path) -> str:
        """The ``--storage`` of a node: this server, blobs sent over, cached in *blob_cache*."""
        return f"zeo://{HOST}:{self.port}?blob_dir={blob_cache}&shared_blob_dir=false"


class Cluster:
    """A ZEO server and NODES ``omsh serve`` nodes on it, all started by :meth:`start`.

    Every node lets admin in with the same client key and password; the
    first node to start creates the store.  *program* runs ``omsh`` (tests
    pass a cheaper password hashing).
    """

    def __init__(
        self,
        workdir: Path,
        nodes: int,
        *,
        password: str,
        program: Sequence[str] = (OMSH,),
        serve_args: Sequence[str] = ("--log-level", "WARNING"),
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.client_key = generate_key(workdir / "client_ed25519", "nodes@client")
        self.zeo = ZeoServer(workdir / "zeo")
        self.nodes: list[OmshProcess] = []
        for number in range(1, nodes + 1):
            node = OmshProcess(
                workdir / f"node{number}",
                public_key_file(self.client_key),
                serve_args=serve_args,
                program=program,
                env={"OMSH_ADMIN_PASSWORD": password},
            )
            self.nodes.append(node)

    def start(self) -> Cluster:
        self.zeo.start()
        for node in self.nodes:
            node.store_args = ("--storage", self.uri(node))
            node.start()
            (node.root / "known_hosts").write_text(node.known_hosts_line())
        return self

    def uri(self, node: OmshProcess) -> str:
        """*node*'s ``--storage``: the ZEO server, with a blob cache of its own."""
        return self.zeo.uri(node.root / "blob-cache")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.zeo.stop()

    async def connect(self, node: OmshProcess) -> asyncssh.SSHClientConnection:
        """An asyncssh connection to *node* as admin with the client key."""
        return await asyncssh.connect(
            HOST,
            node.port,
            username=ADMIN_USER,
            client_keys=[str(self.client_key)],
            known_hosts=str(node.root / "known_hosts"),
        )

    def basic_auth(self, password: str | None = None) -> str:
        credentials = f"{ADMIN_USER}:{password or self.password}".encode()
        return "Basic " + base64.b64encode(credentials).decode()


async def run_line(
    connection: asyncssh.SSHClientConnection, line: str, stdin: bytes = b""
) -> tuple[int, str, str]:
    """One exec channel: exit status, standard output and error."""
    process = await connection.create_process(line, encoding=None)
    process.stdin.write(stdin)
    process.stdin.write_eof()
    done = await process.wait()
    status = done.exit_status if done.exit_status is not None else -1
    out, err = bytes(done.stdout or b""), bytes(done.stderr or b"")
    return status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@dataclass
class Load:
    """What the writers did: names stored, failures as users saw them, and the time."""

    stored: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.stored) / self.seconds if self.seconds else 0.0


async def _ssh_writer(
    connection: asyncssh.SSHClientConnection,
    container: str,
    names: list[str],
    data: bytes,
    load: Load,
) -> None:
    for name in names:
        status, _, err = await run_line(connection, f"put {container}/{name}", data)
        if status == 0:
            load.stored.append(name)
        else:
            load.failures.append(f"ssh put {name}: exit {status}: {err.strip()}")


async def _cdmi_writer(
    cluster: Cluster, node: OmshProcess, container: str, names: list[str], data: bytes, load: Load
) -> None:
    headers = {
        "Authorization": cluster.basic_auth(),
        "Content-Type": "application/octet-stream",
    }
    async with aiohttp.ClientSession(base_url=f"http://{HOST}:{node.cdmi_port}") as session:
        for name in names:
            async with session.put(f"{container}/{name}", data=data, headers=headers) as reply:
                body = await reply.text()
            if reply.status in (201, 204):
                load.stored.append(name)
            else:
                load.failures.append(f"CDMI PUT {name}: {reply.status}: {body.strip()[:200]}")


async def write_load(
    cluster: Cluster,
    container: str,
    *,
    writers_per_node: int,
    puts_each: int,
    size: int,
    cdmi_writers_per_node: int,
    nodes: int | None = None,
) -> Load:
    """Every writer stores *puts_each* objects of *size* bytes into *container* at once.

    On each of the first *nodes* nodes (all by default), *writers_per_node*
    writers: the first *cdmi_writers_per_node* send plain CDMI PUTs over a
    keep-alive connection, the rest exec ``put`` over their own SSH
    connection.  Object names say node, writer and number, so each is
    written once.
    """
    load = Load()
    data = os.urandom(size)
    writers = []
    async with contextlib.AsyncExitStack() as connections:
        for number, node in enumerate(cluster.nodes[:nodes], 1):
            for writer in range(writers_per_node):
                names = [f"n{number}-w{writer}-{put:04d}" for put in range(puts_each)]
                if writer < cdmi_writers_per_node:
                    writers.append(_cdmi_writer(cluster, node, container, names, data, load))
                else:  # logged in one after another: a server caps logins under way
                    connection = await connections.enter_async_context(await cluster.connect(node))
                    writers.append(_ssh_writer(connection, container, names, data, load))
        started = time.perf_counter()
        await asyncio.gather(*writers)
        load.seconds = time.perf_counter() - started
    return load


# -- the bench group -----------------------------------------------------------

CASES = (
    CaseSpec(
        "nodes",
        "4 KiB puts/s: 1, 2, 4 nodes",
        "{clients} clients in all ({cdmi} of them CDMI), {puts} puts of 4 KiB each,"
        " into one container, on 1, 2 and 4 nodes of one ZEO server",
        "objects/s",
        Target(">=", 1.5),
    ),
)


@dataclass(frozen=True)
class Settings:
    clients: int = option(16, positive, "writers in all, spread over the nodes (16)")
    puts: int = option(60, positive, "puts per writer (60)", quick=10)
    cases: tuple[str, ...] = tuple(case.key for case in CASES)

    @property
    def placeholders(self) -> dict[str, Any]:
        return {"clients": self.clients, "cdmi": self.clients // 4, "puts": self.puts}


#: Node counts compared; each run starts a fresh cluster (an empty store).
NODE_COUNTS = (1, 2, 4)


class NodesBench(Group):
    """Fresh clusters of 1, 2 and 4 nodes, the same writers on each."""

    description = "nodes: 4 KiB puts/s into one container from 1, 2 and 4 nodes on one ZEO server"
    quick_help = "10 puts per writer"
    settings_type = Settings
    case_specs = CASES

    #: Objects per second by number of nodes, filled in by the case.
    rates: dict[int, float]

    def setup(self) -> None:
        self.rates = {}
        for tool in (RUNZEO, OMSH):
            if not Path(tool).exists():
                raise BenchError(f"{tool} is not installed")

    def teardown(self) -> None:
        """Each run stops its own cluster."""

    def _measure(self, nodes: int) -> float:
        cluster = Cluster(self.workdir / f"cluster{nodes}", nodes, password="bench-nodes")
        try:
            cluster.start()
            first = cluster.nodes[0]

            async def run() -> Load:
                async with await cluster.connect(first) as connection:
                    status, _, err = await run_line(connection, "mkdir /box")
                    if status != 0:
                        raise BenchError(f"mkdir /box: {err}")
                per_node = self.settings.clients // nodes
                return await write_load(
                    cluster,
                    "/box",
                    writers_per_node=per_node,
                    puts_each=self.settings.puts,
                    size=4096,
                    cdmi_writers_per_node=max(per_node // 4, 0),
                )

            load = asyncio.run(run())
        finally:
            cluster.stop()
        if load.failures:
            raise BenchError(f"{len(load.failures)} writes failed, first: {load.failures[0]}")
        self.say(f"{nodes} node(s): {len(load.stored)} objects in {load.seconds:.1f} s")
        return load.rate

    def case_nodes(self, result: CaseResult) -> None:
        for nodes in NODE_COUNTS:
            self.rates[nodes] = self._measure(nodes)
        one = self.rates[1]
        result.reference.append(one)
        result.omsh.append(self.rates[2])
        result.notes.append(
            ", ".join(
                f"{n} node(s): {rate:.0f}/s ({rate / one:.2f} x one node)"
                for n, rate in self.rates.items()
            )
            + f"; {os.cpu_count()} cores shared by the ZEO server, the nodes and the clients"
        )

    def head(self, context: dict[str, Any]) -> list[str]:
        return [
            f"{self.settings.clients} writers in all, one ZEO server, 1 vs 2 vs 4 nodes;"
            f" omsh = 2 nodes, reference = 1 node; {os.cpu_count()} cores",
        ]

    def details(self) -> dict[str, Any]:
        return {"rates": getattr(self, "rates", {}), "cores": os.cpu_count()}
