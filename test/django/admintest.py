#!/usr/bin/python3
"""cascade_delete_django.admin against Django's own admin, with Django's test client.

Two admin sites over the same models (shop/): Django's ModelAdmin is the oracle of the
confirmation page's summary counts, protected objects and missing permissions; the
CascadeDeleteAdmin page must say the same, from cascade_delete_explain, in bounded memory.
On the seed's shape (1 a row, 1,000 b rows, 10,000 c rows) it prints the time and peak
Python memory of both pages. Deletes (the confirmation and the "delete selected" action)
must go through cascade_delete: Django's Collector is made to fail while they run.

Needs PGHOST/PGPORT/PGUSER (a superuser). Prints `django_admin: N passed, M failed`.
"""
import os
import sys
import time
import tracemalloc
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.normpath(os.path.join(HERE, '..', '..', 'contrib', 'django')))

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tally import Tally  # noqa: E402
import psycopg2  # noqa: E402

DB = 'django_admin_%d' % os.getpid()
TALLY = Tally('django_admin')
check = TALLY.check




def configure():
    import django
    from django.conf import settings
    import zoo_settings
    settings.configure(
        DATABASES=zoo_settings.databases(DB),
        INSTALLED_APPS=['django.contrib.admin', 'django.contrib.auth', 'django.contrib.contenttypes',
                        'django.contrib.sessions', 'django.contrib.messages', 'cascade_delete_django', 'shop'],
        MIGRATION_MODULES={'shop': None},
        MIDDLEWARE=['django.contrib.sessions.middleware.SessionMiddleware',
                    'django.contrib.auth.middleware.AuthenticationMiddleware',
                    'django.contrib.messages.middleware.MessageMiddleware'],
        TEMPLATES=[{'BACKEND': 'django.template.backends.django.DjangoTemplates', 'APP_DIRS': True,
                    'OPTIONS': {'context_processors': ['django.template.context_processors.request',
                                                       'django.contrib.auth.context_processors.auth',
                                                       'django.contrib.messages.context_processors.messages']}}],
        ROOT_URLCONF='admintest_urls', SECRET_KEY='admintest', USE_TZ=False, ALLOWED_HOSTS=['*'],
        DEFAULT_AUTO_FIELD='django.db.models.AutoField', STATIC_URL='/static/')
    django.setup()


def load(admin_conn):
    """The data: a 1 (the seed's shape), a 2 (protected by invoices), a 3 and 4 (small)."""
    from shop.models import A, B, C, Invoice, Refund, Tag
    with admin_conn.cursor() as k:
        k.execute("INSERT INTO shop_a (id, name) VALUES (1, 'seed'), (2, 'invoiced'), (3, 'small'), "
                  "(4, 'tiny'), (5, 'refunded')")
        k.execute("INSERT INTO shop_b (id, a_id, data) SELECT g, 1, '{}' FROM generate_series(1, 1000) g")
        k.execute("INSERT INTO shop_c (id, b_id) SELECT g, 1 + (g - 1) / 10 FROM generate_series(1, 10000) g")
        k.execute("INSERT INTO shop_tag (id, b_id) SELECT g, g * 10 FROM generate_series(1, 100) g")
        k.execute("INSERT INTO shop_b (id, a_id, data) VALUES (2001, 2, '{}'), (2002, 2, '{}'), "
                  "(3001, 3, '{}'), (3002, 3, '{}'), (3003, 3, '{}'), (4001, 4, '{}'), (5001, 5, '{}')")
        k.execute("INSERT INTO shop_c (id, b_id) VALUES (30001, 3001), (30002, 3001), (30003, 3002), "
                  "(50001, 5001)")
        k.execute("INSERT INTO shop_invoice (id, a_id) VALUES (1, 2), (2, 2)")
        k.execute("INSERT INTO shop_refund (id, c_id) VALUES (1, 50001)")
        k.execute("INSERT INTO shop_tag (id, b_id) VALUES (1001, 3001)")
        for t in ('a', 'b', 'c', 'invoice', 'refund', 'tag'):
            k.execute("SELECT setval(pg_get_serial_sequence('shop_%s', 'id'), 100000)" % t)
    return A, B, C, Invoice, Refund, Tag


def page(client, site, model, pk):
    return client.get('/%s/shop/%s/%s/delete/' % (site, model, pk))


def same_page(client, pk, what):
    """The confirmation pages of both sites for a pk: their summaries must agree."""
    p, c = page(client, 'plain', 'a', pk), page(client, 'cd', 'a', pk)
    check(p.status_code == 200 and c.status_code == 200, '%s: both pages answer (%s, %s)'
          % (what, p.status_code, c.status_code))
    pc, cc = p.context, c.context
    check(dict(pc['model_count']) == dict(cc['model_count']),
          '%s: the summary counts are Django\'s: %s' % (what, dict(cc['model_count'])))
    check(set(pc['perms_lacking']) == set(cc['perms_lacking']),
          '%s: the same missing permissions: %s' % (what, sorted(cc['perms_lacking'])))
    plain_protected = sorted(str(x).replace('/plain/', '/cd/') for x in pc['protected'])
    check(plain_protected == sorted(str(x) for x in cc['protected']),
          '%s: the same protected objects: %s' % (what, sorted(str(x) for x in cc['protected'])))
    return p, c


def main():
    admin_conn = psycopg2.connect(dbname='postgres')
    admin_conn.autocommit = True
    with admin_conn.cursor() as k:
        k.execute('CREATE DATABASE %s' % DB)
    try:
        configure()
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment
        from django.contrib.auth.models import Permission, User
        from django.db import connection
        from django.db.models import deletion
        setup_test_environment()
        call_command('migrate', run_syncdb=True, verbosity=0)
        call_command('cascade_delete_sync', verbosity=0)
        db = psycopg2.connect(dbname=DB)
        db.autocommit = True
        A, B, C, Invoice, Refund, Tag = load(db)
        client = Client()
        client.force_login(User.objects.create_superuser('admin', 'admin@example.com', 'pw'))

        # Small and protected cascades: the same summary, protected objects and permissions.
        p, c = same_page(client, 3, 'a 3 (3 b, 3 c, a tag set to NULL)')
        html = c.content.decode()
        check('A small' in html and '/cd/shop/c/30001/change/' in html and 'set to NULL' in html,
              'a 3: the page names the object, links sample objects and says what is set to NULL')
        p, c = same_page(client, 2, 'a 2 (PROTECT by 2 invoices)')
        check('Invoice object (1)' in c.content.decode() and 'would require deleting the following protected'
              in c.content.decode(), 'a 2: the page says the invoices protect it')
        p, c = same_page(client, 5, 'a 5 (RESTRICT by a refund of its c row)')

        # Permissions: a staff user who may delete a rows only.
        staff = User.objects.create_user('staff', 's@example.com', 'pw', is_staff=True)
        staff.user_permissions.add(*Permission.objects.filter(codename__in=['delete_a', 'view_a', 'change_a']))
        staff_client = Client()
        staff_client.force_login(staff)
        same_page(staff_client, 3, 'a 3 as a user who may delete only a rows')

        # The seed's shape: Django loads 11,001 objects; the explain reads counts and samples.
        figures = {}
        for site in ('plain', 'cd', 'plain', 'cd', 'plain', 'cd'):
            tracemalloc.start()
            t0 = time.perf_counter()
            r = page(client, site, 'a', 1)
            seconds = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            figures.setdefault(site, []).append((seconds, peak, r))
        for site, runs in figures.items():
            runs.sort(key=lambda x: x[0])
            print('     seed shape, %-5s page: %.3f s (median of %d), peak Python memory %.1f MB, %d KB of HTML'
                  % (site, runs[len(runs) // 2][0], len(runs), max(x[1] for x in runs) / 2 ** 20,
                     len(runs[0][2].content) // 1024))
        pr, cr = figures['plain'][0][2], figures['cd'][0][2]
        check(dict(pr.context['model_count']) == dict(cr.context['model_count']) ==
              {'as': 1, 'bs': 1000, 'cs': 10000},
              'seed shape: the same summary as Django: %s' % dict(cr.context['model_count']))
        cd_peak = max(x[1] for x in figures['cd'])
        plain_peak = max(x[1] for x in figures['plain'])
        check(cd_peak * 10 < plain_peak, 'seed shape: the page takes under a tenth of the memory of Django\'s '
              '(%.1f MB against %.1f MB)' % (cd_peak / 2 ** 20, plain_peak / 2 ** 20))
        check(len(cr.content) * 20 < len(pr.content), 'seed shape: and its HTML does not list every object '
              '(%d KB against %d KB)' % (len(cr.content) // 1024, len(pr.content) // 1024))

        # Deleting: through cascade_delete, never Django's Collector.
        def no_collector(*args, **kwargs):
            raise AssertionError('Django\'s Collector was used')
        with mock.patch.object(deletion.Collector, 'collect', no_collector):
            r = client.post('/cd/shop/a/1/delete/', {'post': 'yes'})
            check(r.status_code == 302, 'seed shape: the confirmation deletes and redirects (%s)' % r.status_code)
            check(not A.objects.filter(pk=1).exists() and B.objects.filter(a_id=1).count() == 0
                  and C.objects.filter(pk__lte=10000).count() == 0
                  and Tag.objects.filter(pk__lte=100, b__isnull=True).count() == 100,
                  'seed shape: a 1, its 1,000 b and 10,000 c rows are gone, its tags set to NULL')
            r = client.post('/cd/shop/a/2/delete/', {'post': 'yes'})
            check(r.status_code == 200 and A.objects.filter(pk=2).exists() and Invoice.objects.count() == 2,
                  'a 2: a confirmation of a protected object deletes nothing')
            r = client.post('/cd/shop/a/', {'action': 'delete_selected', '_selected_action': ['3', '4']})
            check(r.status_code == 200 and dict(r.context['model_count']) == {'as': 2, 'bs': 4, 'cs': 3},
                  '"delete selected": the confirmation counts both objects\' cascades: %s'
                  % dict(r.context['model_count']))
            r = client.post('/cd/shop/a/', {'action': 'delete_selected', '_selected_action': ['3', '4'],
                                            'post': 'yes'})
            check(r.status_code == 302 and not A.objects.filter(pk__in=[3, 4]).exists()
                  and not B.objects.filter(a_id__in=[3, 4]).exists() and Tag.objects.get(pk=1001).b_id is None,
                  '"delete selected": both deleted with their cascades (%s)' % r.status_code)
        with connection.cursor() as k:
            k.execute("SELECT count(*) FROM django_admin_log WHERE action_flag = 3")
            check(k.fetchone()[0] == 3, 'every deletion is in the admin log, as with Django\'s delete')
        connection.close()
        db.close()
    finally:
        with admin_conn.cursor() as k:
            k.execute('DROP DATABASE IF EXISTS %s' % DB)
    TALLY.finish()


if __name__ == '__main__':
    main()
