#!/usr/bin/python3
"""Chunked jobs from Django (cascade_delete_django.delete(..., chunked=True), Job, the
cascade_delete_jobs command), with Django's own delete as the oracle: the same data in two
databases (shop/ models: a <- b <- c, PROTECT, RESTRICT, SET_NULL), Django's Collector deletes
in one, a job in the other; every table must be equal afterwards.

Needs PGHOST/PGPORT/PGUSER (a superuser). Prints `django_jobs: N passed, M failed`.
"""
import io
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.normpath(os.path.join(HERE, '..', '..', 'contrib', 'django')))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tally import Tally  # noqa: E402
import psycopg2  # noqa: E402

PREFIX = 'django_jobs_%d' % os.getpid()
TEMPLATE, DJ, CD = PREFIX + '_t', PREFIX + '_dj', PREFIX + '_cd'
TALLY = Tally('django_jobs')
check = TALLY.check

import zoo_settings  # noqa: E402
COPIES = zoo_settings.Copies(TEMPLATE)
admin, use_db, fresh = COPIES.execute, COPIES.use, COPIES.fresh


def configure():
    zoo_settings.configure_app(TEMPLATE, 'shop')



def dump():
    from django.db import connection
    out = {}
    with connection.cursor() as k:
        for t in ('a', 'b', 'c', 'invoice', 'refund', 'tag'):
            k.execute('SELECT * FROM shop_%s ORDER BY id' % t)
            out[t] = k.fetchall()
    return out


def load():
    with psycopg2.connect(dbname=TEMPLATE) as c, c.cursor() as k:
        k.execute("INSERT INTO shop_a (id, name) VALUES (1, 'big'), (2, 'invoiced'), (3, 'small'), (4, 'x'), "
                  "(5, 'refunded')")
        k.execute("INSERT INTO shop_b (id, a_id, data) SELECT g, 1 + (g > 900)::int * 2, '{}' "
                  "FROM generate_series(1, 1000) g")
        k.execute("INSERT INTO shop_b (id, a_id, data) VALUES (2001, 2, '{}'), (4001, 4, '{}'), (5001, 5, '{}')")
        k.execute("INSERT INTO shop_c (id, b_id) SELECT g, 1 + (g - 1) / 10 FROM generate_series(1, 10000) g")
        k.execute("INSERT INTO shop_c (id, b_id) VALUES (50001, 5001)")
        k.execute("INSERT INTO shop_tag (id, b_id) SELECT g, g * 10 FROM generate_series(1, 100) g")
        k.execute("INSERT INTO shop_invoice (id, a_id) VALUES (1, 2)")
        k.execute("INSERT INTO shop_refund (id, c_id) VALUES (1, 50001)")


def oracle(delete_with_django):
    """Django's own delete on a fresh copy: the tables afterwards."""
    fresh(DJ)
    delete_with_django()
    return dump()


def main():
    admin('CREATE DATABASE %s' % TEMPLATE)
    try:
        configure()
        from django.core.management import call_command
        from django.db import connection, transaction
        from django.db.models.signals import pre_delete
        from django.db.transaction import TransactionManagementError
        from cascade_delete_django import DeleteProtected, DeleteRestricted, Job, delete, jobs
        from shop.models import A, B, C
        call_command('migrate', run_syncdb=True, verbosity=0)
        call_command('cascade_delete_sync', verbosity=0)
        load()

        # One object: planned now, nothing deleted until it runs; then Django's result.
        want = oracle(lambda: A.objects.get(pk=1).delete())
        fresh(CD)
        job = delete(A.objects.get(pk=1), chunked=True, chunk_rows=500)
        st = job.status()
        check(isinstance(job, Job) and st['state'] == 'planned' and st['planned_rows'] == 1 + 900 + 9000 + 90
              and A.objects.filter(pk=1).exists(),
              'object: delete(chunked=True) plans a job (%s, %s rows planned) and deletes nothing yet'
              % (st['state'], st['planned_rows']))
        st = job.run()
        check(st['state'] == 'finished' and st['done_rows'] == st['planned_rows'] and st['chunks'] > 5,
              'object: job.run() deletes it in %s chunks' % st['chunks'])
        check(dump() == want, 'object: the tables equal Django\'s delete()')
        check(job.tables()['shop_tag'] == (0, 0, 90, 90), 'object: per table: tags set to NULL %s'
              % (job.tables()['shop_tag'],))

        # A queryset, in the background.
        want = oracle(lambda: A.objects.filter(pk__in=[1, 3, 4]).delete())
        fresh(CD)
        job = delete(A.objects.filter(pk__in=[1, 3, 4]), chunked=True, chunk_rows=300, background=True)
        st = job.wait(timeout=60, poll=0.1)
        check(st['state'] == 'finished', 'queryset: background=True runs it in a worker: %s' % st['state'])
        check(dump() == want, 'queryset: the tables equal Django\'s QuerySet.delete()')

        # Refusals as Django's: PROTECT and RESTRICT, at the start; no job is left.
        fresh(CD)
        before = len(jobs())
        for pk, exc, what in ((2, DeleteProtected, 'PROTECT'), (5, DeleteRestricted, 'RESTRICT')):
            try:
                delete(A.objects.get(pk=pk), chunked=True)
                raised = None
            except Exception as e:   # noqa: BLE001
                raised = e
            check(isinstance(raised, exc), '%s: refused at the start with %s' % (what, type(raised).__name__))
        check(len(jobs()) == before and dump()['a'][1][0] == 2, 'refusals: no job recorded, nothing deleted')

        # Transactions: run() commits as it goes, so not inside atomic(); background=True
        # inside atomic() starts its runner when the transaction commits.
        try:
            with transaction.atomic():
                job = delete(A.objects.get(pk=3), chunked=True)
                job.run()
            raised = None
        except TransactionManagementError as e:
            raised = e
        check(raised is not None and all(j['job'] != job.id for j in jobs()),
              'atomic: job.run() inside atomic() raises TransactionManagementError, the job rolls back')
        with transaction.atomic():
            job = delete(A.objects.get(pk=3), chunked=True, background=True)
            check(job.status()['state'] == 'planned', 'atomic: background=True waits for the commit')
        st = job.wait(timeout=30, poll=0.1)
        check(st['state'] == 'finished' and not A.objects.filter(pk=3).exists(),
              'atomic: ... and runs once it commits (%s)' % st['state'])

        # Receivers: a job sends no signals, so a cascade reaching a model with receivers is
        # refused, unless signals=False.
        def receiver(sender, instance, **kw):
            pass
        pre_delete.connect(receiver, sender=C)
        before = len(jobs())
        try:
            try:
                delete(A.objects.get(pk=1), chunked=True)
                raised = None
            except ValueError as e:
                raised = e
            check(raised is not None and 'shop.C' in str(raised) and len(jobs()) == before,
                  'receivers: refused, naming the model (%s)' % str(raised)[:90])
            job = delete(A.objects.get(pk=1), chunked=True, signals=False)
            check(job.run()['state'] == 'finished', 'receivers: signals=False runs without them')
        finally:
            pre_delete.disconnect(receiver, sender=C)

        # The management command: list, cancel, resume.
        job = delete(A.objects.get(pk=4), chunked=True)
        out = io.StringIO()
        call_command('cascade_delete_jobs', stdout=out)
        check('%6d  planned' % job.id in out.getvalue() and 'finished' in out.getvalue(),
              'command: lists the jobs with their state')
        call_command('cascade_delete_jobs', 'cancel', str(job.id), stdout=out)
        check(job.status()['state'] == 'cancelled', 'command: cancel')
        out = io.StringIO()
        call_command('cascade_delete_jobs', 'resume', stdout=out)
        check('resumed 0 job(s)' in out.getvalue(), 'command: resume finds nothing interrupted')
        connection.close()
    finally:
        use_db('postgres')
        from django.db import connections
        connections.close_all()
        time.sleep(0.2)
        for name in (DJ, CD, TEMPLATE):
            admin('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
    TALLY.finish()


if __name__ == '__main__':
    main()
