"""Settings of the Django suites, configured in code (no settings module)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRIB = os.path.normpath(os.path.join(HERE, '..', '..', 'contrib', 'django'))
for p in (HERE, CONTRIB):
    if p not in sys.path:
        sys.path.insert(0, p)


def databases(dbname):
    """The DATABASES setting: database dbname on the server of PGHOST/PGPORT/PGUSER (PGPASSWORD)."""
    return {'default': {
        'ENGINE': 'django.db.backends.postgresql', 'NAME': dbname,
        'HOST': os.environ.get('PGHOST', ''), 'PORT': os.environ.get('PGPORT', ''),
        'USER': os.environ.get('PGUSER', ''), 'PASSWORD': os.environ.get('PGPASSWORD', ''),
    }}


def configure(dbname, **extra):
    """settings.configure() of the differential test for database dbname."""
    import django
    from django.conf import settings
    settings.configure(
        DATABASES=databases(dbname),
        INSTALLED_APPS=['django.contrib.contenttypes', 'cascade_delete_django', 'zoo'],
        MIGRATION_MODULES={'zoo': None},          # tables made with schema_editor
        USE_TZ=False,
        DEFAULT_AUTO_FIELD='django.db.models.AutoField',
        CASCADE_DELETE_SET_VALUES={'zoo.SetCallableConfigured.r': 900},
        **extra
    )
    django.setup()


def configure_app(dbname, app):
    """settings.configure() for one test app of this folder (unmigrated: tables by syncdb)."""
    import django
    from django.conf import settings
    settings.configure(
        DATABASES=databases(dbname),
        INSTALLED_APPS=['django.contrib.contenttypes', 'cascade_delete_django', app],
        MIGRATION_MODULES={app: None}, USE_TZ=False, DEFAULT_AUTO_FIELD='django.db.models.AutoField')
    django.setup()


class Copies:
    """Databases made from one template on the server, and Django's default connection
    pointed at one of them: suites that run the same scenario in two copies."""

    def __init__(self, template):
        import psycopg2
        self.template = template
        self.admin = psycopg2.connect(dbname='postgres')
        self.admin.autocommit = True

    def execute(self, sql):
        with self.admin.cursor() as k:
            k.execute(sql)

    def use(self, name):
        from django.db import connections
        connections['default'].close()
        connections['default'].settings_dict['NAME'] = name

    def fresh(self, name):
        """A new copy of the template, and Django connected to it."""
        self.use(self.template)
        self.execute('DROP DATABASE IF EXISTS %s' % name)
        self.execute('CREATE DATABASE %s TEMPLATE %s' % (name, self.template))
        self.use(name)
