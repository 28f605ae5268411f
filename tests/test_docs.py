"""The kickoff guide and README only name commands and files that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from cutover.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "docs" / "kickoff.md", ROOT / "README.md"]


def _commands(text: str) -> list[list[str]]:
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip().rstrip("\\").strip()
            line = re.sub(r"^(CUTOVER_\w+=\S+\s+)+", "", line)
            if line.startswith(("cutover ", "uv run cutover ")):
                words = shlex.split(line.removeprefix("uv run "))
                found.append([w for w in words[1:] if not w.startswith(("-", "[")) and "=" not in w][:2])
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_cutover_command_in_the_docs_exists(doc: Path) -> None:
    root = typer.main.get_command(app)
    commands = _commands(doc.read_text())
    assert commands, f"no cutover commands found in {doc.name}"
    for words in commands:
        command: object = root
        for word in words:
            subcommands = getattr(command, "commands", None)
            if subcommands is None:  # a leaf command: the rest are its arguments
                break
            command = subcommands.get(word)
            assert command is not None, f"{doc.name}: `cutover {' '.join(words)}` is not a command"


def test_every_repository_path_in_the_kickoff_guide_exists() -> None:
    text = (ROOT / "docs" / "kickoff.md").read_text()
    paths = set(re.findall(r"`((?:infra|docs|flows|tasks|cutover|tests|scripts|expectations)/[\w./-]*)`", text))
    assert paths
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists() and "<" not in p)
    assert missing == []
