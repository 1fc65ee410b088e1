"""Every registered command answers ``help NAME``, ``NAME --help`` and, unless it
claims ``-h`` for itself (``ls -lh``, ``du -h``, ``df -h``), ``NAME -h``."""

from __future__ import annotations

import pytest

from omsh.commands.arguments import arg, build_parser, claims_dash_h
from omsh.commands.registry import command_factories, default_registry

_FACTORIES = command_factories(default_registry())
_NAMES = sorted(_FACTORIES)


@pytest.mark.parametrize("name", _NAMES)
def test_help_answers_for_every_command(admin, name: str) -> None:
    claims = claims_dash_h(_FACTORIES[name].arguments)
    lines = [f"help {name}", f"{name} --help"] + ([] if claims else [f"{name} -h"])
    answers = set()
    for line in lines:
        status, out, err = admin(line)
        assert status == 0, f"{line!r}: {err}"
        assert out.startswith("usage: "), line
        assert "internal error" not in out + err
        answers.add(out)
    assert len(answers) == 1, f"{name}: the ways to ask for help disagree"
    assert ("-h, --help" in answers.pop()) is not claims


def test_a_percent_sign_in_argument_help_is_literal() -> None:
    parser = build_parser("x", "s", (arg("--like", help="e.g. 'image/%' or 100%"),))
    assert "'image/%' or 100%" in parser.format_help()


def test_a_command_that_declares_dash_h_keeps_it_and_help_is_double_dash() -> None:
    parser = build_parser("x", "s", (arg("-h", "--human", action="store_true", help="sizes"),))
    assert parser.parse_args(["-h"]).human and not parser.parse_args(["-h"]).help
    assert parser.parse_args(["--help"]).help
