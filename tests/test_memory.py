"""Importing cutover picks Arrow's system allocator and turns numpy's huge-page advice off, unless the
environment chose otherwise (``cutover.memory`` says why)."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "import cutover, pyarrow, numpy._core.multiarray as m;"
    "print(pyarrow.default_memory_pool().backend_name, m._get_madvise_hugepage())"
)


def _fresh(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("ARROW_DEFAULT_MEMORY_POOL", "NUMPY_MADVISE_HUGEPAGE")}
    done = subprocess.run([sys.executable, "-c", PROBE], env=base | env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_importing_cutover_chooses_plain_pages() -> None:
    assert _fresh() == "system False"


def test_an_explicit_environment_wins() -> None:
    assert _fresh(ARROW_DEFAULT_MEMORY_POOL="mimalloc", NUMPY_MADVISE_HUGEPAGE="1") == "mimalloc True"
