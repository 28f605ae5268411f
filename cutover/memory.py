"""How the process takes memory for Arrow buffers and large numpy arrays: plain pages, reused.

Scanning an Iceberg table allocates and frees buffers for every row group it decodes. Two defaults made
each of those allocations touch memory the process had never used:

* Arrow's default pool, mimalloc, reserves a 1 GiB arena marked ``MADV_HUGEPAGE`` and hands freed
  segments back to the kernel after 10 ms, so every few batches fault in fresh 2 MiB pages again;
* numpy marks every array of 4 MiB or more ``MADV_HUGEPAGE`` (``NUMPY_MADVISE_HUGEPAGE``).

A fresh transparent huge page must be zeroed whole, and where the host backs a VM's memory lazily (free
page reporting, ballooning) it is also faulted in from the host: on the 2-core VM this project is
measured on, 512 MiB of fresh huge pages cost 5.4 s of system time, the same in 4 KiB pages 0.2 s. The
first hash of a 5 M-row table spent 6-8 s of system time there; with the system allocator (glibc malloc,
which reuses freed memory) and numpy's madvise off, 0.45 s, and no slower in user time (jemalloc: 0.75 s).

Both are read once, when Arrow first allocates and when numpy is imported, so :func:`prefer_plain_pages`
runs when ``cutover`` is imported; a process that imported them earlier keeps their defaults (set the
variables in its environment instead, as the container image does).
"""

from __future__ import annotations

import os

PLAIN_PAGE_DEFAULTS = {"ARROW_DEFAULT_MEMORY_POOL": "system", "NUMPY_MADVISE_HUGEPAGE": "0"}
"""The environment variables chosen, unless the environment already sets them."""


def prefer_plain_pages() -> None:
    """Default Arrow to the system allocator and numpy to no huge-page advice (explicit settings win)."""
    for name, value in PLAIN_PAGE_DEFAULTS.items():
        os.environ.setdefault(name, value)
