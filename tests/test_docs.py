"""Every CLI command has help text and is in the README's command-line section."""

from __future__ import annotations

import argparse
from pathlib import Path

from indexer.cli import COMMANDS, build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_command_is_documented() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert set(helps) == set(COMMANDS)
    for name, text in helps.items():
        assert text, f"`glimpse {name}` has no help text"
        assert f"glimpse {name}" in README, f"`glimpse {name}` is missing from README.md"
