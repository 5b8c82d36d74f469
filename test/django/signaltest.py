#!/usr/bin/python3
"""pre_delete / post_delete receivers and delete() overrides: cascade_delete_django against
Django's own delete, on two databases made from one template (sigapp/).

For each scenario the same data is built in both databases and the same recording receivers
are connected; Django deletes in one, cascade_delete_django.delete() in the other. Compared:
the outcome, every table afterwards (including a history table the post_delete receivers
write, as django-simple-history does), and the signals: for each signal, the models in the
order they were signalled, and per model every instance's primary key, field values and
whether its row still existed when the receiver ran. delete() overrides: the helper refuses
the root (DeleteOverridden, naming the override) unless ignore_overrides=True, and behaves as
Django does for rows a cascade reaches. Also: the sync's report of overrides and receivers,
and the client memory of a large signalled delete against Django's.

Needs PGHOST/PGPORT/PGUSER (a superuser). Prints `django_signals: N passed, M failed`.
"""
import io
import json
import os
import sys
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.normpath(os.path.join(HERE, '..', '..', 'contrib', 'django')))

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tally import Tally  # noqa: E402
import psycopg2  # noqa: E402

PREFIX = 'django_signals_%d' % os.getpid()
TEMPLATE, DJ, CD = PREFIX + '_t', PREFIX + '_dj', PREFIX + '_cd'
TALLY = Tally('django_signals')
check = TALLY.check

import zoo_settings  # noqa: E402
COPIES = zoo_settings.Copies(TEMPLATE)
admin, use_db, fresh = COPIES.execute, COPIES.use, COPIES.fresh


def configure():
    zoo_settings.configure_app(TEMPLATE, 'sigapp')



def dump():
    from django.apps import apps
    from django.db import connection
    out = {}
    with connection.cursor() as k:
        for m in apps.get_app_config('sigapp').get_models(include_auto_created=True):
            k.execute('SELECT * FROM %s ORDER BY 1' % connection.ops.quote_name(m._meta.db_table))
            out[m._meta.db_table] = k.fetchall()
    return out


# --- recording receivers

EVENTS = []


def values(instance):
    return tuple(sorted((f.attname, getattr(instance, f.attname)) for f in instance._meta.concrete_fields))


def record(signal_name):
    def receiver(sender, instance, using, **kwargs):
        exists = sender._base_manager.using(using).filter(pk=instance.pk).exists()
        EVENTS.append((signal_name, sender._meta.label, instance.pk, values(instance), exists))
    return receiver


def write_history(sender, instance, using, **kwargs):
    from sigapp.models import History
    History.objects.using(using).create(model=sender._meta.label, object_pk=instance.pk,
                                        data=json.dumps(values(instance), default=str))


def canonical(events):
    """Per signal: the models in signalling order (consecutive runs), each with its instances by pk."""
    out = []
    for e in events:
        if out and out[-1][0] == e[0] and out[-1][1] == e[1]:
            out[-1][2].append(e[2:])
        else:
            out.append((e[0], e[1], [e[2:]]))
    return [(s, m, sorted(rows, key=lambda r: r[0])) for s, m, rows in out]


def connect(receivers):
    from django.db.models import signals
    for signal_name, sender, fn in receivers:
        getattr(signals, signal_name).connect(fn, sender=sender, weak=False, dispatch_uid=(signal_name, sender, fn))


def disconnect(receivers):
    from django.db.models import signals
    for signal_name, sender, fn in receivers:
        getattr(signals, signal_name).disconnect(sender=sender, dispatch_uid=(signal_name, sender, fn))


def side(db, build, receivers, delete):
    """Builds in db, deletes with receivers connected; (outcome, events, tables)."""
    from django.db import transaction
    fresh(db)
    with transaction.atomic():
        target = build()
    EVENTS.clear()
    connect(receivers)
    try:
        with transaction.atomic():
            outcome = ('ok', delete(target()))
    except Exception as e:  # noqa: BLE001
        outcome = ('error', type(e).__name__, str(e).splitlines()[0][:400])
    finally:
        disconnect(receivers)
    events = list(EVENTS)
    tables = dump()
    use_db(TEMPLATE)
    return outcome, events, tables


def compare(name, build, receivers, cd_kwargs=None, dj_delete=None, expect_cd_error=None, expect_dj_error=None):
    from cascade_delete_django import delete as cd_delete
    dj = side(DJ, build, receivers, dj_delete or (lambda o: o.delete()))
    cd = side(CD, build, receivers, lambda o: cd_delete(o, **(cd_kwargs or {})))
    if expect_cd_error or expect_dj_error:
        check(dj[0][0] == 'error' and (not expect_dj_error or dj[0][1] == expect_dj_error),
              '%s: Django refuses (%s)' % (name, dj[0][1:]))
        check(cd[0][0] == 'error' and cd[0][1] == expect_cd_error,
              '%s: cascade_delete_django refuses with %s: %s' % (name, expect_cd_error, cd[0][1:]))
        check(dj[2] == cd[2], '%s: neither changed a table' % name)
        return dj, cd
    check(dj[0][0] == 'ok' and cd[0][0] == 'ok' and dj[0][1] == cd[0][1],
          '%s: the same outcome: django %s / extension %s' % (name, dj[0], cd[0]))
    check(dj[2] == cd[2], '%s: the same tables afterwards%s' % (
        name, '' if dj[2] == cd[2] else ': ' + repr({t: (dj[2][t], cd[2][t]) for t in dj[2] if dj[2][t] != cd[2][t]})[:600]))
    cdj, ccd = canonical(dj[1]), canonical(cd[1])
    check(cdj == ccd and len(dj[1]) == len(cd[1]), '%s: the same signals (%d), models in the same order: %s%s' % (
        name, len(cd[1]), [(s, m, len(r)) for s, m, r in ccd],
        '' if cdj == ccd else ' / django ' + repr([(s, m, len(r)) for s, m, r in cdj])))
    return dj, cd


def main():
    admin('DROP DATABASE IF EXISTS %s' % TEMPLATE)
    admin('CREATE DATABASE %s' % TEMPLATE)
    try:
        configure()
        from django.core.management import call_command
        from django.db import connection
        from sigapp.models import (A, B, C, Tag, Guard, Label, Place, Restaurant, History, Organization,
                                   OrgUser, Node, PathNode)
        from django.db.models import Model
        from cascade_delete_django import delete as cd_delete
        call_command('migrate', run_syncdb=True, verbosity=0)
        # The sync reports the Python code deletes would run: overrides, and receivers.
        rec = [('pre_delete', B, record('pre_delete'))]
        connect(rec)
        err = io.StringIO()
        call_command('cascade_delete_sync', verbosity=0, stderr=err)
        disconnect(rec)
        report = err.getvalue()
        check('sigapp.OrgUser overrides delete() (sigapp.models.OrgUser.delete)' in report
              and 'sigapp.Node overrides delete() (sigapp.models.TreeBase.delete)' in report
              and 'sigapp.PathNode overrides delete() (sigapp.models.PathNode.delete)' in report
              and "sigapp.PathNode's default queryset overrides delete() (sigapp.models.PathQuerySet.delete)"
              in report and 'sigapp.B has pre_delete receivers' in report
              and 'sigapp.A has' not in report,
              'the sync reports every delete() override and the models with receivers:\n     '
              + report.strip().replace('\n', '\n     '))
        connection.close()

        def seed(n_b=3, n_c=2):
            def build():
                a = A.objects.create(pk=1, name='one')
                A.objects.create(pk=2, name='two')
                lab = Label.objects.create(pk=1, name='x')
                for i in range(1, n_b + 1):
                    b = B.objects.create(pk=i, a=a, note='b%d' % i)
                    b.labels.add(lab)
                    for j in range(n_c):
                        C.objects.create(pk=i * 10 + j, b=b, n=j)
                B.objects.create(pk=1000, a_id=2)
                Tag.objects.create(pk=1, b_id=1)
                Tag.objects.create(pk=2, b_id=1000)
                return lambda: A.objects.get(pk=1)
            return build

        every = [('pre_delete', m, record('pre_delete')) for m in (A, B, C)] + \
                [('post_delete', m, record('post_delete')) for m in (A, B, C)]
        compare('a chain, pre_delete and post_delete on every model', seed(), every)
        compare('pre_delete on B only: no other row leaves the server', seed(),
                [('pre_delete', B, record('pre_delete'))])
        compare('post_delete on C writes a history table', seed(),
                [('post_delete', C, write_history), ('post_delete', C, record('post_delete'))])
        compare('receivers on a SET_NULL model: it loses no row, gets no signal', seed(),
                [('pre_delete', Tag, record('pre_delete')), ('pre_delete', B, record('pre_delete'))])

        def many():
            seed()()
            return lambda: A.objects.filter(pk__in=[1, 2])
        compare('a queryset of two roots', many, every)

        def protected():
            seed()()
            Guard.objects.create(pk=1, a_id=1)
            return lambda: A.objects.get(pk=1)
        compare('PROTECT: refused before any signal', protected, every,
                expect_cd_error='DeleteProtected', expect_dj_error='ProtectedError')
        check(not EVENTS, 'PROTECT: no receiver ran')

        def inheritance():
            Restaurant.objects.create(pk=1, name='r1', seats=4)
            Place.objects.create(pk=2, name='p2')
            return lambda: Restaurant.objects.get(pk=1)
        compare('multi-table inheritance: the child and its parent row, full instances', inheritance,
                [('pre_delete', Place, record('pre_delete')), ('pre_delete', Restaurant, record('pre_delete')),
                 ('post_delete', Place, record('post_delete')),
                 ('post_delete', Restaurant, record('post_delete'))])

        def receiver_adds_row(sender, instance, using, **kwargs):
            if sender is B and instance.pk == 1:
                C.objects.using(using).create(pk=999, b_id=1)
        compare('a receiver adds a row under a deleted one: both refuse, nothing changes', seed(),
                [('pre_delete', B, receiver_adds_row), ('pre_delete', C, record('pre_delete'))],
                expect_cd_error='DeleteChanged', expect_dj_error='IntegrityError')

        # delete() overrides
        def org():
            o = Organization.objects.create(pk=1, name='o')
            OrgUser.objects.create(pk=1, organization=o, is_owner=True)
            OrgUser.objects.create(pk=2, organization=o)
            return lambda: OrgUser.objects.get(pk=1)
        dj, cd = compare('django-organizations: deleting the owner', org, [],
                         expect_cd_error='DeleteOverridden', expect_dj_error='OwnershipRequired')
        check('sigapp.models.OrgUser.delete' in cd[0][2] and 'ignore_overrides=True' in cd[0][2],
              'the refusal names the override and the way out: %s' % cd[0][2])

        def org_root():
            org()()
            return lambda: Organization.objects.get(pk=1)
        compare('django-organizations: rows a cascade reaches are deleted without the override, as '
                'Django does', org_root, [('pre_delete', OrgUser, record('pre_delete'))])

        def tree():
            root = Node.objects.create(pk=1, lft=1, rght=8)
            a = Node.objects.create(pk=2, parent=root, lft=2, rght=5)
            Node.objects.create(pk=3, parent=a, lft=3, rght=4)
            Node.objects.create(pk=4, parent=root, lft=6, rght=7)
            return lambda: Node.objects.get(pk=2)
        dj = side(DJ, tree, [], lambda o: o.delete())
        cd = side(CD, tree, [], lambda o: cd_delete(o))
        check(cd[0][1] == 'DeleteOverridden' and cd[2] == side(CD, tree, [], lambda o: None)[2],
              'django-mptt: refused (the override renumbers the tree), nothing deleted')
        check(dj[2]['sigapp_node'] == [(1, 1, 4, None), (4, 2, 3, 1)],
              'django-mptt: (Django deletes the subtree and closes the gap: %s)' % dj[2]['sigapp_node'])
        compare('django-mptt with ignore_overrides=True: Model.delete() without the override', tree, [],
                cd_kwargs={'ignore_overrides': True}, dj_delete=lambda o: Model.delete(o))

        def paths():
            for pk, p in ((1, '0001'), (2, '00010001'), (3, '00010002'), (4, '0002')):
                PathNode.objects.create(pk=pk, path=p)
            return lambda: PathNode.objects.get(pk=1)
        cd = side(CD, paths, [], lambda o: cd_delete(o))
        check(cd[0][1] == 'DeleteOverridden' and 'sigapp.models.PathNode.delete' in cd[0][2],
              'django-treebeard: a node: refused, naming PathNode.delete')
        cd = side(CD, paths, [], lambda o: cd_delete(PathNode.objects.filter(pk=1)))
        check(cd[0][1] == 'DeleteOverridden' and 'sigapp.models.PathQuerySet.delete' in cd[0][2],
              'django-treebeard: a queryset: refused, naming PathQuerySet.delete')
        dj = side(DJ, paths, [], lambda o: o.delete())
        check([r[0] for r in dj[2]['sigapp_pathnode']] == [4], 'django-treebeard: (Django deletes 3 nodes by path)')

        # Bounded client memory: one pre_delete receiver on B, 20,000 B and 40,000 C rows.
        def big():
            with connection.cursor() as k:
                k.execute("INSERT INTO sigapp_a VALUES (1, 'big')")
                k.execute("INSERT INTO sigapp_b (id, a_id, note) SELECT g, 1, repeat('x', 1000) "
                          "FROM generate_series(1, 20000) g")
                k.execute("INSERT INTO sigapp_c (id, b_id, n) SELECT g, 1 + g % 20000, g FROM generate_series(1, 40000) g")
            return lambda: A.objects.get(pk=1)
        seen = []

        def count(sender, instance, **kwargs):
            seen.append(instance.pk)
        peaks = {}
        for name, db, fn in (('django', DJ, lambda o: o.delete()), ('cascade_delete_django', CD, cd_delete)):
            seen.clear()
            tracemalloc.start()
            out = side(db, big, [('pre_delete', B, count)], fn)
            peaks[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            check(out[0][0] == 'ok' and len(seen) == 20000, '%s: 20,000 pre_delete calls (%s)' % (name, out[0][0]))
        print('     peak Python memory, one receiver on B, 20,000 B (1 KB each) and 40,000 C rows: Django %.1f MB, '
              'cascade_delete_django %.1f MB' % (peaks['django'] / 2 ** 20, peaks['cascade_delete_django'] / 2 ** 20))
        check(peaks['cascade_delete_django'] * 3 < peaks['django'],
              'the signalled delete needs a fraction of Django\'s client memory')
        use_db(TEMPLATE)
    finally:
        from django.db import connections
        connections['default'].close()
        for db in (DJ, CD, TEMPLATE):
            admin('DROP DATABASE IF EXISTS %s' % db)
    TALLY.finish()


if __name__ == '__main__':
    main()
