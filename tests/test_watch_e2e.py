"""``watch`` end to end: OpenSSH ``ssh`` and CDMI's ``/cdmi_changes`` against a real server.

A replay (``watch --until-now --since TXN --json``) parsed from ``ssh``; a
live ``watch --json`` receiving the puts another ``ssh`` client makes, then
killed, and one ended by Ctrl-C typed under ``ssh -tt``; the CDMI feed read
as server-sent events over HTTP, replayed and live.
"""

from __future__ import annotations

import http.client
import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import IO

import pytest

from tests.cdmi_http import CdmiClient, basic
from tests.e2e import ADMIN_PASSWORD, OmshServer
from tests.terminal import Terminal

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[OmshServer]:
    server = OmshServer(tmp_path_factory.mktemp("omsh-watch")).start()
    server.add_users({"alice": [], "bob": []})
    yield server
    server.stop()


def last_txn(served: OmshServer, path: str = "/") -> str:
    """The newest transaction, as ``watch --until-now`` reports it."""
    result = served.ssh(f"watch --json --until-now {path}")
    assert result.status == 0, result.err
    return json.loads(result.out.splitlines()[-1])["until"]


#: What the server logs when a session finds its client gone.
ENDED = "session of alice ended early: connection closed by client"


def lines_of(stream: IO[bytes]) -> queue.Queue[bytes]:
    """Lines read from *stream* by a thread, as they come."""
    found: queue.Queue[bytes] = queue.Queue()

    def pump() -> None:
        for line in iter(stream.readline, b""):
            found.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return found


def test_a_replay_over_ssh(served) -> None:
    start = last_txn(served)
    assert served.ssh("put /home/alice/a", stdin=b"one", user="alice").status == 0
    assert served.ssh("set-meta /home/alice/a k=v", user="alice").status == 0
    assert served.ssh("mv /home/alice/a /home/alice/b", user="alice").status == 0
    assert served.ssh("rm /home/alice/b", user="alice").status == 0
    result = served.ssh(f"watch --until-now --since {start} --json /home/alice", user="alice")
    assert result.status == 0, result.err
    documents = [json.loads(line) for line in result.out.splitlines()]
    assert [(d["event"], d["path"], d["user"]) for d in documents[:-1]] == [
        ("created", "/home/alice/a", "alice"),
        ("metadata", "/home/alice/a", "alice"),
        ("moved", "/home/alice/b", "alice"),
        ("removed", "/home/alice/b", "alice"),
    ]
    assert list(documents[-1]) == ["until"] and documents[-1]["until"] >= documents[-2]["txn"]
    # bob may not see alice's home: nothing but where to resume from.
    hidden = served.ssh(f"watch --until-now --since {start} --json", user="bob")
    assert hidden.status == 0
    assert [list(json.loads(line)) for line in hidden.out.splitlines()] == [["until"]]
    everything = served.ssh("watch --until-now --since 0000000000000001", user="alice")
    assert everything.status == 0  # before the first transaction: all of it is kept
    bad = served.ssh("watch --since nope", user="alice")
    assert (bad.status, bad.err) == (
        2,
        "omsh: watch: --since nope: give a transaction id as history prints it (16 hex digits)\n",
    )


def test_a_live_watch_receives_puts_from_another_client_then_is_killed(served) -> None:
    ended_before = served.log.read_text().count(ENDED)
    watcher = subprocess.Popen(
        [*served.ssh_argv(user="alice"), "watch --json /home/alice"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        lines = lines_of(watcher.stdout)
        time.sleep(2.5)  # following, and idle long enough to probe its live client
        for name in ("x", "y", "z"):
            assert served.ssh(f"put /home/alice/{name}", stdin=b"1", user="alice").status == 0
        events = [json.loads(lines.get(timeout=10)) for _ in range(3)]
        assert [(e["event"], e["path"]) for e in events] == [
            ("created", f"/home/alice/{name}") for name in ("x", "y", "z")
        ]
        assert watcher.poll() is None  # still following
    finally:
        watcher.kill()
        watcher.wait(10)
    # Idle, the watch finds its client gone within a second or so and ends its session.
    deadline = time.monotonic() + 10
    while served.log.read_text().count(ENDED) == ended_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served.log.read_text().count(ENDED) == ended_before + 1
    assert served.ssh("rm /home/alice/x /home/alice/y /home/alice/z", user="alice").status == 0


def test_ctrl_c_under_ssh_tt_ends_a_watch_with_130(served) -> None:
    watcher = subprocess.Popen(
        [*served.ssh_argv("-tt", user="alice"), "watch /home/alice"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        lines = lines_of(watcher.stdout)
        time.sleep(1.0)
        assert served.ssh("put /home/alice/c", stdin=b"1", user="alice").status == 0
        assert b"created  /home/alice/c" in lines.get(timeout=10)
        assert watcher.stdin is not None
        watcher.stdin.write(b"\x03")
        watcher.stdin.flush()
        assert watcher.wait(10) == 130
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(10)


def test_watch_in_the_interactive_shell_is_never_paged_and_stops_at_ctrl_c(
    served, tmp_path
) -> None:
    """More events than the screen has rows go by as they come (no pager holds them)."""
    assert served.ssh("mkdir /live").status == 0
    terminal = Terminal(served.ssh_argv("-tt"), tmp_path)
    try:
        terminal.wait_for("admin@omsh:/$")
        terminal.type("watch /live")
        terminal.press("Enter")
        time.sleep(1.0)
        names = " ".join(f"/live/n{index:02d}" for index in range(40))
        assert served.ssh(f"mkdir {names}").status == 0
        terminal.wait_for("created  /live/n39")
        terminal.press("C-c")
        terminal.wait_for("^C\nadmin@omsh:/$")
    finally:
        terminal.close()


def open_feed(served: OmshServer, query: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", served.cdmi_port, timeout=30)
    connection.request(
        "GET", f"/cdmi_changes?{query}", headers={"Authorization": basic("admin", ADMIN_PASSWORD)}
    )
    return connection.getresponse()


def server_sent_events(response: http.client.HTTPResponse) -> Iterator[dict[str, str]]:
    """Each event's fields (``id``, ``event``, ``data``) as the stream delivers them."""
    fields: dict[str, str] = {}
    for raw in iter(response.readline, b""):
        line = raw.decode().rstrip("\n")
        if not line:
            if fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


def test_cdmi_feed_as_server_sent_events(served) -> None:
    cdmi = CdmiClient(served.cdmi_url)
    start = last_txn(served)
    assert cdmi.put_container("/feed/").status == 201
    assert cdmi.put_plain("/feed/a", b"1", "text/plain").status == 201
    replay = open_feed(served, f"since={start}&until=now&path=/feed")
    assert replay.status == 200
    assert replay.getheader("Content-Type") == "text/event-stream"
    events = list(server_sent_events(replay))
    changes = [json.loads(event["data"]) for event in events[:-1]]
    assert [(c["event"], c["path"]) for c in changes] == [
        ("created", "/feed"),
        ("created", "/feed/a"),
    ]
    assert [event["id"] for event in events[:-1]] == [c["txn"] for c in changes]
    assert events[-1]["event"] == "until"
    assert json.loads(events[-1]["data"]) == {"until": changes[-1]["txn"]}

    live = open_feed(served, "path=/feed")
    stream = server_sent_events(live)
    for name in ("b", "c"):
        assert cdmi.put_plain(f"/feed/{name}", b"2", "text/plain").status == 201
    got = [json.loads(next(stream)["data"]) for _ in range(2)]
    assert [(c["event"], c["path"]) for c in got] == [
        ("created", "/feed/b"),
        ("created", "/feed/c"),
    ]
    live.close()

    assert open_feed(served, "since=xyz").status == 400
    assert open_feed(served, "path=/nothing-here").status == 404
    assert open_feed(served, "bogus=1").status == 400
    # Advertised, as CDMI clients discover extensions.
    admin = CdmiClient(served.cdmi_url)
    assert admin.read("/cdmi_capabilities/")["capabilities"]["omsh_changes"] == "true"
    containers = admin.read("/cdmi_capabilities/container/")["capabilities"]
    assert containers["omsh_query_metadata"] == "true"
    anonymous = CdmiClient(served.cdmi_url, user=None)
    reply = anonymous.get(f"/cdmi_changes?since={start}&until=now", cdmi=False)
    assert reply.status == 200  # anonymous sees nothing of a private store
    assert reply.body.startswith(b'event: until\ndata: {"until": "')
    assert reply.body.count(b"\n\n") == 1
