"""Several ``omsh serve`` nodes on one ZEO server, many writers into one container (issue 14).

A real ``runzeo`` (FileStorage with blobs, omsh importable: ZEO resolves
conflicts on the server) and four real nodes, each with its own SSH and
CDMI port and blob cache.  Eight writers per node, six over asyncssh exec
``put`` and two with plain CDMI PUTs, store 60 small objects each into ONE
container at the same time.  No error may reach a writer, every object
must be there once, and every node's catalog must count them exactly; the
store checks clean.  Then a password changed on one node must hold on
another's CDMI endpoint at the very next request, and failed logins on one
node must slow down guesses on another.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bench.launcher import HOST, OMSH, OmshProcess
from bench.nodes_bench import RUNZEO, Cluster, run_line, write_load
from tests.e2e import _CHEAP_HASHING, ADMIN_PASSWORD, run

NODES = 4
WRITERS_PER_NODE = 8
CDMI_WRITERS_PER_NODE = 2
PUTS_EACH = 60
TOTAL = NODES * WRITERS_PER_NODE * PUTS_EACH
_RECORD = re.compile(r"class ([\w.]+)")

pytestmark = pytest.mark.skipif(not Path(RUNZEO).exists(), reason="runzeo is not installed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster(
        tmp_path_factory.mktemp("nodes"),
        NODES,
        password=ADMIN_PASSWORD,
        program=(sys.executable, "-c", _CHEAP_HASHING),
        serve_args=("--log-level", "INFO"),
    )
    try:
        yield started.start()
    finally:
        started.stop()


async def _everywhere(cluster: Cluster, line: str) -> list[tuple[int, str, str]]:
    """*line* run on every node, over one asyncssh connection each."""
    outcomes = []
    for node in cluster.nodes:
        async with await cluster.connect(node) as connection:
            outcomes.append(await run_line(connection, line))
    return outcomes


def test_many_writers_on_many_nodes_into_one_container(cluster: Cluster) -> None:
    async def scenario() -> tuple[list[str], list[str], list[tuple[int, str, str]]]:
        async with await cluster.connect(cluster.nodes[0]) as connection:
            assert (await run_line(connection, "mkdir /box"))[0] == 0
        load = await write_load(
            cluster,
            "/box",
            writers_per_node=WRITERS_PER_NODE,
            puts_each=PUTS_EACH,
            size=512,
            cdmi_writers_per_node=CDMI_WRITERS_PER_NODE,
        )
        counts = await _everywhere(cluster, "query \"path LIKE '/box/%'\" --count")
        return load.stored, load.failures, counts

    started = time.monotonic()
    stored, failures, counts = asyncio.run(scenario())
    print(
        f"{TOTAL} puts on {NODES} nodes in {time.monotonic() - started:.1f} s;"
        f" retried after a conflict: {_conflicts(cluster)}"
    )
    assert failures == []
    assert len(stored) == len(set(stored)) == TOTAL
    for status, out, err in counts:
        assert (status, out.strip()) == (0, str(TOTAL)), err

    async def after() -> list[tuple[int, str, str]]:
        async with await cluster.connect(cluster.nodes[-1]) as connection:
            listing = await run_line(connection, "ls /box")
            size = await run_line(connection, "query \"path = '/box'\" --select cdmi_size --json")
            check = await run_line(connection, "check")
        return [listing, size, check]

    listing, size, check = asyncio.run(after())
    assert listing[0] == 0
    assert sorted(listing[1].split()) == sorted(stored)
    assert size[0] == 0 and f'"cdmi_size": {TOTAL}' in size[1]
    assert check[0] == 0, check
    # The offline check, as an operator runs it against the same ZEO server.
    offline = run([OMSH, "check", "--storage", cluster.uri(cluster.nodes[0])], timeout=120)
    assert offline.status == 0, offline.err


def _conflicts(cluster: Cluster) -> dict[str, int]:
    """How many retries each kind of record caused, from the nodes' logs."""
    kinds: Counter[str] = Counter()
    for node in cluster.nodes:
        for line in node.log.read_text(errors="replace").splitlines():
            if "conflict on attempt" in line:
                found = _RECORD.search(line)
                kinds[found.group(1) if found else "read conflict"] += 1
    return dict(kinds.most_common())


def test_a_password_changed_on_one_node_holds_on_another_at_once(cluster: Cluster) -> None:
    first, second = cluster.nodes[0], cluster.nodes[1]
    new_password = "changed-on-node-1"

    async def scenario() -> list[int]:
        url = f"http://{HOST}:{second.cdmi_port}/"
        headers = {"X-CDMI-Specification-Version": "1.1.1"}
        statuses = []
        async with aiohttp.ClientSession() as session:

            async def status_with(password: str) -> int:
                auth = {"Authorization": cluster.basic_auth(password), **headers}
                async with session.get(url, headers=auth) as reply:
                    await reply.read()
                    return reply.status

            statuses.append(await status_with(ADMIN_PASSWORD))  # remembered by node 2
            async with await cluster.connect(first) as connection:
                # An administrator is not asked for the current password.
                changed = await run_line(connection, "passwd", f"{new_password}\n".encode())
                assert changed[0] == 0, changed
            statuses.append(await status_with(ADMIN_PASSWORD))
            statuses.append(await status_with(new_password))
            async with await cluster.connect(second) as connection:
                back = await run_line(connection, "passwd", f"{ADMIN_PASSWORD}\n".encode())
                assert back[0] == 0, back
        return statuses

    assert asyncio.run(scenario()) == [200, 401, 200]


def test_failed_logins_on_one_node_slow_down_guesses_on_another(cluster: Cluster) -> None:
    """Last in the module: it leaves 127.0.0.1 throttled on every node."""
    first, second = cluster.nodes[0], cluster.nodes[2]

    async def guess(session: aiohttp.ClientSession, node: OmshProcess) -> float:
        started = time.monotonic()
        headers = {
            "Authorization": cluster.basic_auth("wrong"),
            "X-CDMI-Specification-Version": "1.1.1",
        }
        async with session.get(f"http://{HOST}:{node.cdmi_port}/", headers=headers) as reply:
            await reply.read()
            assert reply.status == 401
        return time.monotonic() - started

    async def scenario() -> float:
        async with aiohttp.ClientSession() as session:
            for _ in range(5):  # three free, then 0.25 s and 0.5 s
                await guess(session, first)
            return await guess(session, second)

    # Five failures counted in the store: node 3 waits 0.25 s x 2**(5 - 3) before answering.
    assert asyncio.run(scenario()) >= 0.9
