#!/usr/bin/python3
"""Scale: a cascade of many rows with bounded backend memory, deep
self-references and cycles without stack overflow, and a table graph of
many tables (a wide tree and a long chain) with planning times.

Default sizes are small; FAULTS_LONG=1 (run.sh --long) uses the issue's:
10,000,000 rows, a chain of depth 1,000,000, 1,000 tables. Each size can
be set on its own: FAULTS_ROWS, FAULTS_DEPTH, FAULTS_CYCLE_DEPTH,
FAULTS_TABLES.

The backend's memory is sampled from /proc/<pid>/status (VmRSS, RssAnon)
every 20 ms during the call; RssAnon is the backend's private memory
(shared buffers are RssShmem), so its growth over the call is what the
call costs. Skipped when the server is not on this machine.
"""
import os
import threading
import time

from lib import attempt, connect, one, proc_status, q, run_main

LONG = os.environ.get("FAULTS_LONG") == "1"
ROWS = int(os.environ.get("FAULTS_ROWS", 10_000_000 if LONG else 200_000))
DEPTH = int(os.environ.get("FAULTS_DEPTH", 1_000_000 if LONG else 100_000))
CYCLE_DEPTH = int(os.environ.get("FAULTS_CYCLE_DEPTH", 1_000_000 if LONG else 30_000))
NTABLES = int(os.environ.get("FAULTS_TABLES", 1000 if LONG else 300))


class Sampler:
    """Peak VmRSS / RssAnon of a local process while running."""

    def __init__(self, pid):
        self.pid = pid
        self.base = proc_status(pid)
        self.peak = self.base
        self.stop = threading.Event()
        self.th = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop.is_set():
            st = proc_status(self.pid)
            if st:
                self.peak = (max(self.peak[0], st[0]), max(self.peak[1], st[1]))
            time.sleep(0.02)

    def __enter__(self):
        if self.base:
            self.th.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        if self.base:
            self.th.join()

    def text(self):
        if not self.base:
            return "not measured (server not local)"
        return (f"RssAnon {self.base[1] / 1024:.1f} -> peak {self.peak[1] / 1024:.1f} MB "
                f"(+{(self.peak[1] - self.base[1]) / 1024:.1f} MB), VmRSS peak {self.peak[0] / 1024:.1f} MB")

    def anon_growth_mb(self):
        return (self.peak[1] - self.base[1]) / 1024 if self.base else 0


def local_backend(cur):
    pid = one(cur, "SELECT pg_backend_pid()")
    st = proc_status(pid)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            is_pg = b"postgres" in f.read()
    except OSError:
        is_pg = False
    return pid if st and is_pg else None


def timed(cur, sql, args=None):
    t = time.time()
    cur.execute(sql, args)
    r = cur.fetchone()[0] if cur.description else None
    return r, time.time() - t


def phases(conn):
    """Phase timings the last call logged at DEBUG1."""
    out = []
    for n in conn.notices:
        if "cascade_delete: " in n and " ms" in n and "deleted " not in n:
            out.append(n.split("cascade_delete: ")[1].strip())
    del conn.notices[:]
    return ", ".join(out)


def phase_ms(text):
    return sum(float(p.split()[-2]) for p in text.split(", ") if p.endswith(" ms"))


def big_cascade(s):
    db, conn = s.new_db("rows")
    cur = conn.cursor()
    nb = ROWS // 10
    nc = ROWS - nb - 1
    s.note(f"big cascade: 1 a, {nb} b, {nc} c rows under it, plus 1,000 b and 10,000 c rows that stay")
    t = time.time()
    cur.execute(f"""
        CREATE TABLE a (id int PRIMARY KEY);
        CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a ON DELETE CASCADE, v int);
        CREATE TABLE c (id bigint PRIMARY KEY, b_id int NOT NULL REFERENCES b ON DELETE CASCADE, v int);
        INSERT INTO a VALUES (1), (2);
        INSERT INTO b SELECT g, CASE WHEN g <= {nb} THEN 1 ELSE 2 END, g FROM generate_series(1, {nb} + 1000) g;
        INSERT INTO c SELECT g, CASE WHEN g <= {nc} THEN 1 + (g - 1) % {nb} ELSE {nb} + 1 + g % 1000 END, g
            FROM generate_series(1, {nc} + 10000) g;
        CREATE INDEX ON b (a_id);
        CREATE INDEX ON c (b_id);
    """)
    cur.execute("VACUUM ANALYZE")
    s.figure("rows_setup_seconds", f"{time.time() - t:.1f}")
    s.figure("work_mem", one(cur, "SHOW work_mem"))
    pid = local_backend(cur)
    cur.execute("SELECT cascade_delete('a', 999)")  # load the library, cache the graph
    with Sampler(pid) as sm:
        rep, secs = timed(cur, "SELECT cascade_delete('a', 1)")
    s.eq(rep, {"total": 1 + nb + nc, "deleted": {"public.a": 1, "public.b": nb, "public.c": nc}, "updated": {}},
         f"cascade of {ROWS:,} rows: report")
    s.eq((one(cur, "SELECT count(*) FROM b"), one(cur, "SELECT count(*) FROM c")), (1000, 10000),
         "... exactly the rows outside it remain")
    s.figure(f"rows_{ROWS}_seconds", f"{secs:.1f}")
    s.figure(f"rows_{ROWS}_backend_memory", sm.text())
    if pid:
        s.ok(sm.anon_growth_mb() < 256, f"cascade of {ROWS:,} rows: backend memory bounded (< 256 MB growth)",
             sm.text())
    conn.close()


def deep(s):
    db, conn = s.new_db("deep")
    cur = conn.cursor()
    pid = local_backend(cur)
    # A self-referencing chain: node i references node i - 1.
    t = time.time()
    cur.execute(f"""
        CREATE TABLE node (id int PRIMARY KEY, parent_id int REFERENCES node ON DELETE CASCADE);
        INSERT INTO node SELECT g, nullif(g - 1, 0) FROM generate_series(1, {DEPTH}) g;
        INSERT INTO node VALUES ({DEPTH} + 1, NULL), ({DEPTH} + 2, {DEPTH} + 1);
        CREATE INDEX ON node (parent_id);
    """)
    cur.execute("VACUUM ANALYZE node")
    s.figure("chain_setup_seconds", f"{time.time() - t:.1f}")
    cur.execute("SELECT cascade_delete('node', -1)")
    for fp in ("on", "off"):
        if fp == "off" and DEPTH > 200_000:
            continue  # PostgreSQL's own per-row triggers then run once per row: not what is measured
        conn.autocommit = False
        cur.execute(f"SET cascade_delete.fast_path = {fp}; SET client_min_messages = debug1")
        del conn.notices[:]
        with Sampler(pid) as sm:
            t = time.time()
            rows, e = attempt(conn, "SELECT cascade_delete('node', 1)")
            secs = time.time() - t
        if s.ok(e is None, f"self-referencing chain of depth {DEPTH:,} (fast_path {fp}): completes", str(e)):
            s.eq(rows[0][0]["total"], DEPTH, f"... deletes the whole chain (fast_path {fp})")
            s.eq(one(cur, "SELECT count(*) FROM node"), 2, f"... and nothing else (fast_path {fp})")
        s.figure(f"chain_depth_{DEPTH}_fast_path_{fp}", f"{secs:.1f} s, backend {sm.text()}")
        s.figure(f"chain_depth_{DEPTH}_fast_path_{fp}_phases", phases(conn))
        conn.rollback()
        conn.autocommit = True

    # A cycle through three tables: a path a1 -> b1 -> c1 -> a2 -> ...
    n = CYCLE_DEPTH // 3
    t = time.time()
    cur.execute(f"""
        CREATE TABLE ca (id int PRIMARY KEY, c_id int);
        CREATE TABLE cb (id int PRIMARY KEY, a_id int REFERENCES ca ON DELETE CASCADE);
        CREATE TABLE cc (id int PRIMARY KEY, b_id int REFERENCES cb ON DELETE CASCADE);
        ALTER TABLE ca ADD FOREIGN KEY (c_id) REFERENCES cc ON DELETE CASCADE;
        CREATE INDEX ON ca (c_id);
        CREATE INDEX ON cb (a_id);
        CREATE INDEX ON cc (b_id);
        INSERT INTO ca SELECT g, NULL FROM generate_series(1, {n}) g;
        INSERT INTO cb SELECT g, g FROM generate_series(1, {n}) g;
        INSERT INTO cc SELECT g, g FROM generate_series(1, {n}) g;
        UPDATE ca SET c_id = id - 1 WHERE id > 1;
        -- and a wide part: 1,000 short paths hanging from a1
        INSERT INTO cb SELECT {n} + g, 1 FROM generate_series(1, 1000) g;
        INSERT INTO cc SELECT {n} + g, {n} + g FROM generate_series(1, 1000) g;
    """)
    cur.execute("VACUUM ANALYZE")
    s.figure("cycle_setup_seconds", f"{time.time() - t:.1f}")
    for fp in ("on", "off"):
        if fp == "off" and CYCLE_DEPTH > 200_000:
            continue
        conn.autocommit = False
        cur.execute(f"SET cascade_delete.fast_path = {fp}; SET client_min_messages = debug1")
        del conn.notices[:]
        with Sampler(pid) as sm:
            t = time.time()
            rows, e = attempt(conn, "SELECT cascade_delete('ca', 1)")
            secs = time.time() - t
        if s.ok(e is None, f"cycle through 3 tables, path of {3 * n:,} rows (fast_path {fp}): completes", str(e)):
            s.eq(rows[0][0]["total"], 3 * n + 2000, f"... deletes every row of the cycle (fast_path {fp})")
            s.eq(one(cur, "SELECT count(*) FROM ca") + one(cur, "SELECT count(*) FROM cb")
                 + one(cur, "SELECT count(*) FROM cc"), 0, f"... and leaves none (fast_path {fp})")
        s.figure(f"cycle_path_{3 * n}_fast_path_{fp}", f"{secs:.1f} s, backend {sm.text()}")
        s.figure(f"cycle_path_{3 * n}_fast_path_{fp}_phases", phases(conn))
        conn.rollback()
        conn.autocommit = True
    conn.close()


def many_tables(s):
    db, conn = s.new_db("tables")
    cur = conn.cursor()
    n = NTABLES
    t = time.time()
    # A wide tree: root <- w1 .. w(n-1), each child with 2 rows under root row 1.
    cur.execute("CREATE SCHEMA wide; CREATE TABLE wide.root (id int PRIMARY KEY); INSERT INTO wide.root VALUES (1), (2)")
    ddl = []
    for i in range(1, n):
        ddl.append(f"CREATE TABLE wide.w{i} (id int PRIMARY KEY, root_id int REFERENCES wide.root ON DELETE CASCADE);"
                   f"INSERT INTO wide.w{i} VALUES (1, 1), (2, 1), (3, 2);")
    for k in range(0, len(ddl), 100):
        cur.execute("".join(ddl[k:k + 100]))
    # A long chain: l0 <- l1 <- ... <- l(n-1), two rows each, one under l0 row 1.
    cur.execute("CREATE SCHEMA chain; CREATE TABLE chain.l0 (id int PRIMARY KEY); INSERT INTO chain.l0 VALUES (1), (2)")
    ddl = []
    for i in range(1, n):
        ddl.append(f"CREATE TABLE chain.l{i} (id int PRIMARY KEY, up int REFERENCES chain.l{i - 1} ON DELETE CASCADE);"
                   f"INSERT INTO chain.l{i} VALUES (1, 1), (2, 2);")
    for k in range(0, len(ddl), 100):
        cur.execute("".join(ddl[k:k + 100]))
    cur.execute("ANALYZE")
    s.figure(f"tables_{n}_setup_seconds", f"{time.time() - t:.1f}")
    # (the extension's own job tables have foreign keys too: not counted)
    s.eq(one(cur, "SELECT count(*) FROM pg_constraint c WHERE contype = 'f' AND NOT EXISTS "
                  "(SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.conrelid"
                  " AND d.deptype = 'e')"), 2 * (n - 1), f"{2 * (n - 1)} foreign keys")
    for shape, target, total in (("wide tree", "wide.root", 1 + 2 * (n - 1)), ("long chain", "chain.l0", n)):
        c2 = connect(db)  # a fresh session: nothing cached
        k = c2.cursor()
        k.execute("SET client_min_messages = debug1")
        c2.notices = []
        r1, t1 = timed(k, "SELECT cascade_delete(%s, 1, dry_run => true)", (target,))
        p1 = phases(c2)
        cached = []
        for _ in range(4):
            r2, t2 = timed(k, "SELECT cascade_delete(%s, 1, dry_run => true)", (target,))
            p2 = phases(c2)
            cached.append((t2, p2))
        t2, p2 = min(cached)
        c2.autocommit = False
        r3, t3 = timed(k, "SELECT cascade_delete(%s, 1)", (target,))
        p3 = phases(c2)
        c2.rollback()
        s.eq((r1["total"], r2["total"], r3["total"]), (total, total, total), f"{n} tables, {shape}: counts")
        name = f"tables_{n}_{shape.replace(' ', '_')}"
        s.figure(name, f"first dry run {t1 * 1000:.0f} ms (new session: catalog, plan, key tables; "
                       f"{(t1 - phase_ms(p1) / 1000) * 1000:.0f} ms outside the logged phases), "
                       f"cached dry run {t2 * 1000:.0f} ms (best of 4; {(t2 - phase_ms(p2) / 1000) * 1000:.0f} ms "
                       f"outside the logged phases), real call {t3 * 1000:.0f} ms")
        s.figure(name + "_phases_first", p1)
        s.figure(name + "_phases_cached", p2)
        s.ok(t2 < 0.01 * n + 1, f"{n} tables, {shape}: a cached dry run takes under {0.01 * n + 1:.0f} s",
             f"{t2:.1f} s")
        c2.close()
    conn.close()


def small_calls(s):
    """Small cascades through a self-reference and a cycle: their statements
    must not be JIT-compiled (a key table has no statistics, and a recursive
    query over it is estimated huge: with PostgreSQL's default jit = on, each
    3-row call then spends ~200 ms compiling). Checked with auto_explain."""
    db, conn = s.new_db("small")
    cur = conn.cursor()
    if not one(cur, "SELECT pg_jit_available()"):
        s.note("JIT not available on this server: small-call JIT check skipped")
        conn.close()
        return
    cur.execute("""
        CREATE TABLE root (id int PRIMARY KEY);
        CREATE TABLE node (id int PRIMARY KEY, parent_id int REFERENCES node ON DELETE CASCADE,
                           root_id int REFERENCES root ON DELETE CASCADE);
        CREATE TABLE ca (id int PRIMARY KEY, root_id int REFERENCES root ON DELETE CASCADE, c_id int);
        CREATE TABLE cb (id int PRIMARY KEY, a_id int REFERENCES ca ON DELETE CASCADE);
        CREATE TABLE cc (id int PRIMARY KEY, b_id int REFERENCES cb ON DELETE CASCADE);
        ALTER TABLE ca ADD FOREIGN KEY (c_id) REFERENCES cc ON DELETE CASCADE;
        CREATE INDEX ON node (parent_id); CREATE INDEX ON node (root_id);
        CREATE INDEX ON ca (root_id); CREATE INDEX ON ca (c_id); CREATE INDEX ON cb (a_id); CREATE INDEX ON cc (b_id);
        INSERT INTO root SELECT generate_series(1, 10000);
        INSERT INTO node SELECT g, NULL, g FROM generate_series(1, 10000) g;
        INSERT INTO node SELECT g, g - 10000, NULL FROM generate_series(10001, 20000) g;
        INSERT INTO ca SELECT g, g, NULL FROM generate_series(1, 10000) g;
        INSERT INTO cb SELECT g, g FROM generate_series(1, 10000) g;
        INSERT INTO cc SELECT g, g FROM generate_series(1, 10000) g;
        ANALYZE;
    """)
    cur.execute("SELECT cascade_delete('root', 1)")
    cur.execute("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
                "SET auto_explain.log_nested_statements = on; SET client_min_messages = log")
    jitted, times = [], []
    for r in (2, 3, 4):
        conn.notices = []
        t = time.time()
        rep = one(cur, "SELECT cascade_delete('root', %s)", (r,))
        times.append((time.time() - t) * 1000)
        for n in conn.notices:
            if "JIT:" in n:
                jitted.append(n.split("Query Text: ")[1].split("\n")[0][:160] if "Query Text: " in n else n[:160])
    s.eq(rep["total"], 1 + 2 + 3, "small call through a self-reference and a 3-table cycle: counts")
    cur.execute("RESET client_min_messages; SET jit = off")
    off = []
    for r in (5, 6, 7):
        t = time.time()
        cur.execute("SELECT cascade_delete('root', %s)", (r,))
        off.append((time.time() - t) * 1000)
    s.figure("small_call_self_reference_and_cycle_ms",
             f"jit on (default): {', '.join(f'{x:.0f}' for x in times)}; jit off: {', '.join(f'{x:.0f}' for x in off)}")
    s.ok(not jitted, "BUG jit-small-calls: no statement of a 6-row cascade is JIT-compiled",
         f"{len(jitted)} JIT-compiled statements in 3 calls, e.g. {jitted[:1]}")
    conn.close()


def body(s):
    s.note(f"sizes: {ROWS:,} rows, chain depth {DEPTH:,}, cycle path {CYCLE_DEPTH:,}, {NTABLES} tables")
    for part in (small_calls, big_cascade, deep, many_tables):
        try:
            part(s)
        except Exception:
            s.crashed(part.__name__)


if __name__ == "__main__":
    run_main("scale", body)
