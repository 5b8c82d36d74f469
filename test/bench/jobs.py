#!/usr/bin/python3
"""Chunked jobs against the one-transaction call (make bench-jobs).

1. Scale: one `a` row with --b b rows and --c c rows (default 1,000,000 and
   9,000,000: a 10,000,001-row cascade), deleted by cascade_delete('a', 1) in one
   transaction and by a job (cascade_delete_start + CALL cascade_delete_run), each
   on an identical copy, the two interleaved, median of --rounds. Reports seconds,
   the backend's peak anonymous memory, WAL written, and for the job the WAL
   between two commits (largest seen by a sampler) and the chunks.
2. Concurrent OLTP: pgbench (--clients) updating and reading other rows of the
   same tables (b and c rows under a = 2) for a fixed time, alone, while the
   one-transaction call runs, and while a job runs (paced: --pause between
   chunks); per-transaction latencies from pgbench's log, p50 / p99 / max.

Runs inside pg_virtualenv (test/bench/run.sh) with the extension installed.
"""
import argparse
from contextlib import closing
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import PeakSampler, connect  # noqa: E402

OLTP_B = 10000     # b rows under a = 2, each with 10 c rows: the OLTP's rows


def build(admin, n_b, n_c, layout):
    cur = admin.cursor()
    cur.execute("DROP DATABASE IF EXISTS jobs_base")
    cur.execute("CREATE DATABASE jobs_base")
    with closing(connect("jobs_base")) as c:
        k = c.cursor()
        k.execute("CREATE EXTENSION cascade_delete")
        k.execute("CREATE TABLE a (id int PRIMARY KEY, name text)")
        k.execute("CREATE TABLE b (id bigint PRIMARY KEY, a_id int NOT NULL REFERENCES a ON DELETE CASCADE,"
                  " n int NOT NULL DEFAULT 0)")
        k.execute("CREATE TABLE c (id bigint PRIMARY KEY, b_id bigint NOT NULL REFERENCES b ON DELETE CASCADE,"
                  " v text)")
        k.execute("INSERT INTO a VALUES (1, 'big'), (2, 'oltp')")
        k.execute("INSERT INTO b SELECT g, CASE WHEN g <= %s THEN 1 ELSE 2 END FROM generate_series(1, %s) g",
                  (n_b, n_b + OLTP_B))
        if layout == "interleaved":   # each b's c rows spread over the whole table (the seed's data)
            k.execute("INSERT INTO c SELECT g, 1 + (g - 1) %% %s, 'c' FROM generate_series(1, %s) g", (n_b, n_c))
        else:                         # each b's c rows together, as when children follow their parent
            k.execute("INSERT INTO c SELECT g, 1 + (g - 1) / %s, 'c' FROM generate_series(1, %s) g",
                      (n_c // n_b, n_c))
        k.execute("INSERT INTO c SELECT %s + g, %s + 1 + (g - 1) %% %s, 'c' FROM generate_series(1, %s) g",
                  (n_c, n_b, OLTP_B, OLTP_B * 10))
        k.execute("CREATE INDEX ON b (a_id)")
        k.execute("CREATE INDEX ON c (b_id)")
        k.execute("VACUUM ANALYZE")
        k.execute("CHECKPOINT")


def fresh(admin):
    cur = admin.cursor()
    cur.execute("DROP DATABASE IF EXISTS jobs_run")
    cur.execute("CREATE DATABASE jobs_run TEMPLATE jobs_base STRATEGY FILE_COPY")
    with closing(connect("jobs_run")) as c:
        c.cursor().execute("CHECKPOINT")
    return "jobs_run"


def lsn(cur):
    cur.execute("SELECT pg_current_wal_insert_lsn() - '0/0'")
    return int(cur.fetchone()[0])


def one_transaction(db):
    c = connect(db, autocommit=False)
    k = c.cursor()
    k.execute("SELECT pg_backend_pid()")
    pid = k.fetchone()[0]
    w0 = lsn(k)
    c.commit()
    with PeakSampler(pid) as mem:
        t0 = time.perf_counter()
        k.execute("SELECT cascade_delete('a', 1) ->> 'total'")
        total = int(k.fetchone()[0])
        c.commit()
        seconds = time.perf_counter() - t0
    wal = lsn(k) - w0
    c.close()
    return {"seconds": seconds, "mb": mem.growth_mb, "wal": wal, "rows": total, "chunks": 1, "wal_commit": wal}


def job(db, chunk_rows, pause):
    c = connect(db)
    k = c.cursor()
    k.execute("SELECT pg_backend_pid()")
    pid = k.fetchone()[0]
    w0 = lsn(k)
    watcher = connect(db)
    wk = watcher.cursor()
    samples = []
    stop = threading.Event()

    def sample():   # (chunks committed, WAL position): WAL between two commits
        while not stop.is_set():
            wk.execute("SELECT coalesce((SELECT chunks FROM cascade_delete_job ORDER BY job DESC LIMIT 1), 0),"
                       " pg_current_wal_insert_lsn() - '0/0'")
            samples.append(tuple(int(x) for x in wk.fetchone()))
            time.sleep(0.02)
    th = threading.Thread(target=sample, daemon=True)
    with PeakSampler(pid) as mem:
        t0 = time.perf_counter()
        if chunk_rows is None:   # the extension's default
            k.execute("SELECT cascade_delete_start('a', 1, pause => %s)", (pause,))
        else:
            k.execute("SELECT cascade_delete_start('a', 1, chunk_rows => %s, pause => %s)", (chunk_rows, pause))
        job_id = k.fetchone()[0]
        planned = time.perf_counter() - t0
        th.start()
        k.execute("CALL cascade_delete_run(%s)", (job_id,))
        seconds = time.perf_counter() - t0
    stop.set()
    th.join()
    wal = lsn(k) - w0
    k.execute("SELECT state, done_rows, chunks FROM cascade_delete_jobs WHERE job = %s", (job_id,))
    state, done, chunks = k.fetchone()
    if state != "finished":
        raise SystemExit(f"job {job_id}: {state}")
    # The largest WAL between two commits: between the first samples that saw
    # two successive chunk counts (a sample every 20 ms; a chunk takes longer).
    firsts = [s for i, s in enumerate(samples) if i == 0 or s[0] != samples[i - 1][0]]
    per_commit = [w2 - w1 for (c1, w1), (c2, w2) in zip(firsts, firsts[1:]) if c2 - c1 == 1]
    c.close()
    watcher.close()
    return {"seconds": seconds, "plan": planned, "mb": mem.growth_mb, "wal": wal, "rows": done,
            "chunks": chunks, "wal_commit": max(per_commit) if per_commit else None}


def survivors_ok(db, n_b, n_c):
    with closing(connect(db)) as c:
        k = c.cursor()
        k.execute("SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT count(*) FROM c)")
        return k.fetchone() == (1, OLTP_B, OLTP_B * 10)


OLTP_SCRIPT = f"""\\set bid random({{first}}, {{last}})
BEGIN;
UPDATE b SET n = n + 1 WHERE id = :bid;
SELECT count(*) FROM c WHERE b_id = :bid;
UPDATE c SET v = 'x' WHERE id = (SELECT min(id) FROM c WHERE b_id = :bid);
END;
"""


def oltp(db, n_b, clients, seconds, during=None):
    """pgbench for `seconds`; `during` (a function) starts after 1 s in a thread.
    Returns latencies in ms and what `during` returned."""
    logdir = tempfile.mkdtemp(prefix="cd_oltp_")
    script = os.path.join(logdir, "oltp.sql")
    with open(script, "w") as f:
        f.write(OLTP_SCRIPT.format(first=n_b + 1, last=n_b + OLTP_B))
    result = {}
    th = None
    if during:
        def go():
            time.sleep(1)
            result["during"] = during()
        th = threading.Thread(target=go)
    proc = subprocess.Popen(["pgbench", "-n", "-f", script, "-c", str(clients), "-T", str(seconds), "-l",
                             "--log-prefix", os.path.join(logdir, "log"), db],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if th:
        th.start()
    out = proc.communicate()[0]
    if th:
        th.join()
    if proc.returncode != 0:
        raise SystemExit("pgbench failed:\n" + out)
    lat = []
    for path in glob.glob(os.path.join(logdir, "log*")):
        with open(path) as f:
            for line in f:
                parts = line.split()
                lat.append(int(parts[2]) / 1000.0)
    lat.sort()
    return lat, result.get("during")


def pct(lat, p):
    return lat[min(len(lat) - 1, int(len(lat) * p))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--b", type=int, default=1000000)
    ap.add_argument("--c", type=int, default=9000000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chunk-rows", type=int, default=None, help="default: the extension's (50,000)")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--oltp-seconds", type=int, default=0, help="0: 1.2 x the slower variant's time + 5 s")
    ap.add_argument("--layout", choices=["interleaved", "clustered"], default="interleaved",
                    help="c rows of one b spread over the table (default), or together")
    ap.add_argument("--no-oltp", action="store_true", help="skip the concurrent OLTP part")
    ap.add_argument("--pause", default="20 ms", help="the paced job's pause between chunks (OLTP part)")
    args = ap.parse_args()
    admin = connect("postgres")
    print(f"jobs: 1 a -> {args.b} b -> {args.c} c ({1 + args.b + args.c} rows, {args.layout}), chunk_rows {args.chunk_rows or 'default'};"
          f" {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores")
    sys.stdout.flush()
    build(admin, args.b, args.c, args.layout)
    runs = {"one transaction": [], "job": []}
    for r in range(args.rounds):
        for name in (("one transaction", "job") if r % 2 == 0 else ("job", "one transaction")):
            db = fresh(admin)
            res = one_transaction(db) if name == "one transaction" else job(db, args.chunk_rows, "0")
            if not survivors_ok(db, args.b, args.c):
                raise SystemExit(f"{name}: survivors differ")
            runs[name].append(res)
            print(f"  round {r + 1}: {name}: {res['seconds']:.1f} s"
                  + (f" (plan {res['plan']:.1f} s, {res['chunks']} chunks)" if "plan" in res else ""))
            sys.stdout.flush()
    print(f"\n{'variant':<18} {'seconds':>8} {'x one-tx':>8} {'backend MB':>10} {'WAL MB':>8} {'chunks':>7} "
          f"{'WAL MB / commit':>15}   (median of {args.rounds}; each run's seconds)")
    base = statistics.median(r["seconds"] for r in runs["one transaction"])
    for name, rs in runs.items():
        med = sorted(rs, key=lambda r: r["seconds"])[len(rs) // 2]
        wc = med["wal_commit"]
        print(f"{name:<18} {med['seconds']:8.1f} {med['seconds'] / base:8.2f} {max(r['mb'] for r in rs):10.1f} "
              f"{med['wal'] / 2**20:8.0f} {med['chunks']:7d} {(wc / 2**20 if wc else 0):15.2f}   "
              + ", ".join(f"{r['seconds']:.1f}" for r in rs))
    sys.stdout.flush()

    if args.no_oltp:
        return
    slowest = max(statistics.median(r["seconds"] for r in rs) for rs in runs.values())
    seconds = args.oltp_seconds or int(slowest * 1.2 + 5)
    print(f"\nconcurrent OLTP: pgbench, {args.clients} clients, {seconds} s, on b / c rows under a = 2;"
          f" the delete starts after 1 s; job paced with pause {args.pause}")
    print(f"{'while':<26} {'tx':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'delete s':>9}")
    for name in ("nothing", "one-transaction call", "job"):
        db = fresh(admin)
        during = None
        if name == "one-transaction call":
            during = lambda: one_transaction(db)["seconds"]  # noqa: E731
        elif name == "job":
            during = lambda: job(db, args.chunk_rows, args.pause)["seconds"]  # noqa: E731
        lat, took = oltp(db, args.b, args.clients, seconds, during)
        print(f"{name:<26} {len(lat):8d} {pct(lat, 0.5):8.2f} {pct(lat, 0.99):8.2f} {lat[-1]:8.1f} "
              f"{(took or 0):9.1f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
