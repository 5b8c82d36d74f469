from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from ...jobs import Job, jobs, resume_jobs


class Command(BaseCommand):
    help = ("Chunked cascade_delete jobs (delete(obj, chunked=True)): list them with their progress; "
            "run one here, start its background runner, resume every interrupted one, pause or cancel one.")

    def add_arguments(self, parser):
        parser.add_argument('action', nargs='?', default='list',
                            choices=['list', 'run', 'background', 'resume', 'pause', 'cancel'])
        parser.add_argument('job', nargs='?', type=int, help='the job (run, background, pause, cancel)')
        parser.add_argument('--database', default=DEFAULT_DB_ALIAS)

    def handle(self, *args, action, job, database, **options):
        if action in ('run', 'background', 'pause', 'cancel') and job is None:
            raise CommandError('%s needs a job number' % action)
        try:
            if action == 'list':
                rows = jobs(database)
                if not rows:
                    self.stdout.write('no jobs')
                for r in rows:
                    self.stdout.write('%(job)6d  %(state)-9s  %(done_rows)s / %(planned_rows)s rows  '
                                      '%(target)s %(roots)s' % r +
                                      ('  (runner alive)' if r['runner_alive'] else '') +
                                      ('  time left %s' % r['time_left'] if r['time_left'] else '') +
                                      ('  last error: %s' % r['last_error'] if r['last_error'] else ''))
            elif action == 'run':
                status = Job(job, database).run()
                self.stdout.write('job %d: %s, %s / %s rows' % (job, status['state'], status['done_rows'],
                                                               status['planned_rows']))
            elif action == 'background':
                self.stdout.write('job %d: runner started, process %s' % (job, Job(job, database).run_in_background()))
            elif action == 'resume':
                resumed = resume_jobs(database)
                self.stdout.write('resumed %d job(s)%s' % (len(resumed), ''.join(
                    '\n  job %d: process %d' % r for r in resumed)))
            elif action == 'pause':
                Job(job, database).pause()
            elif action == 'cancel':
                Job(job, database).cancel()
        except (DatabaseError, LookupError) as e:
            raise CommandError(str(e).strip())
