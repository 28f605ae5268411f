"""The demo's application: a sample schema (customers, products, orders, order lines) and a day of its writes.

The `orders` table is also the benchmarks' (:func:`create_orders`), so the demo and `bench/` measure the
same shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

SAMPLE_TABLES = ("customers", "order_lines", "orders", "products")

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


UPDATED_EVERY = 50
"""Orders whose id % 50 == 3 are updated by the day's writes (2 %)."""
DELETED_EVERY = 200
"""Orders whose id % 200 == 7 are deleted by the day's writes (0.5 %)."""


@dataclass(frozen=True)
class DayOfWrites:
    """What :func:`apply_day_of_writes` changed, per kind (the demo's summary of the application's day)."""

    orders_inserted: int
    orders_updated: int
    orders_deleted: int
    lines_inserted: int
    lines_deleted: int
    customers_updated: int
    products_updated: int
    new_column: str


DAY_OF_WRITES = """
alter table orders add column channel text;
insert into orders
select g, 1 + (g * 7919) %% 100000, 'new', round(((g * 104729) %% 10000000) / 100.0, 2), 'EUR', now(), now(),
       null, false, jsonb_build_object('sku', 'SKU-' || (g %% 1000), 'qty', 1), md5(g::text)::uuid,
       (array['web', 'app', 'store'])[1 + g %% 3]
from generate_series(%(first_new)s::bigint, %(last_new)s::bigint) g;
update orders set status = 'shipped', amount = amount + 1.00, channel = 'app', updated_at = now()
where id %% {updated_every} = 3 and id <= %(rows)s;
delete from order_lines where order_id %% {deleted_every} = 7;
delete from orders where id %% {deleted_every} = 7 and id <= %(rows)s;
insert into order_lines
select g, 1, 'SKU-' || (g %% 1000), 1, 9.99 from generate_series(%(first_new)s::bigint, %(last_new)s::bigint) g;
update customers set last_seen = now(), tier = 'pro' where id %% 100 = 1;
update products set price = price + 1 where sku like 'SKU-1_'
"""


def apply_day_of_writes(dsn: str, rows: int) -> DayOfWrites:
    """A day of the application's writes, in one transaction: new orders (1 %) with their lines, updated
    orders (2 %, ``updated_at`` moved on), deleted orders (0.5 %) with their lines, a new nullable column
    ``orders.channel`` filled in the new and updated rows, and updates of customers and products (tables
    without a cursor column, which the sync follows by ``xmin``).

    The new column has no default on purpose: an ``ADD COLUMN ... DEFAULT`` fills every existing row
    without touching ``updated_at``, which the sync detects and answers by copying the whole table.
    """
    new = max(1, rows // 100)
    params = {"rows": rows, "first_new": rows + 1, "last_new": rows + new}
    script = DAY_OF_WRITES.format(updated_every=UPDATED_EVERY, deleted_every=DELETED_EVERY)
    counts = []
    with psycopg.connect(dsn) as conn, conn.transaction():
        for statement in filter(str.strip, script.split(";\n")):
            counts.append(conn.execute(statement, params).rowcount)
    _, inserted, updated, lines_deleted, deleted, lines_inserted, customers, products = counts
    return DayOfWrites(inserted, updated, deleted, lines_inserted, lines_deleted, customers, products, "orders.channel")


def untouched_order_id(rows: int) -> int:
    """An order near the middle that the day's writes neither update nor delete (where the demo plants its
    corruption, so the validation's verdict can only come from the corruption)."""
    key = max(1, rows // 2)
    while key % UPDATED_EVERY == 3 or key % DELETED_EVERY == 7:
        key += 1
    return key
