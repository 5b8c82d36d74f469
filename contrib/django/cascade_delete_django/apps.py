from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CascadeDeleteConfig(AppConfig):
    name = 'cascade_delete_django'
    verbose_name = 'cascade_delete'
    default_auto_field = 'django.db.models.AutoField'

    def ready(self):
        from django.conf import settings
        if getattr(settings, 'CASCADE_DELETE_SYNC_ON_MIGRATE', False):
            post_migrate.connect(_sync_after_migrate, sender=self,
                                 dispatch_uid='cascade_delete_django.sync_after_migrate')


def _sync_after_migrate(sender, using='default', verbosity=1, **kwargs):
    # Runs once per `migrate` (this app's post_migrate), after every app's migrations.
    from .sync import sync
    result = sync(using=using)
    if verbosity >= 1 and (result.written or result.dropped):
        print('cascade_delete: %d policies written, %d dropped' % (len(result.written), len(result.dropped)))
    for w in result.warnings:
        print('cascade_delete: warning: %s' % w)
