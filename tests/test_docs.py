"""Every CLI command has help text and is in the README's command-line section."""

from __future__ import annotations

import argparse
from pathlib import Path

from indexer.cli.main import COMMANDS, build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_command_is_documented() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert set(helps) == set(COMMANDS)
    for name, text in helps.items():
        assert text, f"`glimpse {name}` has no help text"
        assert f"glimpse {name}" in README, f"`glimpse {name}` is missing from README.md"


def test_the_module_table_in_the_architecture_doc_is_the_code() -> None:
    """docs/architecture.md's module table is made from the packages; `python docs/architecture.py` remakes it."""
    import runpy

    doc = runpy.run_path(str(Path(__file__).resolve().parents[1] / "docs" / "architecture.py"))
    text = doc["DOC"].read_text()
    assert text == doc["rendered"](text), "docs/architecture.md is stale: run `python docs/architecture.py`"
