#!/usr/bin/python3
"""cascade_delete on Citus against Citus's own ON DELETE CASCADE and against
hand-written deletes (make bench-citus).

A coordinator and two workers of the benchmark's own on this machine (one
machine hosts every node: absolute figures mean little, ratios and what runs
where do). The seed's schema with a tenant column, a <- b <- c distributed by
tenant and co-located, in three copies (one schema per variant):

1. one tenant: its `a` row with --b b rows and --c c rows (default 100,000 and
   1,000,000), deleted by cascade_delete('a', ARRAY[tenant, id]), by
   DELETE FROM a (Citus's cascade: the shards' RI triggers on the worker) and
   by three hand-written DELETEs (c, b, a);
2. many tenants: one `a` row each of --tenants tenants (100 b, 1,000 c each),
   deleted by one cascade_delete_many, one DELETE ... WHERE (tenant, id) IN
   (...), and the hand-written three.

Each round deletes and then re-inserts the rows, the variants taking turns;
median of --rounds. Skips with one line without Citus.
"""
import argparse
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from cluster import citus_installed, own_dir, start_citus  # noqa: E402

VARIANTS = ("cascade_delete", "citus_cascade", "hand_written")


def schema(cur, s):
    cur.execute(f"""
        CREATE SCHEMA {s};
        CREATE TABLE {s}.a (tenant int, id int, name text, PRIMARY KEY (tenant, id));
        CREATE TABLE {s}.b (tenant int, id int, a_id int, PRIMARY KEY (tenant, id),
                            FOREIGN KEY (tenant, a_id) REFERENCES {s}.a ON DELETE CASCADE);
        CREATE TABLE {s}.c (tenant int, id int, b_id int, PRIMARY KEY (tenant, id),
                            FOREIGN KEY (tenant, b_id) REFERENCES {s}.b ON DELETE CASCADE);
        CREATE INDEX ON {s}.b (tenant, a_id);
        CREATE INDEX ON {s}.c (tenant, b_id);
        SELECT create_distributed_table('{s}.a', 'tenant', colocate_with => 'none');
        SELECT create_distributed_table('{s}.b', 'tenant', colocate_with => '{s}.a');
        SELECT create_distributed_table('{s}.c', 'tenant', colocate_with => '{s}.a');
    """)


def fill(cur, s, tenants, n_b, n_c):
    """tenants' rows: an `a` row (id 1) each with n_b b and n_c c rows."""
    cur.execute(f"INSERT INTO {s}.a SELECT t, 1, 'a' FROM unnest(%s::int[]) t", (tenants,))
    cur.execute(f"INSERT INTO {s}.b SELECT t, g, 1 FROM unnest(%s::int[]) t, generate_series(1, %s) g",
                (tenants, n_b))
    # b's statistics before c's rows are checked against it: without them a
    # worker once planned the foreign key's check as a scan of b per c row
    cur.execute(f"ANALYZE {s}.b")
    cur.execute(f"INSERT INTO {s}.c SELECT t, g, 1 + (g - 1) %% %s FROM unnest(%s::int[]) t,"
                f" generate_series(1, %s) g", (n_b, tenants, n_c))
    cur.execute(f"ANALYZE {s}.a, {s}.b, {s}.c")


def delete(cur, variant, s, tenants):
    keys = [[t, 1] for t in tenants]
    if variant == "cascade_delete":
        cur.execute(f"SELECT cascade_delete_many('{s}.a', %s::int[])", (keys,))
        return cur.fetchone()[0]["total"]
    if variant == "citus_cascade":
        cur.execute(f"DELETE FROM {s}.a WHERE tenant = ANY(%s) AND id = 1", (tenants,))
        return None
    cur.execute(f"DELETE FROM {s}.c WHERE tenant = ANY(%s) AND (tenant, b_id) IN"
                f" (SELECT tenant, id FROM {s}.b WHERE tenant = ANY(%s) AND a_id = 1)", (tenants, tenants))
    cur.execute(f"DELETE FROM {s}.b WHERE tenant = ANY(%s) AND a_id = 1", (tenants,))
    cur.execute(f"DELETE FROM {s}.a WHERE tenant = ANY(%s) AND id = 1", (tenants,))
    return None


def measure(conn, name, tenants, n_b, n_c, rounds):
    cur = conn.cursor()
    schemas = {v: "bench_" + v for v in VARIANTS}
    times = {v: [] for v in VARIANTS}
    for s in schemas.values():
        fill(cur, s, tenants, n_b, n_c)
    for r in range(rounds):
        order = VARIANTS if r % 2 == 0 else tuple(reversed(VARIANTS))
        for v in order:
            s = schemas[v]
            t0 = time.perf_counter()
            total = delete(cur, v, s, tenants)
            times[v].append(time.perf_counter() - t0)
            cur.execute(f"SELECT count(*) FROM {s}.c WHERE tenant = ANY(%s)", (tenants,))
            left = cur.fetchone()[0]
            want = len(tenants) * (1 + n_b + n_c)
            if left or (total is not None and total != want):
                raise SystemExit(f"{name}: {v} left {left} c rows, reported {total} of {want}")
            fill(cur, s, tenants, n_b, n_c)
    base = statistics.median(times["citus_cascade"])
    for v in VARIANTS:
        m = statistics.median(times[v])
        runs = ", ".join(f"{x:.2f}" for x in times[v])
        print(f"{name:<34} {v:<16} {m:8.2f} s  ({runs})  {m / base:5.2f} x Citus's cascade", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--b", type=int, default=100000, help="b rows under the one tenant's a row")
    ap.add_argument("--c", type=int, default=1000000, help="c rows under them")
    ap.add_argument("--tenants", type=int, default=100, help="tenants of the many-tenant delete")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not citus_installed():
        print("citus benchmark: skipped: Citus not installed")
        return
    base = own_dir("cascade_delete_bench_citus_")
    nodes = []
    try:
        nodes = start_citus(base, "bench")
        conn = nodes[0].connect("bench")
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION cascade_delete")
        for v in VARIANTS:
            schema(cur, "bench_" + v)
        print(f"Citus, a coordinator and 2 workers on one machine, {args.rounds} rounds, variants interleaved")
        measure(conn, f"one tenant: 1 a, {args.b:,} b, {args.c:,} c", [1], args.b, args.c, args.rounds)
        many = list(range(1000, 1000 + args.tenants))
        measure(conn, f"{args.tenants} tenants: 1 a, 100 b, 1,000 c each", many, 100, 1000, args.rounds)
        conn.close()
    finally:
        for n in nodes:
            n.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
