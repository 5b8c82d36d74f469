"""delete(): Model.delete() / QuerySet.delete() done by the cascade_delete extension."""
import json
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Model, QuerySet

from .exceptions import DeleteRefused, refusal_from
from .hooks import SignalPlan, check_overrides, delete_with_signals


def _function(name):
    schema = getattr(settings, 'CASCADE_DELETE_SCHEMA', None)
    if schema:
        return '%s.%s' % (connections['default'].ops.quote_name(schema), name)
    return name


def _model_tables():
    """{quoted table name: model label}, concrete models first (proxies share their table)."""
    tables = {}
    models = sorted(apps.get_models(include_auto_created=True),
                    key=lambda m: (m._meta.proxy, not m._meta.managed))
    for model in models:
        opts = model._meta
        if opts.proxy:
            continue
        tables.setdefault(opts.db_table, opts.label)
    return tables


def _table_index(connection):
    """The installed models' tables: {table: model label}, the tables in order, and their quoted
    names, an SQL array a query matches a regclass against (`unnest(...) WITH ORDINALITY`)."""
    tables = _model_tables()
    names = list(tables)
    return tables, names, [connection.ops.quote_name(t) for t in names]


def _labels(connection, report, root_model):
    """Maps the report's table names to model labels (unknown tables keep their names)."""
    deleted = report.get('deleted') or {}
    if not deleted:
        return {}
    tables, names, quoted = _table_index(connection)
    with connection.cursor() as cur:
        cur.execute(
            'SELECT k.key, min(m.i) FROM jsonb_object_keys(%s::jsonb) k(key) '
            'LEFT JOIN unnest(%s::text[]) WITH ORDINALITY m(t, i) '
            'ON pg_catalog.to_regclass(m.t) = k.key::regclass GROUP BY k.key',
            [json.dumps(deleted), quoted])
        rows = cur.fetchall()
    root_table = root_model._meta.db_table
    out = {}
    for key, i in rows:
        if i is None:
            label = key
        else:
            table = names[i - 1]
            # Django counts the rows of the deleted objects' own class (a proxy's label).
            label = root_model._meta.label if table == root_table else tables[table]
        out[label] = out.get(label, 0) + int(deleted[key])
    return out


@contextmanager
def _refusals():
    """A refusal of the extension's (SQLSTATE 23503) as DeleteProtected / DeleteRestricted /
    DeleteRefused."""
    try:
        yield
    except IntegrityError as e:
        cause = e.__cause__
        if not isinstance(e, DeleteRefused) and getattr(cause, 'pgcode', None) == '23503':
            raise refusal_from(cause) from e
        raise


class _Roots:
    """The rows a call names: a model instance (key) or a queryset's rows (keys, read once)."""

    def __init__(self, obj_or_queryset, using, api):
        """api: 'delete' or 'explain', for the messages; only delete refuses what Django's does."""
        verb = {'delete': 'deleted', 'explain': 'explained'}[api]
        if isinstance(obj_or_queryset, Model):
            self.obj = obj_or_queryset
            self.model = type(self.obj)
            opts = self.model._meta
            if self.obj.pk is None:
                raise ValueError("%s object can't be %s because its %s attribute is set to None." %
                                 (opts.object_name, verb, opts.pk.attname))
            self.using = using or router.db_for_write(self.model, instance=self.obj)
            self.connection = connections[self.using]
            self.key = opts.pk.get_db_prep_value(self.obj.pk, self.connection, prepared=False)
        elif isinstance(obj_or_queryset, QuerySet):
            qs = obj_or_queryset
            self.obj = None
            self.model = qs.model
            opts = self.model._meta
            if api == 'delete' and qs.query.is_sliced:
                raise TypeError("Cannot use 'limit' or 'offset' with delete.")
            if api == 'delete' and qs._fields is not None:
                raise TypeError("Cannot call delete() after .values() or .values_list()")
            self.using = using or qs._db or router.db_for_write(self.model, **qs._hints)
            self.connection = connections[self.using]
            self.key = [opts.pk.get_db_prep_value(k, self.connection, prepared=False)
                        for k in qs.using(self.using).order_by().values_list('pk', flat=True)]
        else:
            raise TypeError('%s() takes a model instance or a QuerySet, not %r' % (api, type(obj_or_queryset)))
        self.table = self.connection.ops.quote_name(self.model._meta.db_table)

    def call(self, function, *more):
        """"function(%s::regclass, <key or keys>, <more>)": the single-key form for an instance,
        function_many with a typed array for a queryset."""
        if self.obj is not None:
            key = '%s'
        else:
            function += '_many'
            key = '%%s::%s[]' % self.model._meta.pk.rel_db_type(self.connection)
        return '%s(%s)' % (_function(function), ', '.join(('%s::regclass', key) + more))


def _call(connection, using, sql, params):
    with _refusals(), transaction.mark_for_rollback_on_error(using):
        with connection.cursor() as cur:
            cur.execute(sql, params)
            report = cur.fetchone()[0]
    if isinstance(report, str):
        report = json.loads(report)
    return report


def delete(obj_or_queryset, using=None, dry_run=False, report=False, signals=None, ignore_overrides=False,
           chunk_size=2000, chunked=False, chunk_rows=None, background=False):
    """Deletes a model instance or the rows of a queryset, and their cascade, with cascade_delete.

    Returns Django's shape: (total, {model_label: count}); with report=True,
    (total, {model_label: count}, raw_report) where raw_report is the extension's jsonb report.
    A refusal (SQLSTATE 23503) raises DeleteProtected / DeleteRestricted / DeleteRefused,
    all subclasses of django.db.IntegrityError. With dry_run=True nothing changes and the
    counts are those the delete would have.

    Python code (see hooks.py): a root whose class (or queryset class) overrides delete() is
    refused with DeleteOverridden unless ignore_overrides=True. pre_delete / post_delete go to
    the receivers of every model that has any, with full instances streamed chunk_size at a
    time (signals=None: when there are receivers; False: never).

    chunked=True plans the delete now (the same refusals) and returns a jobs.Job, which deletes
    it in chunks of about chunk_rows rows (None: the extension's default, 50,000), each its own
    transaction: job.run() here, or
    background=True for a background worker of the server (after the current transaction
    commits). A job sends no signals: a cascade whose plan deletes rows of a model with
    receivers is refused (ValueError) unless signals=False (rows such a model gets later,
    under rows the job deletes, are deleted without signals too).
    """
    roots = _Roots(obj_or_queryset, using, 'delete')
    if chunked:
        return _start_job(roots, obj_or_queryset, dry_run, signals, ignore_overrides, chunk_rows, background)
    model, using, connection, obj = roots.model, roots.using, roots.connection, roots.obj
    if obj is None and not roots.key:
        return (0, {}, {'total': 0, 'deleted': {}, 'updated': {}}) if report else (0, {})
    sql = 'SELECT ' + roots.call('cascade_delete', '%s')
    params = [roots.table, roots.key, bool(dry_run)]
    if not dry_run and not ignore_overrides:
        check_overrides(obj_or_queryset)
    plan = None
    if signals is not False and not dry_run:
        plan = SignalPlan(model, _model_tables(), apps.get_model).keep_existing(connection)
    if plan:
        keys_call = roots.call('cascade_delete_keys', '%s::regclass[]')
        with _refusals(), transaction.atomic(using):
            result = delete_with_signals(plan, connection, using, keys_call,
                                         [roots.table, roots.key, plan.quoted_tables()],
                                         lambda: _call(connection, using, sql, params), chunk_size,
                                         obj_or_queryset)
    else:
        result = _call(connection, using, sql, params)
    counts = _labels(connection, result, model)
    if obj is not None and not dry_run:
        setattr(obj, model._meta.pk.attname, None)
    total = sum(counts.values())
    return (total, counts, result) if report else (total, counts)


def _start_job(roots, obj_or_queryset, dry_run, signals, ignore_overrides, chunk_rows, background):
    """delete(chunked=True): cascade_delete_start[_many] in a transaction that also checks the
    receivers against the tables the plan reaches; the job, run in the background if asked."""
    from .jobs import Job
    if dry_run:
        raise ValueError('delete(chunked=True) cannot be a dry run: use explain() or delete(dry_run=True)')
    if roots.obj is None and not roots.key:
        raise ValueError('delete(chunked=True): the queryset is empty')
    if not ignore_overrides:
        check_overrides(obj_or_queryset)
    connection, using = roots.connection, roots.using
    with _refusals(), transaction.atomic(using):
        with connection.cursor() as cur:
            more, params = ('chunk_rows => %s',), [chunk_rows]
            if chunk_rows is None:
                more, params = (), []
            cur.execute('SELECT ' + roots.call('cascade_delete_start', *more), [roots.table, roots.key] + params)
            job = Job(cur.fetchone()[0], using)
            plan = SignalPlan(roots.model, _model_tables(), apps.get_model).keep_existing(connection) \
                if signals is not False else None
            if plan:
                cur.execute('SELECT table_name::oid FROM %s WHERE job = %%s AND planned_deleted > 0'
                            % _function('cascade_delete_job_tables'), [job.id])
                signalled = sorted(plan.by_table[plan.oid[r[0]]][0]._meta.label
                                   for r in cur.fetchall() if r[0] in plan.oid)
                if signalled:
                    raise ValueError(
                        'a chunked delete runs in the server and sends no pre_delete / post_delete; '
                        'these models it deletes have receivers: %s. Pass signals=False to delete '
                        'without them, or delete in one transaction.' % ', '.join(signalled))
    if background:
        job.run_in_background()
    return job


# The columns of cascade_delete_explain, in order.
EXPLAIN_COLUMNS = ('path', 'parent_path', 'depth', 'table', 'via', 'columns', 'action', 'kind', 'rows',
                   'table_rows', 'sample_keys', 'note', 'tree')


def explain(obj_or_queryset, using=None, samples=3, max_paths=1000):
    """What delete() would do, without doing it: cascade_delete_explain's rows as dicts.

    One dict per path from the deleted rows (keys: EXPLAIN_COLUMNS, plus 'model', the model
    class whose table the path reaches, or None for a table no installed model has). Reads
    only: runs on a replica too; memory bounded by max_paths and samples, not by the rows
    the delete would reach.
    """
    roots = _Roots(obj_or_queryset, using, 'explain')
    model = roots.model
    tables, names, quoted = _table_index(roots.connection)
    with roots.connection.cursor() as cur:
        cur.execute(
            'SELECT e.path, e.parent_path, e.depth, e.table_name::text, e.via, e.columns, e.action, e.kind, '
            'e.rows, e.table_rows, e.sample_keys, e.note, e.tree, '
            '(SELECT min(m.i) FROM unnest(%%s::text[]) WITH ORDINALITY m(t, i) '
            ' WHERE pg_catalog.to_regclass(m.t) = e.table_name) '
            'FROM %s e ORDER BY e.path' % roots.call('cascade_delete_explain', '%s', '%s'),
            [quoted, roots.table, roots.key, samples, max_paths])
        rows = cur.fetchall()
    out = []
    for r in rows:
        d = dict(zip(EXPLAIN_COLUMNS, r[:len(EXPLAIN_COLUMNS)]))
        i = r[len(EXPLAIN_COLUMNS)]
        d['model'] = apps.get_model(tables[names[i - 1]]) if i else None
        if d['path'] == 1 and d['model'] is not None and d['model']._meta.db_table == model._meta.db_table:
            d['model'] = model  # the deleted objects' own class (a proxy)
        out.append(d)
    return out
