from django.db import migrations


class Migration(migrations.Migration):
    """Creates the cascade_delete extension (needs a superuser unless it exists already).

    Reversing it leaves the extension in place: dropping it would drop every policy.
    """
    initial = True
    dependencies = []
    operations = [
        migrations.RunSQL('CREATE EXTENSION IF NOT EXISTS cascade_delete', migrations.RunSQL.noop),
    ]
