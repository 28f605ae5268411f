"""The demo: a sample application schema in a throwaway PostgreSQL, migrated into the embedded defaults.

Uses the PostgreSQL in ``CUTOVER_SOURCE_DSN`` when set (a database ``cutover_demo`` is recreated there),
otherwise starts a private PostgreSQL from the ``pgserver`` wheel under the state directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from rich.console import Console

from cutover.config import CatalogConfig, default_catalog
from cutover.load.report import MigrationReport
from cutover.load.runner import MigrationRequest

DEMO_DATABASE = "cutover_demo"

ORDERS_DDL = """
create table {orders} (
    id          bigint primary key,
    customer_id bigint not null,
    status      text not null,
    amount      numeric(12,2) not null,
    currency    char(3) not null,
    created_at  timestamptz not null,
    updated_at  timestamptz not null,
    note        text,
    is_paid     boolean not null,
    payload     jsonb,
    uid         uuid not null
)
"""

ORDERS_FILL = """
insert into {orders}
select g,
       1 + (g * 7919) %% 100000,
       (array['new','paid','shipped','cancelled','refunded'])[1 + g %% 5],
       round(((g * 104729) %% 10000000) / 100.0, 2),
       (array['EUR','USD','GBP'])[1 + g %% 3],
       timestamptz '2020-01-01 00:00:00+00' + make_interval(secs => g * 37),
       timestamptz '2020-01-01 00:00:00+00' + make_interval(secs => g * 37 + g %% 86400),
       case when g %% 4 = 0 then null else 'note for order ' || g end,
       g %% 5 in (1, 2),
       case when g %% 10 = 0 then null
            else jsonb_build_object('sku', 'SKU-' || (g %% 1000), 'qty', 1 + g %% 7, 'gift', g %% 2 = 0) end,
       md5(g::text)::uuid
from generate_series(%(start)s::bigint, %(stop)s::bigint) as g
"""


def create_orders(conn: psycopg.Connection, rows: int, schema: str = "public", table: str = "orders") -> None:
    """Create and fill the `orders` table shared by the demo and the benchmarks (server-side, fast)."""
    orders = sql.Identifier(schema, table)
    conn.execute(sql.SQL("drop table if exists {}").format(orders))
    conn.execute(sql.SQL(ORDERS_DDL).format(orders=orders))
    step = 1_000_000
    for start in range(1, rows + 1, step):
        conn.execute(sql.SQL(ORDERS_FILL).format(orders=orders), {"start": start, "stop": min(rows, start + step - 1)})
    conn.execute(sql.SQL("vacuum analyze {}").format(orders))


SAMPLE_SCHEMA = """
create type customer_tier as enum ('free', 'pro', 'enterprise');
create domain email as text check (value like '%%@%%');
create table customers (
    id          bigint primary key,
    email       email not null,
    name        text not null,
    tier        customer_tier not null,
    country     char(2),
    signed_up   date not null,
    credit      numeric(10,2),
    tags        text[],
    last_seen   timestamptz
);
insert into customers
select g, 'user' || g || '@example.com', 'Customer ' || g,
       (array['free','pro','enterprise']::customer_tier[])[1 + g %% 3],
       (array['DE','FR','US','GB', null])[1 + g %% 5],
       date '2018-01-01' + (g %% 2000),
       case when g %% 7 = 0 then null else (g %% 100000) / 100.0 end,
       case when g %% 3 = 0 then array['vip', 'beta'] when g %% 3 = 1 then array[]::text[] end,
       case when g %% 11 = 0 then null else timestamptz '2024-01-01 00:00+00' + make_interval(mins => g) end
from generate_series(1, 100000) g;
create table products (
    sku         text primary key,
    title       text not null,
    price       numeric(10,2) not null,
    weight_kg   double precision,
    dimensions  jsonb,
    active      boolean not null default true,
    warranty    interval
);
insert into products
select 'SKU-' || g, 'Product ' || g, 1 + (g %% 500) + 0.99, (g %% 50) / 3.0,
       jsonb_build_object('w', g %% 40, 'h', g %% 30, 'd', g %% 20),
       g %% 17 <> 0, make_interval(years => g %% 3, months => g %% 12)
from generate_series(0, 999) g;
create table order_lines (
    order_id    bigint not null,
    line_no     integer not null,
    sku         text not null,
    quantity    integer not null check (quantity > 0),
    unit_price  numeric(10,2) not null,
    primary key (order_id, line_no)
);
"""


def seed_sample_schema(dsn: str, rows: int) -> None:
    """(Re)create the sample application schema in ``public`` of ``dsn``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop schema public cascade")
        conn.execute("create schema public")
        for statement in filter(str.strip, SAMPLE_SCHEMA.split(";\n")):
            conn.execute(statement.replace("%%", "%"))
        create_orders(conn, rows)
        conn.execute(
            """
            insert into order_lines
            select o.id, l, 'SKU-' || ((o.id + l) %% 1000), 1 + (o.id + l) %% 4, 1 + ((o.id * l) %% 500) + 0.99
            from orders o cross join generate_series(1, 1 + (o.id %% 3)::int) l
            where o.id <= %s
            """,
            (min(rows, 200_000),),
        )
        conn.execute("analyze")


def demo_source(state_dir: Path) -> str:
    """A DSN of an empty demo database: the configured server's, or a private embedded one."""
    configured = os.environ.get("CUTOVER_SOURCE_DSN")
    if configured:
        with psycopg.connect(configured, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DEMO_DATABASE)))
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(DEMO_DATABASE)))
        return urlunsplit(urlsplit(configured)._replace(path=f"/{DEMO_DATABASE}"))
    import pgserver

    state_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(state_dir.resolve() / "pgdata", cleanup_mode="stop")
    return str(server.get_uri())


def run_demo(
    rows: int, state_dir: Path, console: Console, run: Callable[[MigrationRequest, CatalogConfig], MigrationReport]
) -> MigrationReport:
    """Seed, then migrate every sample table with ``run`` (the CLI's progress-reporting runner)."""
    with console.status("starting PostgreSQL"):
        dsn = demo_source(state_dir)
    with console.status(f"seeding the sample schema ({rows:,} orders)"):
        seed_sample_schema(dsn, rows)
    request = MigrationRequest(source_dsn=dsn, namespace="demo", mode="replace")
    return run(request, default_catalog(state_dir))
