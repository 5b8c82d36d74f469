"""delete(): Model.delete() / QuerySet.delete() done by the cascade_delete extension."""
import json

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


def _labels(connection, report, root_model):
    """Maps the report's table names to model labels (unknown tables keep their names)."""
    deleted = report.get('deleted') or {}
    if not deleted:
        return {}
    tables = _model_tables()
    names = list(tables)
    quoted = [connection.ops.quote_name(t) for t in names]
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


def _call(connection, using, sql, params):
    try:
        with transaction.mark_for_rollback_on_error(using):
            with connection.cursor() as cur:
                cur.execute(sql, params)
                report = cur.fetchone()[0]
    except IntegrityError as e:
        cause = e.__cause__
        if getattr(cause, 'pgcode', None) == '23503':
            raise refusal_from(cause) from e
        raise
    if isinstance(report, str):
        report = json.loads(report)
    return report


def delete(obj_or_queryset, using=None, dry_run=False, report=False, signals=None, ignore_overrides=False,
           chunk_size=2000):
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
    """
    if isinstance(obj_or_queryset, Model):
        obj = obj_or_queryset
        model = type(obj)
        opts = model._meta
        if obj.pk is None:
            raise ValueError("%s object can't be deleted because its %s attribute is set to None." %
                             (opts.object_name, opts.pk.attname))
        using = using or router.db_for_write(model, instance=obj)
        connection = connections[using]
        key = opts.pk.get_db_prep_value(obj.pk, connection, prepared=False)
        sql = 'SELECT %s(%%s::regclass, %%s, %%s)' % _function('cascade_delete')
        params = [connection.ops.quote_name(opts.db_table), key, bool(dry_run)]
    elif isinstance(obj_or_queryset, QuerySet):
        qs = obj_or_queryset
        model = qs.model
        opts = model._meta
        if qs.query.is_sliced:
            raise TypeError("Cannot use 'limit' or 'offset' with delete.")
        if qs._fields is not None:
            raise TypeError("Cannot call delete() after .values() or .values_list()")
        using = using or qs._db or router.db_for_write(model, **qs._hints)
        connection = connections[using]
        keys = [opts.pk.get_db_prep_value(k, connection, prepared=False)
                for k in qs.using(using).order_by().values_list('pk', flat=True)]
        if not keys:
            return (0, {}, {'total': 0, 'deleted': {}, 'updated': {}}) if report else (0, {})
        sql = 'SELECT %s(%%s::regclass, %%s::%s[], %%s)' % (
            _function('cascade_delete_many'), opts.pk.rel_db_type(connection))
        params = [connection.ops.quote_name(opts.db_table), keys, bool(dry_run)]
        obj = None
    else:
        raise TypeError('delete() takes a model instance or a QuerySet, not %r' % type(obj_or_queryset))

    if not dry_run and not ignore_overrides:
        check_overrides(obj_or_queryset)
    plan = SignalPlan(model, _model_tables(), apps.get_model) if signals is not False and not dry_run else None
    if plan:
        plan.keep_existing(connection)
    if plan:
        table = connection.ops.quote_name(opts.db_table)
        tables = [connection.ops.quote_name(t) for t in plan.by_table]
        if obj is not None:
            keys_call = '%s(%%s::regclass, %%s, %%s::regclass[])' % _function('cascade_delete_keys')
        else:
            keys_call = '%s(%%s::regclass, %%s::%s[], %%s::regclass[])' % (
                _function('cascade_delete_keys_many'), opts.pk.rel_db_type(connection))
        try:
            with transaction.atomic(using):
                result = delete_with_signals(plan, connection, using, keys_call, [table, params[1], tables],
                                             lambda: _call(connection, using, sql, params), chunk_size,
                                             obj_or_queryset)
        except IntegrityError as e:
            cause = e.__cause__
            if not isinstance(e, DeleteRefused) and getattr(cause, 'pgcode', None) == '23503':
                raise refusal_from(cause) from e
            raise
    else:
        result = _call(connection, using, sql, params)
    counts = _labels(connection, result, model)
    if obj is not None and not dry_run:
        setattr(obj, opts.pk.attname, None)
    total = sum(counts.values())
    return (total, counts, result) if report else (total, counts)


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
    if isinstance(obj_or_queryset, Model):
        obj = obj_or_queryset
        model = type(obj)
        using = using or router.db_for_write(model, instance=obj)
        connection = connections[using]
        if obj.pk is None:
            raise ValueError('%s object has no primary key' % model._meta.object_name)
        key = model._meta.pk.get_db_prep_value(obj.pk, connection, prepared=False)
        call = '%s(%%s::regclass, %%s, %%s, %%s)' % _function('cascade_delete_explain')
    elif isinstance(obj_or_queryset, QuerySet):
        qs = obj_or_queryset
        model = qs.model
        using = using or qs._db or router.db_for_write(model, **qs._hints)
        connection = connections[using]
        key = [model._meta.pk.get_db_prep_value(k, connection, prepared=False)
               for k in qs.using(using).order_by().values_list('pk', flat=True)]
        call = '%s(%%s::regclass, %%s::%s[], %%s, %%s)' % (_function('cascade_delete_explain_many'),
                                                          model._meta.pk.rel_db_type(connection))
    else:
        raise TypeError('explain() takes a model instance or a QuerySet, not %r' % type(obj_or_queryset))
    tables = _model_tables()
    names = list(tables)
    quoted = [connection.ops.quote_name(t) for t in names]
    with connection.cursor() as cur:
        cur.execute(
            'SELECT e.path, e.parent_path, e.depth, e.table_name::text, e.via, e.columns, e.action, e.kind, '
            'e.rows, e.table_rows, e.sample_keys, e.note, e.tree, '
            '(SELECT min(m.i) FROM unnest(%%s::text[]) WITH ORDINALITY m(t, i) '
            ' WHERE pg_catalog.to_regclass(m.t) = e.table_name) '
            'FROM %s e ORDER BY e.path' % call,
            [quoted, connection.ops.quote_name(model._meta.db_table), key, samples, max_paths])
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
