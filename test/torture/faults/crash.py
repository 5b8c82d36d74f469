#!/usr/bin/python3
"""kill -9 of the backend in the middle of a large cascade.

Runs on a throwaway cluster of its own (initdb in a temporary directory, a
free port, a Unix socket in that directory; as the postgres user when run
as root), so that the postmaster's restart of every backend and the
"terminated by signal 9" lines stay out of the main cluster and its log.
Each trial: checksums of every table, a cascade_delete started, its backend
killed with SIGKILL after a seeded random delay (in autocommit, or in a
transaction after the call returned and before COMMIT); then wait for the
server to accept connections again, and check that every table is exactly
as before the call, that no key table or other relation was left behind,
and that cascade_delete works (and deletes exactly the subtree) afterwards.

Environment: FAULTS_SEED, FAULTS_CRASH_TRIALS (default 3), PG_BINDIR.
"""
import os
import random
import shutil
import signal
import sys
import threading
import time

import psycopg2

from lib import catalog_objects, checksums, one, q, run_main

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from cluster import Cluster, own_dir  # noqa: E402

SEED = int(os.environ.get("FAULTS_SEED", "20261121"))
TRIALS = int(os.environ.get("FAULTS_CRASH_TRIALS", "3"))
M = 15000

SCHEMA = f"""
CREATE TABLE root (id int PRIMARY KEY, note text);
CREATE TABLE mid (id int PRIMARY KEY, root_id int NOT NULL REFERENCES root ON DELETE CASCADE, pad text);
CREATE TABLE leaf (id int PRIMARY KEY, mid_id int NOT NULL REFERENCES mid ON DELETE CASCADE);
CREATE TABLE side (id int PRIMARY KEY, mid_id int REFERENCES mid ON DELETE SET NULL);
CREATE TABLE tag (id int PRIMARY KEY, mid_ref int);
CREATE TABLE dj (id int PRIMARY KEY, leaf_id int NOT NULL REFERENCES leaf DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX ON mid (root_id);
CREATE INDEX ON leaf (mid_id);
CREATE INDEX ON side (mid_id);
CREATE INDEX ON tag (mid_ref);
CREATE INDEX ON dj (leaf_id);
SELECT cascade_delete_set_policy('tag', '{{mid_ref}}', 'CASCADE', parent => 'mid');
SELECT cascade_delete_set_policy('dj', '{{leaf_id}}', 'CASCADE');
INSERT INTO root SELECT g, 'r' FROM generate_series(0, 20) g;
INSERT INTO mid SELECT g, CASE WHEN g <= {M} THEN 0 ELSE g % 20 + 1 END, repeat('p', 40)
    FROM generate_series(1, {M} + 200) g;
INSERT INTO leaf SELECT g, 1 + (g - 1) / 4 FROM generate_series(1, 4 * ({M} + 200)) g;
INSERT INTO side SELECT g, g FROM generate_series(1, {M} + 200) g;
INSERT INTO tag SELECT g, g FROM generate_series(1, {M} + 200) g;
INSERT INTO dj SELECT g, 2 * g FROM generate_series(1, 2 * ({M} + 200)) g;
"""


def body(s):
    rng = random.Random(SEED + 9)
    base = own_dir("faults_crash_")
    cl = Cluster(base, "data")
    try:
        t = time.time()
        cl.initdb()
        cl.start("restart_after_crash=on")
        s.figure("cluster_start_seconds", f"{time.time() - t:.1f}")
        def build():
            admin = cl.connect()
            admin.cursor().execute("DROP DATABASE IF EXISTS crash WITH (FORCE)")
            admin.cursor().execute("CREATE DATABASE crash")
            admin.close()
            conn = cl.connect("crash")
            cur = conn.cursor()
            cur.execute("CREATE EXTENSION cascade_delete")
            cur.execute(SCHEMA)
            cur.execute("VACUUM ANALYZE")
            return conn, cur

        conn, cur = build()
        tables = ["public.root", "public.mid", "public.leaf", "public.side", "public.tag", "public.dj"]
        before = checksums(cur, tables)
        policies = q(cur, "SELECT child::text, columns, action FROM cascade_delete_policy ORDER BY 1")
        objects = catalog_objects(cur)
        conn.autocommit = False
        t = time.time()
        cur.execute("SELECT cascade_delete('root', 0)")
        big = cur.fetchone()[0]
        d = time.time() - t
        # the tables after the call: what an autocommit call leaves when the
        # kill lands after its commit, before its result reached the client
        after_call = checksums(cur, tables)
        conn.rollback()
        conn.autocommit = True
        s.figure("big_cascade", f"{big['total']} rows deleted, {sum(big['updated'].values())} updated, {d:.2f} s")
        conn.close()

        recoveries = []
        killed = 0
        missed = 0
        for trial in range(TRIALS):
            before_commit = trial % 3 == 2
            delay = rng.uniform(0.1, 0.9) * d
            name = (f"crash trial {trial + 1} (" + ("kill before COMMIT of a completed call" if before_commit
                    else f"kill after {delay * 1000:.0f} ms of the call"
                    + (" in a transaction" if trial % 2 == 1 else "")) + ")")
            conn = cl.connect("crash")
            cur = conn.cursor()
            pid = one(cur, "SELECT pg_backend_pid()")
            fp = "on" if (trial // 2) % 2 == 0 else "off"
            cur.execute(f"SET cascade_delete.fast_path = {fp}")
            # A committed small call first: the session's key tables then
            # exist outside the killed transaction.
            cur.execute("SELECT cascade_delete('root', 999)")
            result = {}
            if before_commit:
                cur.execute("BEGIN")
                cur.execute("SELECT cascade_delete('root', 0)")
                result["done"] = cur.fetchone()[0]
                os.kill(pid, signal.SIGKILL)
                killed += 1
                try:
                    cur.execute("COMMIT")
                    result["err"] = None
                except psycopg2.Error as e:
                    result["err"] = e
            else:
                in_tx = trial % 2 == 1
                if in_tx:
                    cur.execute("BEGIN")

                def call():
                    try:
                        cur.execute("SELECT cascade_delete('root', 0)")
                        result["done"] = cur.fetchone()[0]
                        result["err"] = None
                    except psycopg2.Error as e:
                        result["err"] = e

                th = threading.Thread(target=call)
                th.start()
                time.sleep(delay)
                if th.is_alive() or in_tx:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                th.join()
                if in_tx and result.get("err") is None:
                    # The call had returned: the kill landed before COMMIT.
                    try:
                        cur.execute("COMMIT")
                    except psycopg2.Error as e:
                        result["err"] = e
            try:
                conn.close()
            except psycopg2.Error:
                pass
            if result.get("err") is None:
                # Autocommit, and the call committed before the kill: start again.
                s.note(f"{name}: the call completed before the kill; building the database again")
                missed += 1
                conn, cur = build()
                # a new database: new OIDs, so new names of its TOAST tables
                objects = catalog_objects(cur)
                conn.close()
                continue
            s.ok(isinstance(result["err"], psycopg2.OperationalError), f"{name}: the connection is lost",
                 repr(result["err"]))
            # Wait until the postmaster has reaped the killed backend (it then
            # refuses connections until crash recovery is over): a connection
            # made before that would be killed by the restart.
            t_gone = time.time()
            while time.time() - t_gone < 10:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except OSError:  # not ours to signal: fall back to waiting
                    time.sleep(0.5)
                    break
                time.sleep(0.02)
            conn, took = cl.wait_ready("crash")
            recoveries.append(took)
            cur = conn.cursor()
            now = checksums(cur, tables)
            if now == after_call and now != before and not before_commit and not in_tx:
                # The call had committed when the kill landed (the client saw
                # the connection lost, not the result): the whole call, no less.
                s.note(f"{name}: the kill landed after the call's commit; every table as after the call; "
                       "building the database again")
                missed += 1
                conn.close()
                conn, cur = build()
                objects = catalog_objects(cur)
                conn.close()
                continue
            s.eq(now, before, f"{name}: every table exactly as before the call")
            s.eq(q(cur, "SELECT child::text, columns, action FROM cascade_delete_policy ORDER BY 1"), policies,
                 f"{name}: policies intact")
            s.eq(catalog_objects(cur), objects, f"{name}: no relation left behind or lost")
            orphans = ("SELECT count(*) FROM pg_class WHERE relpersistence = 't' "
                       "AND relnamespace IS DISTINCT FROM pg_my_temp_schema()")
            # cascade_delete works afterwards, and exactly.
            conn.autocommit = False
            cur.execute("SELECT cascade_delete('root', 1)")
            rep = cur.fetchone()[0]
            s.eq(rep, {"total": 1 + 10 + 40 + 10 + 20,
                       "deleted": {"public.root": 1, "public.mid": 10, "public.leaf": 40, "public.tag": 10,
                                   "public.dj": 20},
                       "updated": {"public.side": 10}}, f"{name}: a cascade_delete afterwards is correct")
            conn.rollback()
            s.note(f"{name}: temporary relations left in pg_class by the killed backend (PostgreSQL drops "
                   f"them when the namespace is reused): "
                   f"{one(cur, orphans)}")
            conn.close()
        s.figure("kill9_trials", len(recoveries))
        s.figure("kill9_injected", killed)
        s.figure("kill9_missed_autocommit_calls", missed)
        s.ok(len(recoveries) >= max(1, TRIALS - missed), "every kill landed in a call or before its COMMIT",
             f"{len(recoveries)} of {TRIALS}")
        if recoveries:
            s.figure("recovery_seconds", ", ".join(f"{r:.1f}" for r in recoveries))
        log = cl.log_text()
        s.figure("log_lines_terminated_by_signal_9", log.count("terminated by signal 9"))
        s.ok("TRAP:" not in log, "no assertion failure in the throwaway cluster's log")
    finally:
        cl.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    run_main("crash", body)
