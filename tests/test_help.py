"""Every registered command answers ``help NAME`` and ``NAME -h``."""

from __future__ import annotations

import pytest

from omsh.commands.arguments import arg, build_parser
from omsh.commands.registry import command_factories, default_registry

_NAMES = sorted(command_factories(default_registry()))


@pytest.mark.parametrize("name", _NAMES)
def test_help_and_dash_h_answer_for_every_command(admin, name: str) -> None:
    for line in (f"help {name}", f"{name} -h"):
        status, out, err = admin(line)
        assert status == 0, f"{line!r}: {err}"
        assert out.strip(), line
        assert "internal error" not in out + err


def test_a_percent_sign_in_argument_help_is_literal() -> None:
    parser = build_parser("x", "s", (arg("--like", help="e.g. 'image/%' or 100%"),))
    assert "'image/%' or 100%" in parser.format_help()
