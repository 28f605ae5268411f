"""Start-up benchmark: the commands people run in a hurry, as whole processes, against two floors.

Measured in interleaved rounds (so load drift hits all alike), each a fresh process as a user starts it:

1. ``python -c pass``: the interpreter alone;
2. a bare Typer + Rich app (two commands, one option, a Rich print): the floor for any Typer CLI;
3. ``cutover --help``;
4. ``cutover flags show`` (local flags file);
5. ``cutover rollback --reason ...`` (control store in a database of its own, local flags file).

It also checks that ``uv run`` prints no "Bytecode compiled" line (bytecode is compiled once, at install).

Usage: ``uv run python -m bench.startup [--rounds 15] [--baseline DIR]``. Target (issue #18): each cutover
command <= 0.5 s. ``--baseline DIR`` (a source tree of another revision, e.g. ``git archive main | tar -x
-C DIR``) runs that revision's three commands in the same rounds, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ADMIN_DSN = os.environ.get("CUTOVER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
CONTROL_DATABASE = "cutover_bench_startup_18"
TARGET_SECONDS = 0.5

BARE_APP = """
import typer
from rich.console import Console

app = typer.Typer(help="A bare Typer + Rich app.")


@app.command()
def show(name: str = typer.Option("x", help="Who.")) -> None:
    \"\"\"Print a line through Rich.\"\"\"
    Console().print(f"hello {name}")


@app.command()
def other() -> None:
    \"\"\"Another command, so the app is a group like cutover.\"\"\"


app()
"""


def timed(argv: list[str], env: dict[str, str], baseline: Path | None = None) -> tuple[float, float]:
    """Wall seconds from spawn to exit, and the CPU seconds (user + system) the process used."""
    if baseline is not None:
        env = env | {"PYTHONPATH": str(baseline)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-1000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def no_bytecode_line(env: dict[str, str]) -> bool:
    """Whether ``uv run`` starts without recompiling (and announcing) the environment's bytecode."""
    uv = shutil.which("uv")
    if uv is None:
        return True
    done = subprocess.run([uv, "run", "--frozen", "python", "-c", "pass"], env=env, capture_output=True, text=True)
    return "Bytecode compiled" not in done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="Another revision's source tree, run in the same rounds.")
    args = parser.parse_args()
    cutover = str(Path(sys.executable).with_name("cutover"))
    work = Path(tempfile.mkdtemp(prefix="cutover-bench-startup-"))
    (work / "bare.py").write_text(BARE_APP)
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(CONTROL_DATABASE)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(CONTROL_DATABASE)))
    control = urlunsplit(urlsplit(ADMIN_DSN)._replace(path=f"/{CONTROL_DATABASE}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUTOVER_", "PREFECT_API_URL"))}
    env |= {"CUTOVER_CONTROL_DSN": control, "CUTOVER_FLAGS_FILE": str(work / "flags.json"), "COLUMNS": "80"}
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "bare Typer + Rich app": [sys.executable, str(work / "bare.py"), "show", "--name", "bench"],
        "cutover --help": [cutover, "--help"],
        "cutover flags show": [cutover, "flags", "show"],
        "cutover rollback": [cutover, "rollback", "--reason", "bench", "--actor", "bench"],
    }
    runs: dict[str, tuple[list[str], Path | None]] = {name: (argv, None) for name, argv in commands.items()}
    if args.baseline is not None:
        runs |= {f"{name} (baseline)": (argv, args.baseline) for name, argv in commands.items() if "cutover" in name}
    load_before = os.getloadavg()
    try:
        for argv, baseline in runs.values():  # warm the page cache once, untimed
            timed(argv, env, baseline)
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, (argv, baseline) in runs.items():
                wall, used = timed(argv, env, baseline)
                times[name].append(wall)
                cpu[name].append(used)
        bytecode_ok = no_bytecode_line(env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(CONTROL_DATABASE)))
    bare = statistics.median(times["bare Typer + Rich app"])
    bare_cpu = statistics.median(cpu["bare Typer + Rich app"])
    load = os.getloadavg()
    print(
        f"\n== start-up, {args.rounds} interleaved rounds, load average {load_before[0]:.2f} at the start, "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end"
    )
    print("wall: spawn to exit; cpu: user + system of the process (what a quiet machine's wall time approaches)")
    print(f"{'command':35} {'wall p50':>9} {'min':>7} {'max':>7} {'vs bare':>8} {'cpu p50':>9} {'vs bare':>8}")
    for name, values in times.items():
        median, used = statistics.median(values), statistics.median(cpu[name])
        verdict = "" if not name.startswith("cutover") else ("  ok" if median <= TARGET_SECONDS else "  OVER 0.5 s")
        print(f"{name:35} {median:8.3f}s {min(values):6.3f}s {max(values):6.3f}s {median / bare:7.2f}x "
              f"{used:8.3f}s {used / bare_cpu:7.2f}x{verdict}")  # fmt: skip
    print(f"uv run prints no bytecode-compilation line: {'yes' if bytecode_ok else 'NO'}")


if __name__ == "__main__":
    main()
