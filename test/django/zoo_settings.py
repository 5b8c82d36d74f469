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
