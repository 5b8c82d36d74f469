"""The Python code Django runs when it deletes, and what delete() does about it.

Django's own delete calls two kinds of Python code that a set-based delete in the
database would skip:

* a model's delete() override (and a QuerySet subclass's delete()), called only on the
  objects delete() is called on, never on rows reached by the cascade;
* pre_delete / post_delete receivers, called for every object of every model that has
  receivers, with the full instance.

delete() refuses a root whose class (or queryset class) overrides delete(), naming the
override, unless ignore_overrides=True: the override may do anything (refuse, renumber a
tree, delete by path) and there is no way to tell whether skipping it is safe. It sends the
signals (signals=None: when any reached model has receivers) by streaming the instances
from the server in chunks: the keys of the rows to delete are computed once in the server
(cascade_delete_keys), pre_delete goes to every instance before anything is deleted,
post_delete instances are copied to a temporary table first and streamed back after the
delete. Client memory is bounded by chunk_size, not by the cascade.
"""
import itertools

import django
from django.db import DatabaseError
from django.db.models import Model, QuerySet, signals
from django.db.models.expressions import RawSQL

# Django 4.1 added the origin argument to pre_delete / post_delete.
_ORIGIN = django.VERSION >= (4, 1)
# Names of the temporary tables of one delete, unique in the session.
_calls = itertools.count(1)


class DeleteChanged(DatabaseError):
    """Rows changed between the signals and the delete (another transaction, or a receiver):
    the transaction is rolled back; retry."""


class DeleteOverridden(TypeError):
    """The object's class or the queryset's class overrides delete(); cascade_delete_django.delete()
    would skip that code. Call Django's delete(), or delete(..., ignore_overrides=True)."""

    def __init__(self, target, override):
        self.override = override
        TypeError.__init__(
            self, '%s overrides delete() (%s); cascade_delete_django.delete() runs no Python code on '
            'the deleted rows and would skip it. Delete with Django (obj.delete()), or pass '
            'ignore_overrides=True if deleting without it is what you want.' % (target, override))


def _delete_override(cls, base):
    """The class between cls and base (Model or QuerySet) that defines delete(), as
    'module.Class.delete', or None."""
    for c in cls.__mro__:
        if c is base:
            return None
        if 'delete' in vars(c):
            return '%s.%s.delete' % (c.__module__, c.__qualname__)
    return None


def model_delete_override(model):
    """The delete() override of model's class hierarchy, or None."""
    return _delete_override(model, Model)


def queryset_delete_override(qs_class):
    """The delete() override of a QuerySet subclass, or None."""
    return _delete_override(qs_class, QuerySet)


def check_overrides(obj_or_queryset):
    """Raises DeleteOverridden when the root's delete() is overridden."""
    if isinstance(obj_or_queryset, Model):
        override = model_delete_override(type(obj_or_queryset))
        what = '%s object' % type(obj_or_queryset)._meta.label
    else:
        override = queryset_delete_override(type(obj_or_queryset))
        what = 'the queryset of %s (%s)' % (obj_or_queryset.model._meta.label, type(obj_or_queryset).__name__)
    if override:
        raise DeleteOverridden(what, override)


def has_receivers(model):
    return (signals.pre_delete.has_listeners(model), signals.post_delete.has_listeners(model))


def python_code_warnings(models):
    """The sync's report: the models whose deletes run Python code that cascade_delete skips or
    must stream rows for."""
    out = []
    for model in models:
        opts = model._meta
        if opts.auto_created:
            continue
        override = model_delete_override(model)
        if override:
            out.append('%s overrides delete() (%s): cascade_delete_django.delete() refuses its objects '
                       'unless ignore_overrides=True; rows a cascade reaches are deleted without it, as '
                       'Django does' % (opts.label, override))
        qs_override = queryset_delete_override(type(model._default_manager.get_queryset()))
        if qs_override:
            out.append('%s\'s default queryset overrides delete() (%s): delete(queryset) refuses it unless '
                       'ignore_overrides=True' % (opts.label, qs_override))
        pre, post = has_receivers(model)
        if pre or post:
            out.append('%s has %s receivers: delete() streams its deleted rows to them (signals=False '
                       'skips them)' % (opts.label, ' and '.join(n for n, on in (('pre_delete', pre),
                                                                                ('post_delete', post)) if on)))
    return out


class SignalPlan:
    """The models whose rows must reach receivers in one delete, by table."""

    def __init__(self, root_model, model_tables, get_model):
        self.by_table = {}   # db_table -> (model, pre, post)
        for table, label in model_tables.items():
            model = root_model if table == root_model._meta.db_table else get_model(label)
            if model._meta.auto_created:
                continue
            pre, post = has_receivers(model)
            if pre or post:
                self.by_table[table] = (model, pre, post)

    def __bool__(self):
        return bool(self.by_table)

    def keep_existing(self, connection):
        """Leaves out models whose table this database does not have (another database's); notes
        each table's OID and the name the extension's report gives it."""
        self.connection = connection
        qn = connection.ops.quote_name
        with connection.cursor() as cur:
            cur.execute("SELECT t, c.oid, pg_catalog.format('%%I.%%I', n.nspname, c.relname) "
                        'FROM pg_catalog.unnest(%s::text[]) t '
                        'JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t) '
                        'JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace',
                        [[qn(t) for t in self.by_table]])
            found = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
        self.by_table = {t: v for t, v in self.by_table.items() if qn(t) in found}
        self.oid = {found[qn(t)][0]: t for t in self.by_table}             # OID -> table
        self.report_name = {t: found[qn(t)][1] for t in self.by_table}    # table -> "nsp.rel"
        return self

    def quoted_tables(self):
        return [self.connection.ops.quote_name(t) for t in self.by_table]


def _stream(connection, sql, params, chunk_size):
    """Rows of sql through a server-side cursor, chunk_size at a time."""
    with connection.chunked_cursor() as cur:
        cur.execute(sql, params)
        while True:
            rows = cur.fetchmany(chunk_size)
            if not rows:
                return
            yield from rows


def _send(signal, model, using, connection, sql, params, chunk_size, origin):
    # Django's default select: every concrete field (a child's parents' through joins), in this order
    names = [f.attname for f in model._meta.concrete_fields]
    for row in _stream(connection, sql, params, chunk_size):
        instance = model.from_db(using, names, row)
        kwargs = {'sender': model, 'instance': instance, 'using': using}
        if _ORIGIN:
            kwargs['origin'] = origin
        signal.send(**kwargs)


def delete_with_signals(plan, connection, using, keys_call, keys_params, delete_call, chunk_size, origin):
    """Inside a transaction: the keys, pre_delete, the delete, a check, post_delete.

    keys_call / keys_params: the cascade_delete_keys(...) call for plan's tables; delete_call():
    runs the delete and returns its report. Returns the report.
    """
    qn = connection.ops.quote_name
    suffix = '%d' % next(_calls)
    keys_table = qn('cascade_delete_signal_keys_' + suffix)
    with connection.cursor() as cur:
        cur.execute('CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT k.table_name::pg_catalog.oid AS rel, '
                    'k.key, k.delete_order FROM %s k' % (keys_table, keys_call), keys_params)
        cur.execute('SELECT rel, min(delete_order), count(*) FROM %s GROUP BY rel ORDER BY 2' % keys_table)
        reached = cur.fetchall()
    # Django's order: every pre_delete before anything is deleted, models whose rows depend on
    # others' first (children before parents), each model's instances by primary key.
    order = [(plan.oid[rel], n) for rel, _, n in reached if rel in plan.oid]

    def rows_of(model, table):
        """The model's full rows (a child's parent rows joined, as Django reads them) among the keys."""
        pk = model._meta.pk
        keys = RawSQL('SELECT k.key::%s FROM %s k WHERE k.rel = pg_catalog.to_regclass(%%s)::pg_catalog.oid'
                      % (pk.rel_db_type(connection), keys_table), [qn(table)])
        qs = model._base_manager.using(using).filter(pk__in=keys).order_by('pk')
        return qs.query.sql_with_params()

    for table, _ in order:
        model, pre, _ = plan.by_table[table]
        if pre:
            sql, params = rows_of(model, table)
            _send(signals.pre_delete, model, using, connection, sql, params, chunk_size, origin)
    gone = {}
    with connection.cursor() as cur:
        for i, (table, _) in enumerate(order):
            model, _, post = plan.by_table[table]
            if post:
                gone[table] = qn('cascade_delete_signal_rows_%s_%d' % (suffix, i))
                sql, params = rows_of(model, table)
                # columns by position: a child's and its parent's may share names
                cols = ', '.join('c%d' % j for j in range(len(model._meta.concrete_fields)))
                cur.execute('CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT * FROM (%s) s(%s)'
                            % (gone[table], sql, cols), params)
    report = delete_call()
    # The rows deleted are the rows signalled: a row added or removed by another transaction
    # (or by a receiver) in between would have been deleted without its signals, or signalled
    # without being deleted.
    deleted = report.get('deleted') or {}
    for table, n in order:
        name = plan.report_name[table]
        if int(deleted.get(name, 0)) != n:
            raise DeleteChanged('cascade_delete_django: %s rows of %s were signalled but %s deleted: rows '
                                'changed while the receivers ran; nothing was deleted, retry'
                                % (n, name, deleted.get(name, 0)))
    for table, _ in order:
        model, _, post = plan.by_table[table]
        if post:
            # Django sends post_delete in descending key order (it reverses its collections)
            pk_at = [f.attname for f in model._meta.concrete_fields].index(model._meta.pk.attname)
            sql = 'SELECT * FROM %s ORDER BY c%d DESC' % (gone[table], pk_at)
            _send(signals.post_delete, model, using, connection, sql, [], chunk_size, origin)
    # ON COMMIT DROP would keep them until the outermost transaction ends.
    with connection.cursor() as cur:
        cur.execute('DROP TABLE %s' % ', '.join([keys_table] + list(gone.values())))
    return report
