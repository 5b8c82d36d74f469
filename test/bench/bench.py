#!/usr/bin/python3
"""cascade_delete benchmark (make bench): the seed's schema a <- b (jsonb) <- c,
one `a` row deleted in one transaction by each variant, every variant on an
identical copy of the data (CREATE DATABASE ... TEMPLATE), survivors checked.

Runs inside pg_virtualenv (PGHOST, PGPORT, PGUSER, PGPASSWORD set). Prints
seconds, ratio to the hand-written floor, rows per second, peak growth of the
backend's anonymous memory (sampled from /proc) and, for Django, the client's.
Then small deletes against native (small.py).
"""
import argparse
from contextlib import closing
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2

EXT_SQL = "CREATE EXTENSION IF NOT EXISTS cascade_delete"
REPEAT = 3


def connect(db, autocommit=True):
    c = psycopg2.connect(dbname=db)
    c.autocommit = autocommit
    return c


def anon_kb(pid):
    """Anonymous resident memory of a process, in kB (shared buffers excluded)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakSampler:
    """Samples a process's anonymous memory every 5 ms; peak growth over the start."""

    def __init__(self, pid):
        self.pid, self.base, self.peak, self.stop = pid, anon_kb(pid), 0, False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, anon_kb(self.pid))
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()

    @property
    def growth_mb(self):
        return max(0, self.peak - self.base) / 1024


# ---------------------------------------------------------------- data

def build_base(admin, name, n_b, n_c, width):
    """A database with the data and no constraints: a(1) holds n_b b rows and n_c c
    rows; a(2..5) hold a few unrelated rows that must survive."""
    cur = admin.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {name}")
    cur.execute(f"CREATE DATABASE {name}")
    with closing(connect(name)) as c:
        k = c.cursor()
        k.execute(EXT_SQL)
        k.execute("CREATE TABLE a (id int PRIMARY KEY, name text)")
        k.execute("CREATE TABLE b (id bigint PRIMARY KEY, a_id int NOT NULL, data jsonb NOT NULL)")
        k.execute("CREATE TABLE c (id bigint PRIMARY KEY, b_id bigint NOT NULL)")
        k.execute("INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 5) g")
        # ~width bytes of incompressible text: md5 hex of distinct inputs
        n_md5 = max(1, width // 32)
        k.execute("""
            INSERT INTO b
            SELECT g, CASE WHEN g <= %(nb)s THEN 1 ELSE 2 + g %% 4 END,
                   jsonb_build_object('blob', (SELECT string_agg(md5(g::text || '.' || i::text), '')
                                               FROM generate_series(1, %(m)s) i))
            FROM generate_series(1, %(nb)s + 100) g""", {"nb": n_b, "m": n_md5})
        k.execute("""
            INSERT INTO c SELECT g, CASE WHEN g <= %(nc)s THEN 1 + (g - 1) %% %(nb)s
                                         ELSE %(nb)s + 1 + g %% 100 END
            FROM generate_series(1, %(nc)s + 1000) g""", {"nc": n_c, "nb": n_b})
        k.execute("CREATE INDEX ON b (a_id)")
        k.execute("CREATE INDEX ON c (b_id)")
        k.execute("ANALYZE")


def make_template(admin, base, name, kind):
    cur = admin.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {name}")
    cur.execute(f"CREATE DATABASE {name} TEMPLATE {base} STRATEGY FILE_COPY")
    with closing(connect(name)) as c:
        k = c.cursor()
        if kind == "native":
            k.execute("ALTER TABLE b ADD FOREIGN KEY (a_id) REFERENCES a ON DELETE CASCADE")
            k.execute("ALTER TABLE c ADD FOREIGN KEY (b_id) REFERENCES b ON DELETE CASCADE")
        elif kind == "django":
            k.execute("ALTER TABLE b ADD FOREIGN KEY (a_id) REFERENCES a DEFERRABLE INITIALLY DEFERRED")
            k.execute("ALTER TABLE c ADD FOREIGN KEY (b_id) REFERENCES b DEFERRABLE INITIALLY DEFERRED")
            k.execute("SELECT cascade_delete_set_policy('b', '{a_id}', 'CASCADE')")
            k.execute("SELECT cascade_delete_set_policy('c', '{b_id}', 'CASCADE')")
        elif kind == "nofk":
            k.execute("SELECT cascade_delete_set_policy('b', '{a_id}', 'CASCADE', parent => 'a')")
            k.execute("SELECT cascade_delete_set_policy('c', '{b_id}', 'CASCADE', parent => 'b')")
        k.execute("CHECKPOINT")


def fresh_copy(admin, template):
    cur = admin.cursor()
    cur.execute("DROP DATABASE IF EXISTS bench_run")
    cur.execute(f"CREATE DATABASE bench_run TEMPLATE {template} STRATEGY FILE_COPY")
    return "bench_run"


def survivors(db, n_b):
    with closing(connect(db)) as c:
        k = c.cursor()
        k.execute("SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT count(*) FROM c),"
                  " (SELECT count(*) FROM b WHERE a_id = 1)")
        return k.fetchone()


# ---------------------------------------------------------------- variants

FLOOR_SQL = ["DELETE FROM c USING b WHERE c.b_id = b.id AND b.a_id = 1",
             "DELETE FROM b WHERE a_id = 1",
             "DELETE FROM a WHERE id = 1"]


def run_sql(db, statements, settings=()):
    """Runs statements in one transaction; returns (seconds, backend MB, result)."""
    c = connect(db, autocommit=False)
    k = c.cursor()
    for s in settings:
        k.execute(s)
    k.execute("SELECT pg_backend_pid()")
    pid = k.fetchone()[0]
    c.commit()
    result = None
    with PeakSampler(pid) as mem:
        t0 = time.perf_counter()
        for s in statements:
            k.execute(s)
            if k.description:
                result = k.fetchone()[0]
        c.commit()
        seconds = time.perf_counter() - t0
    c.close()
    return seconds, mem.growth_mb, result


DJANGO_CHILD = r'''
import os, sys, time, resource, json
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib", "django"))
import django
from django.conf import settings
settings.configure(DATABASES={"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": sys.argv[1],
    "HOST": os.environ.get("PGHOST", ""), "PORT": os.environ.get("PGPORT", ""),
    "USER": os.environ.get("PGUSER", ""), "PASSWORD": os.environ.get("PGPASSWORD", "")}},
    INSTALLED_APPS=["benchapp"], USE_TZ=False)
django.setup()
from django.db import transaction, connection
from django.db.models.signals import pre_delete
from benchapp.models import A, B

if sys.argv[2] in ("receiver", "cd-receiver"):
    pre_delete.connect(lambda sender, instance, **kw: None, sender=B, weak=False)
from bench import PeakSampler
with connection.cursor() as cur:
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with PeakSampler(pid) as mem:
    t0 = time.perf_counter()
    with transaction.atomic():
        if sys.argv[2] == "cd-receiver":
            from cascade_delete_django import delete
            total, per_model = delete(A.objects.get(pk=1))
        else:
            total, per_model = A.objects.get(pk=1).delete()
    seconds = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "client_mb": (after - before) / 1024,
                  "backend_mb": mem.growth_mb, "total": total}))
'''


def run_django(db, mode):
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.NamedTemporaryFile("w", suffix=".py", dir=here, delete=False) as f:
        f.write(DJANGO_CHILD)
        script = f.name
    try:
        out = subprocess.run([sys.executable, script, db, mode], capture_output=True, text=True)
    finally:
        os.unlink(script)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    import json
    return json.loads(out.stdout.strip().splitlines()[-1])


def django_available():
    try:
        import django  # noqa: F401
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------- reporting

def table(title, rows, floor):
    print(f"\n{title}")
    print(f"{'variant':<58} {'seconds':>8} {'x floor':>8} {'rows/s':>10} {'backend MB':>10} {'client MB':>9}")
    for name, seconds, rows_deleted, backend, client in rows:
        ratio = f"{seconds / floor:8.2f}" if floor else "       -"
        client_s = f"{client:9.0f}" if client is not None else "        0"
        print(f"{name:<58} {seconds:8.2f} {ratio} {rows_deleted / seconds:10.0f} {backend:10.1f} {client_s}")
    sys.stdout.flush()


def check(db, n_b, n_c):
    a, b, c, left = survivors(db, n_b)
    ok = (a, b, c, left) == (4, 100, 1000, 0)
    if not ok:
        raise SystemExit(f"survivor check failed on {db}: a={a} b={b} c={c} b under a(1)={left}")


def main_series(admin, n_b, n_c, width, variants, label, settings):
    """Builds one scale and runs the variants; returns rows for the table."""
    build_base(admin, "bench_base", n_b, n_c, width)
    kinds = sorted({v[1] for v in variants})
    for kind in kinds:
        make_template(admin, "bench_base", f"bench_{kind}", kind)
    rows, floor = [], None
    deleted = 1 + n_b + n_c
    for name, kind, how in variants:
        runs = []
        # The in-database variants run `repeat` times (median reported); Django,
        # the slow baseline, once.
        for _ in range(1 if how.startswith("django") else REPEAT):
            db = fresh_copy(admin, f"bench_{kind}")
            client = None
            if how == "floor":
                seconds, backend, _ = run_sql(db, FLOOR_SQL)
            elif how == "native":
                seconds, backend, _ = run_sql(db, ["DELETE FROM a WHERE id = 1"])
            elif how.startswith("django"):
                r = run_django(db, {"django-receiver": "receiver", "django-cd-receiver": "cd-receiver"}.get(how, "plain"))
                seconds, backend, client = r["seconds"], r["backend_mb"], r["client_mb"]
            else:
                seconds, backend, report = run_sql(db, ["SELECT cascade_delete('a', 1)"], settings)
                if report["total"] != deleted:
                    raise SystemExit(f"{name}: report total {report['total']} != {deleted}")
            check(db, n_b, n_c)
            runs.append((seconds, backend, client))
        runs.sort(key=lambda r: r[0])
        seconds, backend, client = runs[len(runs) // 2]
        if how == "floor":
            floor = seconds
        rows.append((name, seconds, deleted, backend, client))
    return rows, floor


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--b", type=int, default=100000, help="b rows under the deleted a row")
    ap.add_argument("--c", type=int, default=1000000, help="c rows under those b rows")
    ap.add_argument("--width", type=int, default=4096, help="bytes of jsonb per b row")
    ap.add_argument("--series", action="store_true", help="also the scaling and row-width series")
    ap.add_argument("--small", type=int, default=1000,
                    help="small deletes: calls per variant, way and round (0: skip); see small.py")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each in-database variant (median)")
    args = ap.parse_args()
    global REPEAT
    REPEAT = args.repeat
    admin = connect("postgres")
    with admin.cursor() as k:
        k.execute("SELECT version()")
        print(k.fetchone()[0])
    print(f"machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 2**30} GiB;"
          f" {time.strftime('%Y-%m-%d')}")
    print(f"scale: 1 a row -> {args.b} b rows ({args.width} B jsonb each) -> {args.c} c rows;"
          " plus 4 a, 100 b, 1000 c rows that must survive")

    variants = [("floor: hand-written deletes, no FK constraints", "nofk", "floor"),
                ("native: DELETE FROM a, ON DELETE CASCADE", "native", "native"),
                ("cascade_delete (a): no FK constraints + policies", "nofk", "cd"),
                ("cascade_delete (b): native ON DELETE CASCADE", "native", "cd"),
                ("cascade_delete (c): Django deferred FKs + policies", "django", "cd")]
    if django_available():
        variants += [("Django 3.2 Collector: obj.delete()", "django", "django"),
                     ("Django 3.2 Collector, one pre_delete receiver on B", "django", "django-receiver"),
                     ("cascade_delete_django.delete(), one pre_delete receiver on B", "django",
                      "django-cd-receiver")]
    else:
        print("Django is not installed (python3-django): its variants are skipped")
    rows, floor = main_series(admin, args.b, args.c, args.width, variants, "", ())
    table(f"delete one a row (one transaction each, identical copies; median of {REPEAT})", rows, floor)
    print("baselines measured on this kind of machine (PostgreSQL 15.20): floor 1.4-1.5 s; native 2.2-2.4 s;"
          " set-based deletes with Django's deferred FKs 2.7-3.3 s; Django 3.2 Collector 4.4 s / 63 MB client,"
          " 8.2 s / 885 MB client with one pre_delete receiver")

    if args.series:
        series_variants = [("floor", "nofk", "floor"), ("native", "native", "native"),
                 ("cascade_delete (b)", "native", "cd")]
        for n_b in (10000, 100000, 1000000):
            rows, floor = main_series(admin, n_b, n_b * 10, 100, series_variants, "", ())
            table(f"scaling: {n_b} b rows (100 B jsonb), {n_b * 10} c rows", rows, floor)
        for width in (100, 4096):
            rows, floor = main_series(admin, args.b, args.c, width,
                                      [("floor", "nofk", "floor"), ("cascade_delete (b)", "native", "cd")],
                                      "", ())
            table(f"row width: b jsonb {width} B", rows, floor)
    if args.small:
        import small  # test/bench/small.py
        small.run(admin, args.small, 3)
    with admin.cursor() as k:
        for db in ("bench_run", "bench_base", "bench_nofk", "bench_native", "bench_django"):
            k.execute(f"DROP DATABASE IF EXISTS {db}")


if __name__ == "__main__":
    main()
