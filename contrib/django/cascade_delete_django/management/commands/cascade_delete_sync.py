from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS

from ...sync import SyncError, plan, render, sync


class Command(BaseCommand):
    help = ("Writes the cascade_delete policies that reproduce every installed model's on_delete "
            "rules (ForeignKey, OneToOneField, M2M through tables, inheritance parent links, "
            "GenericRelation), and drops stale ones. Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument('--database', default=DEFAULT_DB_ALIAS,
                            help='Database alias to synchronise (default: "default").')
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument('--dry-run', action='store_true',
                          help='Print the SQL that would run; change nothing.')
        mode.add_argument('--check', action='store_true',
                          help='Change nothing; exit with status 1 if the policies are out of sync.')

    def handle(self, *args, database, dry_run, check, verbosity, **options):
        try:
            if dry_run or check:
                result = plan(database)
            else:
                result = sync(database)
        except SyncError as e:
            raise CommandError(str(e))
        for w in result.warnings:
            self.stderr.write('warning: %s' % w)
        if dry_run:
            for sql, params, what in result.statements:
                if verbosity >= 2:
                    self.stdout.write('-- %s' % what)
                self.stdout.write(render(database, sql, params))
            return
        if check:
            if result.in_sync:
                if verbosity >= 1:
                    self.stdout.write('cascade_delete policies are in sync (%d).' % result.unchanged)
                return
            for _, _, what in result.statements:
                self.stdout.write(what)
            raise CommandError('cascade_delete policies are out of sync: %d to set, %d to drop '
                               '(run cascade_delete_sync)' % (len(result.written), len(result.dropped)),
                               returncode=1)
        if verbosity >= 2:
            for _, _, what in result.statements:
                self.stdout.write(what)
        if verbosity >= 1:
            self.stdout.write('cascade_delete: %d policies written, %d dropped, %d unchanged.'
                              % (len(result.written), len(result.dropped), result.unchanged))
