"""A run for the warm-start tests: ``python -m tests.orchestration.warm_probe CODE|wait [ARG ...]``.

Prints what it was given (arguments, working directory, environment, stdin, its pids) as one JSON line and
exits with CODE; ``wait`` prints its pid and sleeps until a signal ends it.
"""

from __future__ import annotations

import json
import os
import sys
import time

if sys.argv[1] == "wait":
    print(json.dumps({"pid": os.getpid()}), flush=True)
    time.sleep(120)
    sys.exit(3)
print(json.dumps({
    "argv": sys.argv[1:], "cwd": os.getcwd(), "probe": os.environ.get("PROBE"), "stdin": sys.stdin.read(),
    "pid": os.getpid(), "ppid": os.getppid(), "own_session": os.getsid(0) == os.getpid(), "name": __name__,
}), flush=True)  # fmt: skip
print("probe to stderr", file=sys.stderr, flush=True)
sys.exit(int(sys.argv[1]))
