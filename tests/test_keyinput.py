"""Typeahead, unit tests: keystrokes are kept until a prompt reads them.

:class:`~omsh.ssh.keyinput.ChannelKeys` holds them for prompt_toolkit; the
pager hands back what follows the key that quits it.
"""

from __future__ import annotations

import asyncio

from prompt_toolkit import PromptSession
from prompt_toolkit.data_structures import Size
from prompt_toolkit.key_binding import KeyPress
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import DummyOutput

from omsh.ssh import keyinput
from omsh.ssh.keyinput import ChannelKeys
from omsh.ssh.pager import TerminalPager


def prompt(keys: ChannelKeys) -> PromptSession[str]:
    return PromptSession(input=keys, output=DummyOutput())


def test_keys_typed_before_and_between_prompts_are_read_in_order():
    async def scenario() -> list[str]:
        keys = ChannelKeys()
        session = prompt(keys)
        keys.send_text("first\rsec")  # before any prompt runs
        lines = [await session.prompt_async("$ ")]
        keys.send_text("ond\rthird\r")  # between two prompts
        lines.append(await session.prompt_async("$ "))
        lines.append(await session.prompt_async("$ "))
        return lines

    assert asyncio.run(scenario()) == ["first", "second", "third"]


def test_keys_sent_while_a_prompt_waits_reach_it():
    async def scenario() -> str:
        keys = ChannelKeys()
        answer = asyncio.ensure_future(prompt(keys).prompt_async("$ "))
        await asyncio.sleep(0.05)
        for key in "late\r":
            keys.send_text(key)
        return await asyncio.wait_for(answer, 5)

    assert asyncio.run(scenario()) == "late"


def test_end_of_input_comes_after_what_was_typed():
    async def scenario() -> tuple[str, bool]:
        keys = ChannelKeys()
        session = prompt(keys)
        keys.send_text("last\r")
        keys.close()
        line = await session.prompt_async("$ ")
        try:
            await session.prompt_async("$ ")
        except EOFError:
            return line, True
        return line, False

    assert asyncio.run(scenario()) == ("last", True)


def test_sending_never_blocks_and_nothing_is_dropped():
    keys = ChannelKeys()
    keys.send_text("x" * 1_000_000)  # far beyond a pipe's 64 KiB, nobody reading
    keys.send_text("\x1b[A")
    assert len(keys.pending) == 1_000_003
    read = keys.read_keys()
    assert len(read) == 1_000_001
    assert read[-1] == KeyPress(Keys.Up, "\x1b[A")
    assert keys.pending == ""


def test_a_lone_escape_waits_for_flush():
    keys = ChannelKeys()
    keys.send_text("\x1b")
    assert keys.read_keys() == []  # it may start an arrow key's sequence
    assert keys.flush_keys() == [KeyPress(Keys.Escape, "\x1b")]


def test_keys_after_the_one_that_quits_the_pager_are_handed_back():
    async def scenario() -> tuple[str, str]:
        loop = asyncio.get_running_loop()
        pager = TerminalPager(loop, lambda _: None, lambda: Size(rows=10, columns=20))
        sink = pager.attach(lambda _: None)

        def long() -> None:
            with pager.page():
                for number in range(1000):
                    sink(f"line {number}\r\n".encode())

        finished = loop.run_in_executor(None, long)
        while not pager.showing:
            await asyncio.sleep(0.01)
        kept = pager.feed_keys(" j")  # the pager's keys, all of them
        after = pager.feed_keys("jq" + "ls\r\x1b[")  # a partial sequence is passed on too
        await asyncio.wait_for(finished, 5)
        return kept, after

    assert asyncio.run(scenario()) == ("", "ls\r\x1b[")


def test_discard_drops_all_typeahead_even_what_a_prompt_read_past_its_enter():
    async def scenario() -> list[str]:
        keys = ChannelKeys()
        session = prompt(keys)
        keys.send_text("one\rtwo\r")  # a prompt reads both; "two" waits for the next one
        lines = [await session.prompt_async("$ ")]
        keys.send_text("thr")
        keys.discard()  # Ctrl-C while "one" runs
        keys.send_text("four\r")
        lines.append(await session.prompt_async("$ "))
        return lines

    assert asyncio.run(scenario()) == ["one", "four"]


def test_at_the_command_prompt_keys_after_a_tab_wait_for_its_completion(monkeypatch):
    """A Tab is read on its own; what follows waits for tab_done (or the time limit)."""

    async def scenario() -> tuple[list[list[str]], list[str], bool]:
        keys = ChannelKeys()
        keys.tab_completes = True
        keys.send_text("pw\tx\ty")
        batches = [[key.data for key in keys.read_keys()]]
        batches.append([key.data for key in keys.read_keys()])  # held: nothing yet
        assert keys.pending == "x\ty"
        keys.tab_done()
        batches.append([key.data for key in keys.read_keys()])  # up to the next Tab
        keys.tab_done()
        batches.append([key.data for key in keys.read_keys()])  # the rest: no Tab in it
        monkeypatch.setattr(keyinput, "TAB_WAIT_LIMIT", 0.01)
        keys.send_text("\tw")
        batches.append([key.data for key in keys.read_keys()])
        await asyncio.sleep(0.1)  # no tab_done: the time limit lets "w" through
        late = [key.data for key in keys.read_keys()]
        keys.send_text("\tgone")
        keys.read_keys()
        keys.discard()  # Ctrl-C during a command drops held keys too
        return batches, late, keys.pending == "" and not keys.read_keys()

    batches, late, emptied = asyncio.run(scenario())
    assert batches == [["p", "w", "\t"], [], ["x", "\t"], ["y"], ["\t"]]
    assert late == ["w"]
    assert emptied


def test_elsewhere_a_tab_is_read_with_what_follows():
    async def scenario() -> list[str]:
        keys = ChannelKeys()  # the pager and questions complete nothing
        keys.send_text("a\tb\r")
        return [key.data for key in keys.read_keys()]

    assert asyncio.run(scenario()) == ["a", "\t", "b", "\r"]
