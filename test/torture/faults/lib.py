"""Shared helpers of the faults suite: databases, checks, checksums, figures.

Every script of the suite prints one line per check ("ok ..." or "FAIL ..."),
"FIGURE name: value" lines for the report, and a last line
"<part>: N passed, M failed". run.sh adds the parts up.
"""
import os
import re
import sys
import time
import traceback

import psycopg2
import psycopg2.extensions
import psycopg2.extras

PREFIX = "faults"


def conninfo(dbname=None, **over):
    """Connection parameters from PGHOST/PGPORT/PGUSER/PGPASSWORD (libpq reads them)."""
    kw = {}
    if dbname is not None:
        kw["dbname"] = dbname
    kw.update(over)
    return kw


def connect(dbname=None, autocommit=True, **over):
    conn = psycopg2.connect(**conninfo(dbname, **over))
    conn.autocommit = autocommit
    return conn


def maintenance_db():
    return os.environ.get("PGDATABASE") or "postgres"


class Suite:
    """Counts checks, prints them, and keeps figures for the report."""

    def __init__(self, part):
        self.part = part
        self.passed = 0
        self.failed = 0
        self.dbs = []
        self.started = time.time()

    # -- checks ------------------------------------------------------------
    def ok(self, cond, name, detail=""):
        if cond:
            self.passed += 1
            print(f"ok - {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL - {name}" + (f": {detail}" if detail else ""), flush=True)
        return cond

    def eq(self, got, want, name):
        if isinstance(got, set) and isinstance(want, set):
            return self.ok(got == want, name, f"extra {sorted(got - want)!r}, missing {sorted(want - got)!r}")
        return self.ok(got == want, name, f"got {got!r}, want {want!r}")

    def figure(self, name, value):
        print(f"FIGURE {self.part}.{name}: {value}", flush=True)

    def note(self, text):
        print(f"# {text}", flush=True)

    def crashed(self, where):
        self.failed += 1
        print(f"FAIL - {where} raised an unexpected exception:", flush=True)
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()

    # -- databases ---------------------------------------------------------
    def new_db(self, tag):
        name = f"{PREFIX}_{self.part}_{tag}_{os.getpid()}"
        admin = connect(maintenance_db())
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        admin.close()
        self.dbs.append(name)
        conn = connect(name)
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION cascade_delete")
        return name, conn

    def drop_dbs(self):
        try:
            admin = connect(maintenance_db())
            with admin.cursor() as cur:
                for name in self.dbs:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
        except Exception:
            self.crashed("dropping the databases")

    def finish(self):
        self.drop_dbs()
        self.figure("seconds", f"{time.time() - self.started:.1f}")
        print(f"{self.part}: {self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


def run_main(part, body):
    """Runs body(suite); an unexpected exception counts as one failure."""
    s = Suite(part)
    try:
        body(s)
    except Exception:
        s.crashed(part)
    s.finish()


# -- SQL helpers -------------------------------------------------------------

def q(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchall() if cur.description else None


def one(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchone()[0]


def attempt(conn, sql, args=None):
    """Runs sql; returns (result rows or None, error or None). On error the
    connection is left usable (rolled back if in a transaction block)."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            rows = cur.fetchall() if cur.description else None
        return rows, None
    except psycopg2.Error as e:
        if not conn.autocommit:
            conn.rollback()
        return None, e


def sqlstate(err):
    return None if err is None else err.pgcode


def ident(name):
    return '"' + name.replace('"', '""') + '"'


def user_tables(cur):
    """Every ordinary/partitioned table of the database outside the system
    schemas and temporary schemas, as regclass text."""
    return [r[0] for r in q(cur, """
        SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast%'
        ORDER BY 1""")]


def checksums(cur, tables=None):
    """{table: (rows, sum of row hashes)}: equal exactly when the contents
    are (up to hash collisions), whatever the physical order."""
    if tables is None:
        tables = user_tables(cur)
    out = {}
    for t in tables:
        cur.execute(f"SELECT count(*), coalesce(sum(hashtextextended(x::text, 7)), 0)::text FROM {t} x")
        out[t] = tuple(cur.fetchone())
    return out


def diff_checksums(before, after):
    bad = []
    for t in sorted(set(before) | set(after)):
        if before.get(t) != after.get(t):
            bad.append(f"{t}: {before.get(t)} -> {after.get(t)}")
    return "; ".join(bad)


def catalog_objects(cur):
    """Non-temporary relations and types, to spot objects a call left behind."""
    return set(tuple(r) for r in q(cur, """
        SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'"""))


def key_tables(cur):
    """This session's cascade_delete key tables: {name: rows}."""
    names = [r[0] for r in q(cur, """
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = pg_my_temp_schema() AND c.relkind = 'r'
          AND c.relname LIKE 'cascade\\_delete\\_%'""")]
    out = {}
    for n in names:
        out[n] = one(cur, f"SELECT count(*) FROM pg_temp.{ident(n)}")
    return out


def memory_bytes(cur):
    return int(one(cur, "SELECT sum(total_bytes) FROM pg_backend_memory_contexts"))


def proc_status(pid):
    """(VmRSS kB, RssAnon kB) of a local process, or None if /proc cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    vals = {}
    for key in ("VmRSS", "RssAnon"):
        m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        vals[key] = int(m.group(1)) if m else 0
    return vals["VmRSS"], vals["RssAnon"]
