"""Every command, fed bad input of every kind, answers with one line and exit 1 or 2, and leaves Iceberg alone.

The commands are listed from the Typer app and each one's options are probed by name: a new command, or
a new option, fails :func:`test_every_option_is_probed_or_says_why_not` until it is given bad values here
(or a reason it has none). Options typed int, float or a fixed set of words are probed from their types.
Everything runs in-process through Typer's ``CliRunner`` against one database and one catalog per module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
import typer
from psycopg import sql
from typer.testing import CliRunner

from cutover.cli import app
from cutover.config import CatalogConfig, default_catalog
from cutover.lake.catalog import open_catalog
from cutover.maintenance import write_export
from tests.conftest import ADMIN_DSN, _with_database
from tests.helpers import migrate

UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/cutover"
"""A closed loopback port: refused at once, like a host that is down but without waiting for a timeout."""


@dataclass(frozen=True)
class Bad:
    """One bad value for an option: the arguments, the text the one error line must contain, the kind."""

    kind: str
    args: tuple[str, ...]
    needle: str
    only: frozenset[str] | None = None
    """Commands this case applies to (None: every command with the option)."""
    skip: frozenset[str] = frozenset()
    env: dict[str, str] = field(default_factory=dict)
    subprocess: bool = False
    """Run as a process: Prefect reads its settings once per process."""


def _only(*commands: str) -> frozenset[str]:
    return frozenset(commands)


PREFECT = _only("prefect setup")


@dataclass(frozen=True)
class World:
    dsn: str
    catalog: CatalogConfig
    tmp: Path
    env: dict[str, str | None]
    snapshot_id: int
    """The current snapshot of lake.orders (restoring it would still be a new commit)."""

    @property
    def warehouse(self) -> Path:
        return Path(self.catalog.warehouse.removeprefix("file://"))


def _files(tmp: Path) -> dict[str, Path]:
    """Malformed input files, written once."""
    files = {
        "not-json": "{bad",
        "options-wrong-shape": json.dumps({"public.orders": {"columns": 5}}),
        "queries-wrong-shape": json.dumps({"queries": [{"name": 5}]}),
        "export-wrong-shape": json.dumps({"tables": "x"}),
        "a-file": "",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp / f"{name}.json"
        paths[name].write_text(text)
    suites = tmp / "bad-suites"
    suites.mkdir(exist_ok=True)
    (suites / "lake.orders.json").write_text("{bad")
    paths["bad-suites"] = suites
    return paths


def probes(world: World) -> dict[str, list[Bad]]:
    """Bad values by option name; ``[]`` with a comment where an option has none worth probing."""
    f = _files(world.tmp)
    unwritable = str(f["a-file"] / "report.json")  # under a regular file: no directory can be made there
    iceberg_tables = _only("maintain", "restore")
    return {
        "source_dsn": [  # `prefect setup` saves the DSN for workers, which may reach what this machine cannot
            Bad("unreachable source", ("--source-dsn", UNREACHABLE_PG), "127.0.0.1:1", skip=PREFECT),
            Bad(
                "wrong credentials",
                ("--source-dsn", world.dsn.replace("postgres@", "cutover_nobody@")),
                "cutover_nobody",
                skip=PREFECT,
            ),
            Bad("malformed DSN", ("--source-dsn", "mysql://x/y"), "mysql://"),
            Bad(
                "unknown database",
                ("--source-dsn", _with_database(world.dsn, "cutover_no_such_db")),
                "cutover_no_such_db",
                skip=PREFECT,
            ),
        ],
        "catalog_uri": [
            Bad(
                "unreachable SQL catalog",
                ("--catalog-uri", "postgresql+psycopg://postgres@127.0.0.1:1/cat"),
                "127.0.0.1:1",
            ),
            Bad("unreachable REST catalog", ("--catalog-uri", "http://127.0.0.1:1/catalog"), "127.0.0.1:1"),
            Bad("malformed catalog URI", ("--catalog-uri", "mysql://x/y"), "mysql://"),
        ],
        "warehouse": [Bad("unreachable warehouse", ("--warehouse", "s3://nobucket/x"), "nobucket")],
        "dask_address": [
            Bad("unreachable Dask scheduler", ("--dask-address", "tcp://127.0.0.1:1"), "127.0.0.1:1"),
            Bad("malformed Dask address", ("--dask-address", "http://127.0.0.1:8786"), "http://127.0.0.1:8786"),
        ],
        "schema": [Bad("unknown schema", ("--schema", "nope_schema"), "nope_schema")],
        "table": [
            Bad("unknown table", ("--table", "nope_table"), "nope_table"),
            Bad("table missing in Iceberg", ("--table", "fresh"), "lake.fresh", _only("validate", "sync")),
            Bad("foreign Iceberg table", ("--table", "foreign_t"), "foreign_t", _only("sync")),
            Bad("foreign Iceberg table", ("--table", "foreign_t", "--mode", "resume"), "foreign_t", _only("migrate")),
        ],
        "namespace": [  # migrate creates the namespace it is given
            Bad("unknown namespace", ("--namespace", "nope_ns"), "nope_ns", _only("validate", "sync", "maintain")),
            Bad("unknown namespace", ("--namespace", "nope_ns"), "nope_ns.orders", iceberg_tables - {"maintain"}),
        ],
        "table_options": [
            Bad("malformed table options", ("--table-options", str(f["not-json"])), "not-json.json"),
            Bad("table options of the wrong shape", ("--table-options", str(f["options-wrong-shape"])), "columns"),
            Bad("missing table options", ("--table-options", str(world.tmp / "nofile.json")), "nofile.json"),
        ],
        "report_json": [Bad("unwritable report", ("--report-json", unwritable), "report.json")],
        "expectations_dir": [
            Bad("malformed suite", ("--expectations-dir", str(f["bad-suites"])), "lake.orders.json", _only("validate")),
            Bad(
                "suites dir is a file",
                ("--expectations-dir", str(f["a-file"])),
                "a-file.json",
                _only("expectations init"),
            ),
        ],
        "queries": [
            Bad("malformed query file", ("--queries", str(f["not-json"])), "not-json.json"),
            Bad("query file of the wrong shape", ("--queries", str(f["queries-wrong-shape"])), "queries"),
            Bad("missing query file", ("--queries", str(world.tmp / "nofile.json")), "nofile.json"),
        ],
        "schema_map": [Bad("malformed schema map", ("--schema-map", "nonsense"), "nonsense")],
        "file": [
            Bad("malformed export", (str(f["not-json"]),), "not-json.json"),
            Bad("export of the wrong shape", (str(f["export-wrong-shape"]),), "export-wrong-shape.json"),
            Bad("missing export", (str(world.tmp / "nofile.json"),), "nofile.json"),
        ],
        "output": [Bad("unwritable output", ("--output", unwritable), "report.json")],
        "flag": [Bad("unknown flag", ("nope-flag",), "nope-flag")],
        "value": [Bad("malformed flag value", ("maybe",), "maybe")],
        "entity": [
            Bad("malformed entity", ("--entity", "nodot"), "nodot"),
            # flags may be set for an entity before its table is loaded; the rollout commands check it
            Bad(
                "unknown entity",
                ("--entity", "lake.nope_entity"),
                "lake.nope_entity",
                skip=_only("flags show", "flags set"),
            ),
        ],
        "snapshot": [Bad("unknown snapshot", ("--snapshot", "123"), "123")],
        "as_of": [
            Bad("malformed time", ("--as-of", "yesterday"), "yesterday"),
            Bad("time before the table", ("--as-of", "2001-01-01T00:00:00+00:00"), "2001-01-01"),
        ],
        "reason": [Bad("blank reason", ("--reason", "  "), "reason")],
        "actor": [Bad("blank actor", ("--actor", " "), "actor", _only("flags set"))],  # others default to the OS user
        "exclude": [],  # a glob: matching nothing is not an error
        "cursor": [],  # a table without the column is followed by xmin (documented)
        "source_block": [],  # any name is a valid block name
        "pool": [],  # `prefect worker start` creates a missing pool (of its own type) and says so
        "name": [],  # any worker name is valid
        "code_connection_string": [],  # probed through --azure below
        "code_account_url": [],
        "host": [],  # uvicorn reports a bind failure itself, in one line
        "state_dir": [],  # the demo's own directory (created when missing)
    }


REQUIRED = {
    "table": ("--table", "orders"),
    "reason": ("--reason", "probe"),
    "actor": ("--actor", "probe"),
    "entity": ("--entity", "lake.orders"),
    "flag": ("use-iceberg-backend",),
    "value": ("off",),
    "output": ("--output", "{tmp}/export.json"),
    "file": ("{tmp}/good-export.json",),
}
"""Good values for required options, so that each case breaks one thing."""

ENV_CASES: list[tuple[str, Bad]] = []
"""Bad settings that come from the environment rather than options: (command, case)."""
for command in ("rollback", "rollout status", "rollout step", "restore"):
    ENV_CASES.append(
        (command, Bad("unreachable control store", (), "127.0.0.1:1", env={"CUTOVER_CONTROL_DSN": UNREACHABLE_PG}))
    )
for command in ("flags show", "flags set", "rollback", "rollout status"):
    ENV_CASES.append(
        (command, Bad("malformed flags file", (), "flags-bad.json", env={"CUTOVER_FLAGS_FILE": "{tmp}/flags-bad.json"}))
    )
ENV_CASES += [
    ("serve-api", Bad("no API token", (), "CUTOVER_API_TOKEN")),
    (
        "prefect setup",
        Bad(
            "unreachable Prefect", (), "127.0.0.1:1", env={"PREFECT_API_URL": "http://127.0.0.1:1/api"}, subprocess=True
        ),
    ),
    (
        "prefect setup",
        Bad("no Prefect configured", (), "PREFECT_API_URL", env={"PREFECT_API_URL": ""}, subprocess=True),
    ),
]


def _walk(
    command: typer.core.TyperGroup, ctx: typer.Context, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, typing.Any]]:
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if hasattr(sub, "list_commands"):
            yield from _walk(sub, ctx, (*path, name))
        else:
            yield " ".join((*path, name)), sub


ROOT = typer.main.get_command(app)
COMMANDS = dict(_walk(ROOT, typer.Context(ROOT)))


def _typed_cases(param: typing.Any) -> list[Bad]:
    """Bad values any option of a number or fixed-word type has: the parser's own messages."""
    annotation = param.type_descriptor.annotation
    opt = param.opts[0]
    if annotation in (int, float):
        cases = [Bad("not a number", (opt, "abc"), opt)]
        if param.min is not None:
            cases.append(Bad("below the minimum", (opt, str(param.min - 1)), opt))
        return cases
    if typing.get_origin(annotation) is typing.Literal:
        return [Bad("not one of the choices", (opt, "bogus"), "bogus")]
    return []


def _is_bool(param: typing.Any) -> bool:
    return bool(param.is_flag) or param.type_descriptor.annotation is bool


def _args(command: typing.Any, world: World, option: str, bad: Bad) -> list[str]:
    """Good values for the required options, the bad one in its option's place (arguments keep their order)."""
    args: list[str] = []
    for param in command.params:
        if param.name == option:
            args += bad.args
        elif param.required:
            args += [a.format(tmp=world.tmp) for a in REQUIRED[param.name]]
    if command.name == "restore":  # needs a namespace and one of --snapshot / --as-of
        args += [] if option == "namespace" else ["--namespace", "lake"]
        args += [] if option in ("snapshot", "as_of") else ["--snapshot", str(world.snapshot_id)]
    return args if option else [*args, *bad.args]


def cases(world: World) -> Iterator[tuple[str, str, Bad]]:
    """(command, option, case) for every command, its options and their bad values, then the env cases."""
    by_name = probes(world)
    for name, command in COMMANDS.items():
        yield name, "", Bad("unknown option", ("--no-such-option",), "--no-such-option")
        for param in command.params:
            for bad in [*by_name.get(param.name, []), *_typed_cases(param)]:
                if (bad.only is None or name in bad.only) and name not in bad.skip:
                    yield name, param.name, bad
    for name, bad in ENV_CASES:
        yield name, "", bad


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One database (orders migrated; fresh not; foreign_t in Iceberg but not made by cutover), one catalog."""
    tmp = tmp_path_factory.mktemp("probe")
    name = f"cutover_probe_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    dsn = _with_database(ADMIN_DSN, name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "create table orders (id int primary key, customer text, amount numeric(12,2), updated_at timestamptz);"
                "insert into orders select g, 'c' || g, g * 1.5, now() from generate_series(1, 100) g;"
                "create table fresh (id int primary key); create table foreign_t (id int primary key, v text);"
                "insert into foreign_t values (1, 'a')"
            )
        catalog = default_catalog(tmp / "state")
        migrate(dsn, catalog, ["orders"])
        schema = pa.schema([pa.field("id", pa.int32(), nullable=False), pa.field("v", pa.string())])
        foreign = open_catalog(catalog).create_table(("lake", "foreign_t"), schema=schema)
        foreign.append(pa.table({"id": pa.array([1], pa.int32()), "v": ["a"]}, schema=schema))
        (tmp / "flags-bad.json").write_text("{bad")
        write_export(open_catalog(catalog), tmp / "good-export.json")
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("CUTOVER_", "PREFECT_API"))}
        env |= {
            "CUTOVER_SOURCE_DSN": dsn, "CUTOVER_CONTROL_DSN": dsn, "CUTOVER_CATALOG_URI": catalog.uri,
            "CUTOVER_WAREHOUSE": catalog.warehouse, "CUTOVER_NAMESPACE": "lake", "CUTOVER_STATE_DIR": str(tmp / "state"),
            "CUTOVER_FLAGS_FILE": str(tmp / "flags.json"), "CUTOVER_EXPECTATIONS_DIR": str(tmp / "suites"),
            "PREFECT_API_URL": "",
        }  # fmt: skip
        snapshot = open_catalog(catalog).load_table(("lake", "orders")).current_snapshot()
        assert snapshot is not None
        yield World(dsn, catalog, tmp, env, snapshot.snapshot_id)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def iceberg_state(world: World) -> tuple[dict[str, str], list[str]]:
    """Every table's metadata location and every file in the warehouse: what a side effect would change."""
    catalog = open_catalog(world.catalog)
    tables = {
        ".".join(t): catalog.load_table(t).metadata_location
        for ns in catalog.list_namespaces()
        for t in catalog.list_tables(ns)
    }
    return tables, sorted(str(p.relative_to(world.warehouse)) for p in world.warehouse.rglob("*"))


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


def run(world: World, command: str, args: list[str], bad: Bad) -> Ran:
    env = world.env | {k: v.format(tmp=world.tmp) for k, v in bad.env.items()}
    if bad.subprocess:
        process_env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
        done = subprocess.run(
            [sys.executable, "-m", "cutover.cli", *command.split(), *args], env=process_env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        return Ran(done.returncode, done.stdout, done.stderr)
    result = CliRunner().invoke(app, [*command.split(), *args], env=env)
    return Ran(result.exit_code, result.stdout, result.stderr, result.exception)


def test_every_option_is_probed_or_says_why_not(world: World) -> None:
    by_name = probes(world)
    unclassified = sorted(
        f"{name} --{param.name}"
        for name, command in COMMANDS.items()
        for param in command.params
        if param.name not in by_name and not _is_bool(param) and not _typed_cases(param)
    )
    assert unclassified == [], "give these options bad values in probes() (or [] and a reason)"
    missing_required = sorted(
        f"{name} {param.name}"
        for name, command in COMMANDS.items()
        for param in command.params
        if param.required and param.name not in REQUIRED
    )
    assert missing_required == [], "give these required options a good value in REQUIRED"


def test_bad_input_gets_one_line_and_exit_1_or_2_and_no_iceberg_change(world: World) -> None:
    """All cases in one test (one world); every failure is collected and reported together."""
    before = iceberg_state(world)
    failures = []
    for command, option, bad in cases(world):
        args = _args(COMMANDS[command], world, option, bad)
        result = run(world, command, args, bad)
        label = f"cutover {command} {' '.join(args)} [{bad.kind}]"
        output = result.stdout + result.stderr
        lines = [line for line in result.stderr.splitlines() if bad.needle in line]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            failures.append(f"{label}: raised {type(result.exception).__name__}: {result.exception}")
        elif "Traceback" in output:
            failures.append(f"{label}: traceback in the output")
        elif result.exit_code not in (1, 2):
            failures.append(f"{label}: exit {result.exit_code}\n{output[-600:]}")
        elif not lines:
            failures.append(f"{label}: no stderr line names {bad.needle!r}\n{result.stderr[-600:]}")
        after = iceberg_state(world)
        if after != before:
            failures.append(f"{label}: Iceberg changed: {before} -> {after}")
            before = after
    assert not failures, f"{len(failures)} case(s) failed:\n\n" + "\n\n".join(failures)
