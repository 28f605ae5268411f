"""`cutover flags show|set` as scripts run it: a subprocess, env-var configuration, exit codes, one-line errors.

`cutover.cli` registers the flags group only once its import line is added; until then the runner below
imports `cutover.cli.flags` first and then calls the real entry point (`cutover.cli.main`, its error map).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.flags.appconfig_server import AppConfigServer

RUNNER = "import sys; import cutover.cli.flags; from cutover.cli import main; sys.argv[0] = 'cutover'; main()"


def cutover(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args], capture_output=True, text=True, timeout=60,
        # The shared Rich error console wraps at 80 columns when not on a terminal; a wide one keeps one line.
        env={**os.environ, "COLUMNS": "200", **env},
    )  # fmt: skip


def test_set_and_show_on_the_local_file(tmp_path: Path) -> None:
    env = {"CUTOVER_FLAGS_FILE": str(tmp_path / "f.json"), "CUTOVER_FLAGS_PROVIDER": "local"}
    done = cutover(
        "flags", "set", "iceberg-roll-percentage", "25", "--entity", "sales.orders", "--actor", "ana", "--reason", "stage",
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "iceberg-roll-percentage sales.orders unset -> 25% (changed, by ana)"
    assert (
        cutover("flags", "set", "use-iceberg-backend", "on", "--actor", "ana", "--reason", "go", env=env).returncode
        == 0
    )

    shown = cutover("flags", "show", env=env)
    lines = [line.split() for line in shown.stdout.splitlines()]
    assert lines == [
        ["use-iceberg-backend", "global", "on"],
        ["iceberg-roll-percentage", "global", "0%", "(default)"],
        ["iceberg-partitioning", "global", "off", "(default)"],
        ["iceberg-time-travel", "global", "off", "(default)"],
        ["iceberg-roll-percentage", "sales.orders", "25%"],
    ]
    for_entity = cutover("flags", "show", "--entity", "sales.orders", env=env)
    assert for_entity.stdout.splitlines()[1].split() == ["iceberg-roll-percentage", "sales.orders", "25%"]


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {"CUTOVER_FLAGS_FILE": str(tmp_path / "f.json")}
    for args, needle in [
        (("iceberg-roll-percentage", "150"), "0-100"),
        (("use-iceberg-backend", "perhaps"), "on or off"),
        (("no-such-flag", "on"), "unknown flag"),
        (("use-iceberg-backend", "on", "--entity", "orders"), "<namespace>.<table>"),
    ]:
        done = cutover("flags", "set", *args, "--actor", "a", "--reason", "r", env=env)
        assert done.returncode == 2, (args, done.stderr)
        assert needle in done.stderr and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "f.json").exists()
    missing_reason = cutover("flags", "set", "use-iceberg-backend", "on", "--actor", "a", env=env)
    assert missing_reason.returncode == 2 and "--reason" in missing_reason.stderr


def test_azure_provider_from_environment(appconfig: AppConfigServer) -> None:
    env = {
        "CUTOVER_FLAGS_PROVIDER": "azure", "CUTOVER_APPCONFIG_CONNECTION_STRING": appconfig.connection_string,
        "CUTOVER_FLAGS_STARTUP_TIMEOUT_SECONDS": "2",
    }  # fmt: skip
    done = cutover("flags", "set", "iceberg-time-travel", "on", "--actor", "ci", "--reason", "test", env=env)
    assert done.returncode == 0, done.stderr
    shown = cutover("flags", "show", env=env)
    assert ["iceberg-time-travel", "global", "on"] in [line.split() for line in shown.stdout.splitlines()]
    misconfigured = cutover("flags", "show", env={**env, "CUTOVER_APPCONFIG_ENDPOINT": appconfig.endpoint})
    assert misconfigured.returncode == 2 and "exactly one" in misconfigured.stderr
