#!/usr/bin/python3
"""Small deletes: cascade_delete against PostgreSQL's own ON DELETE CASCADE.

Each shape is built once as a template with one subtree per call; native and
cascade_delete run on two identical copies of it. A call deletes one root in
its own autocommit transaction, and the two variants take turns in blocks of
BLOCK calls, so that both see the same machine noise. Two ways of measuring:

* client: psycopg2, a prepared statement run with EXECUTE, timed around the
  round trip (what an application sees), cascade_delete's report decoded
  into a dict as psycopg2 does by default;
* raw: the same with the report left as text (psycopg2 spends about 8 µs of
  Python decoding it: the client's own cost, not the server's);
* server: a PL/pgSQL procedure that runs a block of calls, COMMIT after each,
  timing each call with clock_timestamp() (no network, no parsing: what the
  extension itself costs against the native cascade).

Prints p50 and p99 per shape, way and variant, the p50 ratio
cascade_delete / native over all calls and its range over the rounds.
Runs inside pg_virtualenv or against PGHOST / PGPORT (a superuser).
"""
import argparse
from contextlib import closing
import statistics
import time

import psycopg2
import psycopg2.extras

BLOCK = 100
WARM = 10  # calls per variant before measuring
WAYS = ("client", "raw", "server")


def connect(db, decode_jsonb=True, options=None):
    c = psycopg2.connect(dbname=db, options=options)
    c.autocommit = True
    if not decode_jsonb:
        psycopg2.extras.register_default_jsonb(c, loads=lambda text: text)
    return c


def deep(k, n):
    """a <- b <- c: 1 + 2 + 8 rows per call."""
    k.execute("CREATE TABLE a (id int PRIMARY KEY, name text)")
    k.execute("CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a ON DELETE CASCADE)")
    k.execute("CREATE TABLE c (id int PRIMARY KEY, b_id int NOT NULL REFERENCES b ON DELETE CASCADE)")
    k.execute("CREATE INDEX ON b (a_id)")
    k.execute("CREATE INDEX ON c (b_id)")
    k.execute("INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, %s) g", (n,))
    k.execute("INSERT INTO b SELECT g, 1 + (g - 1) / 2 FROM generate_series(1, %s * 2) g", (n,))
    k.execute("INSERT INTO c SELECT g, 1 + (g - 1) / 4 FROM generate_series(1, %s * 8) g", (n,))
    return "a"


def wide(k, n):
    """A user row with 30 referencing tables (2 rows each), 10 of them with 2
    grandchildren per row: 1 + 60 + 40 = 101 rows over 41 tables."""
    k.execute("CREATE TABLE u (id int PRIMARY KEY, name text)")
    k.execute("INSERT INTO u SELECT g, 'u' || g FROM generate_series(1, %s) g", (n,))
    for i in range(30):
        k.execute(f"CREATE TABLE w{i} (id int PRIMARY KEY, u_id int NOT NULL REFERENCES u ON DELETE CASCADE,"
                  " note text)")
        k.execute(f"CREATE INDEX ON w{i} (u_id)")
        k.execute(f"INSERT INTO w{i} SELECT g, 1 + (g - 1) / 2, 'x' FROM generate_series(1, %s * 2) g", (n,))
        if i < 10:
            k.execute(f"CREATE TABLE g{i} (id int PRIMARY KEY, w_id int NOT NULL REFERENCES w{i} ON DELETE CASCADE)")
            k.execute(f"CREATE INDEX ON g{i} (w_id)")
            k.execute(f"INSERT INTO g{i} SELECT g, 1 + (g - 1) / 2 FROM generate_series(1, %s * 4) g", (n,))
    return "u"


def three(k, n):
    """r <- t: 1 + 2 rows."""
    k.execute("CREATE TABLE r (id int PRIMARY KEY)")
    k.execute("CREATE TABLE t (id int PRIMARY KEY, r_id int NOT NULL REFERENCES r ON DELETE CASCADE)")
    k.execute("CREATE INDEX ON t (r_id)")
    k.execute("INSERT INTO r SELECT g FROM generate_series(1, %s) g", (n,))
    k.execute("INSERT INTO t SELECT g, 1 + (g - 1) / 2 FROM generate_series(1, %s * 2) g", (n,))
    return "r"


def one(k, n):
    """A row nothing references (its table is referenced, by no row of it)."""
    k.execute("CREATE TABLE s (id int PRIMARY KEY)")
    k.execute("CREATE TABLE s_ref (id int PRIMARY KEY, s_id int REFERENCES s ON DELETE CASCADE)")
    k.execute("CREATE INDEX ON s_ref (s_id)")
    k.execute("INSERT INTO s SELECT g FROM generate_series(1, %s) g", (n,))
    return "s"


def tree(k, n):
    """Employees reporting to employees: a manager, 2 reports, 2 of theirs (5 rows)."""
    k.execute("CREATE TABLE e (id int PRIMARY KEY, boss int REFERENCES e ON DELETE CASCADE)")
    k.execute("CREATE INDEX ON e (boss)")
    # the call deletes id g (1..n); its subtree has ids above n
    k.execute("INSERT INTO e SELECT g, NULL FROM generate_series(1, %s) g", (n,))
    k.execute("INSERT INTO e SELECT %s + 2 * g - 1 + i, g FROM generate_series(1, %s) g, "
              "generate_series(0, 1) i", (n, n))
    k.execute("INSERT INTO e SELECT 3 * %s + 2 * g - 1 + i, %s + 2 * g - 1 FROM generate_series(1, %s) g, "
              "generate_series(0, 1) i", (n, n, n))
    return "e"


def many_fks(k, n):
    """The deep shape in a schema of 400 more foreign keys (200 tables in
    chains of 10 under 20 hubs, each with a second key to its hub)."""
    root = deep(k, n)
    for h in range(20):
        k.execute(f"CREATE TABLE hub{h} (id int PRIMARY KEY)")
        prev = f"hub{h}"
        for j in range(10):
            k.execute(f"CREATE TABLE m{h}_{j} (id int PRIMARY KEY, up int REFERENCES {prev} ON DELETE CASCADE,"
                      f" hub int REFERENCES hub{h} ON DELETE CASCADE)")
            prev = f"m{h}_{j}"
    return root


def deep_other_owner(k, n):
    """The deep shape, b and c owned by another role than the caller's: their
    rows change as that owner (PostgreSQL's RI model)."""
    root = deep(k, n)
    k.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_owner') THEN "
              "CREATE ROLE bench_owner; END IF; END $$")
    k.execute("ALTER TABLE b OWNER TO bench_owner")
    k.execute("ALTER TABLE c OWNER TO bench_owner")
    return root


# (name, build, the cascade_delete sessions' options)
STATEMENTS = "-c cascade_delete.probe_rows=0"
SHAPES = [("deep: a <- b <- c, 1 + 2 + 8 rows", deep),
          ("deep by statements", deep, STATEMENTS),
          ("deep by statements, b and c another owner's", deep_other_owner, STATEMENTS),
          ("wide: 101 rows over 41 tables", wide),
          ("3 rows: r <- t", three),
          ("1 row, no children", one),
          ("self-referencing tree, 5 rows", tree),
          ("deep, in a schema of 402 foreign keys", many_fks)]

PROCEDURE = """
CREATE PROCEDURE bench_calls(first int, last int, native bool, INOUT micros float8[])
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
BEGIN
  micros := '{}';
  FOR i IN first .. last LOOP
    t0 := clock_timestamp();
    IF native THEN
      DELETE FROM {root} WHERE id = i;
    ELSE
      PERFORM cascade_delete('{root}', i);
    END IF;
    micros := micros || (EXTRACT(epoch FROM clock_timestamp() - t0) * 1e6)::float8;
    COMMIT;
  END LOOP;
END $$;
"""


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]


def measure(admin, name, build, calls, rounds, options=None):
    cur = admin.cursor()
    for db in ("small_tpl", "small_native", "small_cd"):
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
    cur.execute("CREATE DATABASE small_tpl")
    with closing(connect("small_tpl")) as c:
        k = c.cursor()
        k.execute("CREATE EXTENSION cascade_delete")
        total = calls * len(WAYS) * rounds  # ids 1..total are measured, the rest warm up
        root = build(k, total + 2 * len(WAYS) * WARM)
        k.execute(PROCEDURE.replace("{root}", root))
        k.execute("VACUUM ANALYZE")
    cur.execute("CREATE DATABASE small_native TEMPLATE small_tpl")
    cur.execute("CREATE DATABASE small_cd TEMPLATE small_tpl")
    # a session per variant and way (raw: the report not decoded)
    conns = {(way, v): connect("small_" + v, decode_jsonb=way != "raw", options=options if v == "cd" else None)
             for way in WAYS for v in ("native", "cd")}
    try:
        stmt = {"native": f"DELETE FROM {root} WHERE id = $1", "cd": f"SELECT cascade_delete('{root}', $1)"}
        warm_id = total + 1
        for (_, v), c in conns.items():
            k = c.cursor()
            k.execute(f"PREPARE call(int) AS {stmt[v]}")
            # warm: the session's graph, plans and caches
            for i in range(warm_id, warm_id + WARM):
                k.execute("EXECUTE call(%s)", (i,))
            warm_id += WARM
        times = {key: [] for key in conns}
        round_ratio = {way: [] for way in WAYS}
        next_id = 1
        for _ in range(rounds):
            per_round = {key: [] for key in conns}
            for way in WAYS:
                for block in range(0, calls, BLOCK):
                    ids = range(next_id, next_id + min(BLOCK, calls - block))
                    next_id += len(ids)
                    for v in ("native", "cd") if block // BLOCK % 2 == 0 else ("cd", "native"):
                        k = conns[(way, v)].cursor()
                        if way != "server":
                            for i in ids:
                                t0 = time.perf_counter()
                                k.execute("EXECUTE call(%s)", (i,))
                                if v == "cd":
                                    k.fetchone()
                                per_round[(way, v)].append((time.perf_counter() - t0) * 1e6)
                        else:
                            k.execute("CALL bench_calls(%s, %s, %s, NULL)", (ids[0], ids[-1], v == "native"))
                            per_round[(way, v)] += k.fetchone()[0]
                round_ratio[way].append(statistics.median(per_round[(way, "cd")]) /
                                        statistics.median(per_round[(way, "native")]))
            for key, xs in per_round.items():
                times[key] += xs
        for v in ("native", "cd"):
            k = conns[("client", v)].cursor()
            k.execute(f"SELECT count(*) FROM {root} WHERE id < %s", (next_id,))
            left = k.fetchone()[0]
            if left:
                raise SystemExit(f"{name}: {v} left {left} roots it was asked to delete")
    finally:
        for c in conns.values():
            c.close()
        for db in ("small_tpl", "small_native", "small_cd"):
            cur.execute(f"DROP DATABASE IF EXISTS {db}")
    rows = []
    for way in WAYS:
        n, d = times[(way, "native")], times[(way, "cd")]
        rows.append((name, way, pct(n, .5), pct(n, .99), pct(d, .5), pct(d, .99), pct(d, .5) / pct(n, .5),
                     pct(d, .99) / pct(n, .99), min(round_ratio[way]), max(round_ratio[way])))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=1000, help="calls per variant, way and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shape", action="append", help="only shapes whose name starts with this")
    args = ap.parse_args()
    run(connect("postgres"), args.calls, args.rounds, args.shape)


def run(admin, calls, rounds, only=None):
    print(f"\nsmall deletes: {calls} calls per variant, way and round, {rounds} rounds, blocks of {BLOCK}"
          " interleaved; times in microseconds")
    print(f"{'shape':<40} {'way':<7} {'native p50':>10} {'p99':>7} {'cd p50':>8} {'p99':>7}"
          f" {'p50 ratio':>9} {'p99 ratio':>9} {'rounds':>11}")
    for name, build, *options in SHAPES:
        if only and not any(name.startswith(o) for o in only):
            continue
        for r in measure(admin, name, build, calls, rounds, *options):
            print(f"{r[0]:<40} {r[1]:<7} {r[2]:10.0f} {r[3]:7.0f} {r[4]:8.0f} {r[5]:7.0f} {r[6]:9.2f}"
                  f" {r[7]:9.2f} {r[8]:5.2f}-{r[9]:.2f}", flush=True)


if __name__ == "__main__":
    main()
