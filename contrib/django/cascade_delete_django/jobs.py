"""Chunked jobs from Django: delete(obj, chunked=True) plans the cascade now and returns a Job,
which deletes it in chunks (each its own transaction) when run, in this process or in a
background worker of the server. Job(n) finds one again; jobs() lists them;
./manage.py cascade_delete_jobs lists, runs, resumes, pauses and cancels them."""
import time

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.transaction import TransactionManagementError

# The columns of the view cascade_delete_jobs that status() returns.
STATUS_COLUMNS = ('job', 'target', 'roots', 'state', 'planned_rows', 'done_rows', 'rows_per_second', 'time_left',
                  'runner_alive', 'runner_pid', 'chunks', 'retries', 'last_error', 'last_sqlstate', 'created',
                  'started', 'finished')


def _function(name):
    from .api import _function as qualified
    return qualified(name)


def _statuses(using, condition='', params=()):
    """Rows of the view cascade_delete_jobs as status dicts, newest first."""
    with connections[using].cursor() as cur:
        cur.execute('SELECT %s FROM %s %s ORDER BY job DESC'
                    % (', '.join(STATUS_COLUMNS), _function('cascade_delete_jobs'), condition), params)
        return [dict(zip(STATUS_COLUMNS, r)) for r in cur.fetchall()]


class Job:
    """A job of the extension's (cascade_delete_jobs), on one database alias."""

    def __init__(self, job, using=DEFAULT_DB_ALIAS):
        self.id, self.using = int(job), using

    def __repr__(self):
        return '<Job %d on %r>' % (self.id, self.using)

    def __eq__(self, other):
        return isinstance(other, Job) and (self.id, self.using) == (other.id, other.using)

    def __hash__(self):
        return hash((self.id, self.using))

    @property
    def _connection(self):
        return connections[self.using]

    def _execute(self, sql, params=()):
        with self._connection.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def status(self):
        """The job's row of cascade_delete_jobs as a dict (state, planned_rows, done_rows, rate,
        time_left, runner_alive, last_error, ...)."""
        rows = _statuses(self.using, 'WHERE job = %s', [self.id])
        if not rows:
            raise LookupError('cascade_delete job %d does not exist (or is not yours)' % self.id)
        return rows[0]

    def tables(self):
        """{table: (planned deleted, deleted, planned updated, updated)}."""
        rows = self._execute('SELECT table_name::text, planned_deleted, deleted, planned_updated, updated FROM %s '
                             'WHERE job = %%s ORDER BY 1' % _function('cascade_delete_job_tables'), [self.id])
        return {r[0]: tuple(r[1:]) for r in rows}

    def run(self):
        """Runs the job here to its end (or until paused or cancelled by someone else): CALL
        cascade_delete_run, which commits each chunk, so not inside transaction.atomic()."""
        if self._connection.in_atomic_block:
            raise TransactionManagementError('a cascade_delete job commits as it goes: run it outside '
                                             'transaction.atomic() (or use run_in_background())')
        self._execute('CALL %s(%%s)' % _function('cascade_delete_run'), [self.id])
        return self.status()

    def run_in_background(self):
        """Starts a background worker of the server that runs the job, connected as this
        connection's role; inside transaction.atomic(), once the transaction commits.
        Returns the worker's process id (None when deferred to the commit)."""
        def start():
            return self._execute('SELECT %s(%%s)' % _function('cascade_delete_run_in_background'), [self.id])[0][0]
        if self._connection.in_atomic_block:
            transaction.on_commit(start, using=self.using)
            return None
        return start()

    def pause(self):
        self._execute('SELECT %s(%%s)' % _function('cascade_delete_pause'), [self.id])

    def cancel(self):
        self._execute('SELECT %s(%%s)' % _function('cascade_delete_cancel'), [self.id])

    def pace(self, chunk_rows=None, chunk_time=None, pause=None, lock_timeout=None, rows_per_second=None):
        """Changes the pace (intervals as datetime.timedelta or text such as '50 ms')."""
        self._execute('SELECT %s(%%s, %%s, %%s::interval, %%s::interval, %%s::interval, %%s)'
                      % _function('cascade_delete_pace'),
                      [self.id, chunk_rows, chunk_time, pause, lock_timeout, rows_per_second])

    def wait(self, timeout=None, poll=0.5):
        """Polls until the job is no longer running (or is running with no runner alive: it was
        interrupted); returns its status. A planned job nobody runs is waited for until timeout
        (None: for ever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status()
            if status['state'] not in ('planned', 'running') or (status['state'] == 'running'
                                                                  and not status['runner_alive']):
                return status
            if deadline is not None and time.monotonic() > deadline:
                return status
            time.sleep(poll)


def jobs(using=DEFAULT_DB_ALIAS):
    """Every job the connection's role can see, as status dicts, newest first."""
    return _statuses(using)


def resume_jobs(using=DEFAULT_DB_ALIAS):
    """Starts a background runner for each interrupted job (a crash, a restart): [(job, pid)]."""
    with connections[using].cursor() as cur:
        cur.execute('SELECT job, pid FROM %s()' % _function('cascade_delete_resume_jobs'))
        return cur.fetchall()
