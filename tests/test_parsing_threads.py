"""Command lines parsed in many worker threads at once (sessions run in parallel)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from omsh.commands.base import parse_arguments
from omsh.commands.checksums import Md5Sum
from omsh.commands.words import Word


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    """Switch threads as often as possible, so a race shows in a short test."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(saved)


def test_the_same_command_parsed_in_parallel_keeps_its_arguments(eager_thread_switches):
    """argparse's intermixed parsing changes the shared parser while it runs:
    unguarded, a parallel parse lost its path ("unrecognized arguments")."""

    def parse_many(worker: int) -> None:
        for _ in range(300):
            path = f"/a/file {worker}"
            assert parse_arguments(Md5Sum, [Word(path)]).paths == [path]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(parse_many, range(8)))
