"""The README's contracts stay true: its type table is the code's."""

from __future__ import annotations

from pathlib import Path

from cutover.lake.types import type_table_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_type_table_matches_the_code() -> None:
    assert type_table_markdown() in README.read_text()


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text()[:600]
    assert "./scripts/demo" in head and "./scripts/test" in head
