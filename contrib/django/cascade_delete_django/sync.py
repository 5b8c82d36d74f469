"""Computes the cascade_delete policies that reproduce the installed models' on_delete rules,
compares them with the policies in the database and applies the difference.

One policy per:
  * ForeignKey / OneToOneField (incl. those of automatic M2M through tables, which CASCADE):
    CASCADE, PROTECT, RESTRICT, SET_NULL, DO_NOTHING as themselves; SET_DEFAULT and SET(value)
    as action SET with the value Django would write (SET_NULL when that value is None), since
    Django never puts defaults in the database;
  * multi-table inheritance parent link (<parent>_ptr): CASCADE with parent_link => true, so
    deleting a child row also deletes its parent row;
  * GenericRelation: CASCADE on the GenericForeignKey's model, columns {object_id}, parent =>
    the declaring model, type_column => its content type column, type_value => its ContentType id.

``parent =>`` is given only when the database has no foreign key constraint on the columns
(db_constraint=False, generic relations); otherwise the catalog's constraint names the parent.
The tables it manages are those of the installed, non-proxy models that migrate to the database;
their policies that no model field asks for are dropped.
"""
from dataclasses import dataclass, field as dc_field

from django.apps import apps
from django.conf import settings
from django.db import connections, models, router, transaction
from django.db.models import deletion

from .hooks import python_code_warnings

_ACTIONS = {
    deletion.CASCADE: 'CASCADE',
    deletion.PROTECT: 'PROTECT',
    deletion.RESTRICT: 'RESTRICT',
    deletion.SET_NULL: 'SET_NULL',
    deletion.DO_NOTHING: 'DO_NOTHING',
}


class SyncError(Exception):
    pass


@dataclass
class Policy:
    child: int                    # oid of the referencing table
    columns: tuple
    parent: int                   # oid of the referenced table
    action: str
    value: str = None
    parent_columns: tuple = ()
    parent_link: bool = False
    type_column: str = None
    type_value: str = None
    explicit_parent: bool = False  # no catalog foreign key: pass parent (and parent_columns)
    parent_is_pk: bool = True
    source: str = ''

    def key(self):
        return (self.child, tuple(self.columns), self.parent)

    def same(self, other):
        return (self.action, self.value, tuple(self.parent_columns), bool(self.parent_link),
                self.type_column, self.type_value) == \
               (other.action, other.value, tuple(other.parent_columns), bool(other.parent_link),
                other.type_column, other.type_value)


@dataclass
class SyncResult:
    statements: list = dc_field(default_factory=list)   # [(sql, params, description)]
    written: list = dc_field(default_factory=list)      # policies set
    dropped: list = dc_field(default_factory=list)      # policies dropped
    unchanged: int = 0
    warnings: list = dc_field(default_factory=list)

    @property
    def in_sync(self):
        return not self.statements


def _field_label(model, field):
    return '%s.%s' % (model._meta.label, field.name)


def _db_text(field, value, connection):
    """The text form of the value Django would store in field's column, or None."""
    if isinstance(value, models.Model):
        value = getattr(value, field.target_field.attname)
    value = field.get_db_prep_save(value, connection)
    if value is None:
        return None
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def _set_argument(on_delete):
    """For SET(x): (True, x); otherwise (False, None)."""
    deconstruct = getattr(on_delete, 'deconstruct', None)
    if deconstruct is None:
        return False, None
    try:
        path, args, kwargs = deconstruct()
    except Exception:
        return False, None
    if path == 'django.db.models.SET' and len(args) == 1:
        return True, args[0]
    return False, None


class _Planner:
    def __init__(self, using, create_content_types):
        self.using = using
        self.connection = connections[using]
        self.create_content_types = create_content_types
        self.warnings = []
        self.schema = None

    def q(self, name):
        return self.connection.ops.quote_name(name)

    def fn(self, name):
        return '%s.%s' % (self.q(self.schema), name)

    # -- database state -------------------------------------------------------------------
    def load(self, cur):
        cur.execute("SELECT n.nspname FROM pg_catalog.pg_extension e "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
                    "WHERE e.extname = 'cascade_delete'")
        row = cur.fetchone()
        if row is None:
            raise SyncError('the cascade_delete extension is not installed in database %r '
                            '(run migrate, or CREATE EXTENSION cascade_delete as a superuser)'
                            % self.connection.settings_dict['NAME'])
        self.schema = row[0]
        cur.execute("SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = "
                    "(%s || '.cascade_delete_policy')::regclass AND a.attnum > 0 AND NOT a.attisdropped",
                    [self.q(self.schema)])
        cols = {r[0] for r in cur.fetchall()}
        self.new_api = {'parent_link', 'type_column', 'type_value'} <= cols

        self.models = []
        for model in apps.get_models(include_auto_created=True):
            opts = model._meta
            if opts.proxy or not router.allow_migrate_model(self.using, model):
                continue
            self.models.append(model)
        names = sorted({m._meta.db_table for m in self.models})
        cur.execute("SELECT t, c.oid, c.oid::pg_catalog.regclass::text, c.relkind "
                    "FROM unnest(%s::text[]) t LEFT JOIN pg_catalog.pg_class c "
                    "ON c.oid = pg_catalog.to_regclass(t)", [[self.q(n) for n in names]])
        self.table = {}      # db_table -> (oid, regclass text)
        self.regclass = {}   # oid -> regclass text
        by_quoted = {self.q(n): n for n in names}
        for quoted, oid, text, relkind in cur.fetchall():
            name = by_quoted[quoted]
            if oid is None or relkind not in ('r', 'p'):
                continue
            self.table[name] = (oid, text)
            self.regclass[oid] = text
        managed = []
        for model in self.models:
            if model._meta.db_table in self.table:
                managed.append(model)
            elif model._meta.managed:
                self.warnings.append('%s: table %s does not exist (run migrate); skipped'
                                     % (model._meta.label, model._meta.db_table))
        self.models = managed
        self.oids = sorted({oid for oid, _ in self.table.values()})

        # Single-column foreign key constraints of the managed tables: (conrelid, column) -> {confrelid}
        cur.execute("SELECT c.conrelid, a.attname, c.confrelid FROM pg_catalog.pg_constraint c "
                    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
                    "WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 AND c.conparentid = 0 "
                    "AND c.conrelid = ANY(%s::oid[])", [self.oids])
        self.fks = {}
        for conrelid, col, confrelid in cur.fetchall():
            self.fks.setdefault((conrelid, col), set()).add(confrelid)

        extra = ', parent_link, type_column, type_value' if self.new_api else ''
        cur.execute("SELECT child::oid, columns::text[], action, value, parent::oid, "
                    "parent_columns::text[]" + extra + " FROM " + self.fn('cascade_delete_policy') +
                    " WHERE child = ANY(%s::oid[])", [self.oids])
        self.existing = {}
        for row in cur.fetchall():
            p = Policy(child=row[0], columns=tuple(row[1]), action=row[2], value=row[3],
                       parent=row[4], parent_columns=tuple(row[5]))
            if self.new_api:
                p.parent_link, p.type_column, p.type_value = bool(row[6]), row[7], row[8]
            self.existing[p.key()] = p

    # -- desired policies -----------------------------------------------------------------------
    def desired(self, cur):
        out = {}

        def add(p):
            k = p.key()
            if k in out:
                if not out[k].same(p):
                    self.warnings.append('%s: conflicts with %s on the same columns and parent; skipped'
                                         % (p.source, out[k].source))
                return
            out[k] = p

        for model in self.models:
            for f in model._meta.local_fields:
                if f.is_relation and (f.many_to_one or f.one_to_one) and f.concrete and f.column:
                    p = self.fk_policy(model, f)
                    if p is not None:
                        add(p)
        # Generic relations: declared on any model, proxies included (for_concrete_model=False).
        try:
            from django.contrib.contenttypes.fields import GenericRelation
        except Exception:  # contenttypes not importable
            GenericRelation = None
        if GenericRelation is not None and apps.is_installed('django.contrib.contenttypes'):
            for model in apps.get_models():
                if not router.allow_migrate_model(self.using, model):
                    continue
                for f in model._meta.private_fields:
                    if isinstance(f, GenericRelation):
                        p = self.generic_policy(cur, model, f)
                        if p is not None:
                            add(p)
        return out

    def fk_policy(self, model, f):
        label = _field_label(model, f)
        child = self.table[model._meta.db_table][0]
        target = f.target_field
        target_model = target.model._meta.concrete_model
        if target_model._meta.db_table not in self.table:
            self.warnings.append('%s: referenced table %s is not managed here; skipped'
                                 % (label, target_model._meta.db_table))
            return None
        parent = self.table[target_model._meta.db_table][0]
        on_delete = f.remote_field.on_delete
        action, value = _ACTIONS.get(on_delete), None
        if on_delete is deletion.SET_DEFAULT:
            value = _db_text(f, f.get_default(), self.connection)
            action = 'SET' if value is not None else 'SET_NULL'
        elif action is None:
            is_set, arg = _set_argument(on_delete)
            if not is_set:
                self.warnings.append('%s: on_delete=%r is not a Django action; skipped (the database '
                                     'constraint decides)' % (label, on_delete))
                return None
            if callable(arg):
                configured = getattr(settings, 'CASCADE_DELETE_SET_VALUES', {}) or {}
                if label not in configured:
                    self.warnings.append('%s: SET(callable) cannot be evaluated in the database; skipped '
                                         '(give a value in settings.CASCADE_DELETE_SET_VALUES[%r])'
                                         % (label, label))
                    return None
                arg = configured[label]
                if callable(arg):
                    arg = arg()
            value = _db_text(f, arg, self.connection)
            action = 'SET' if value is not None else 'SET_NULL'
        if action == 'SET_NULL' and not f.null:
            self.warnings.append('%s: sets NULL on a NOT NULL column; skipped' % label)
            return None
        has_fk = parent in self.fks.get((child, f.column), ())
        explicit = not (f.db_constraint and has_fk)
        if explicit and action == 'DO_NOTHING':
            return None  # an application-only key that does nothing needs no policy
        parent_link = f in model._meta.parents.values()
        if parent_link and action != 'CASCADE':
            self.warnings.append('%s: parent link with on_delete=%s: deleting a %s will not delete its '
                                 'parent row' % (label, action, model._meta.object_name))
            parent_link = False
        if parent_link and not self.new_api:
            self.warnings.append('%s: the installed cascade_delete has no parent_link policies; '
                                 'deleting a child row will not delete its parent row' % label)
            parent_link = False
        return Policy(child=child, columns=(f.column,), parent=parent, action=action, value=value,
                      parent_columns=(target.column,), parent_link=parent_link,
                      explicit_parent=explicit, parent_is_pk=target.primary_key, source=label)

    def content_type_id(self, cur, model, for_concrete_model):
        from django.contrib.contenttypes.models import ContentType
        opts = (model._meta.concrete_model if for_concrete_model else model)._meta
        ct = ContentType.objects.using(self.using).filter(
            app_label=opts.app_label, model=opts.model_name).values_list('pk', flat=True).first()
        if ct is None and self.create_content_types:
            ct = ContentType.objects.using(self.using).get_or_create(
                app_label=opts.app_label, model=opts.model_name)[0].pk
        return ct

    def generic_policy(self, cur, model, f):
        label = _field_label(model, f)
        if not self.new_api:
            self.warnings.append('%s: the installed cascade_delete has no generic relation policies; skipped'
                                 % label)
            return None
        remote = f.remote_field.model
        try:
            obj_field = remote._meta.get_field(f.object_id_field_name)
            ct_field = remote._meta.get_field(f.content_type_field_name)
        except Exception:
            self.warnings.append('%s: cannot find the generic foreign key fields; skipped' % label)
            return None
        child_model = obj_field.model._meta.concrete_model
        if ct_field.model._meta.concrete_model is not child_model:
            self.warnings.append('%s: object id and content type live in different tables; skipped' % label)
            return None
        parent_model = model._meta.concrete_model
        if child_model._meta.db_table not in self.table or parent_model._meta.db_table not in self.table:
            self.warnings.append('%s: a table is not managed here; skipped' % label)
            return None
        ct = self.content_type_id(cur, model, f.for_concrete_model)
        if ct is None:
            self.warnings.append('%s: no content type yet for %s (run migrate); skipped'
                                 % (label, model._meta.label))
            return None
        return Policy(child=self.table[child_model._meta.db_table][0], columns=(obj_field.column,),
                      parent=self.table[parent_model._meta.db_table][0], action='CASCADE',
                      parent_columns=(parent_model._meta.pk.column,), type_column=ct_field.column,
                      type_value=str(ct), explicit_parent=True, parent_is_pk=True, source=label)

    # -- statements -----------------------------------------------------------------------------
    def set_statement(self, p):
        sql = 'SELECT %s(%%s::regclass, %%s::text[], %%s' % self.fn('cascade_delete_set_policy')
        params = [self.regclass[p.child], list(p.columns), p.action]
        if p.value is not None:
            sql += ', value => %s'
            params.append(p.value)
        if p.explicit_parent:
            sql += ', parent => %s::regclass'
            params.append(self.regclass[p.parent])
            if not p.parent_is_pk:
                sql += ', parent_columns => %s::text[]'
                params.append(list(p.parent_columns))
        if p.parent_link:
            sql += ', parent_link => true'
        if p.type_column is not None:
            sql += ', type_column => %s, type_value => %s'
            params += [p.type_column, p.type_value]
        return sql + ')', params

    def drop_statement(self, p):
        if self.new_api:
            return ('SELECT %s(%%s::regclass, %%s::text[], parent => %%s::regclass)'
                    % self.fn('cascade_delete_drop_policy'),
                    [self.regclass[p.child], list(p.columns), self.regclass.get(p.parent, str(p.parent))])
        return ('SELECT %s(%%s::regclass, %%s::text[])' % self.fn('cascade_delete_drop_policy'),
                [self.regclass[p.child], list(p.columns)])


def _describe(p, regclass):
    s = '%s(%s) -> %s: %s' % (regclass.get(p.child, p.child), ', '.join(p.columns),
                              regclass.get(p.parent, p.parent), p.action)
    if p.value is not None:
        s += ' %s' % p.value
    if p.parent_link:
        s += ' (parent link)'
    if p.type_column:
        s += ' (where %s = %s)' % (p.type_column, p.type_value)
    return s


def plan(using='default', create_content_types=False):
    """Compares the models with the database's policies; returns a SyncResult (nothing is changed,
    except that missing ContentType rows are created when create_content_types is true)."""
    planner = _Planner(using, create_content_types)
    connection = planner.connection
    result = SyncResult()
    with connection.cursor() as cur:
        planner.load(cur)
        want = planner.desired(cur)
    result.warnings = planner.warnings + python_code_warnings(
        [m for m in apps.get_models(include_auto_created=True)
         if not m._meta.proxy and router.allow_migrate_model(using, m)])
    for key, p in sorted(planner.existing.items()):
        if key not in want:
            sql, params = planner.drop_statement(p)
            result.statements.append((sql, params, 'drop ' + _describe(p, planner.regclass)))
            result.dropped.append(p)
    for key, p in sorted(want.items(), key=lambda kv: (kv[1].source, kv[0])):
        old = planner.existing.get(key)
        if old is not None and old.same(p):
            result.unchanged += 1
            continue
        sql, params = planner.set_statement(p)
        result.statements.append((sql, params, 'set ' + _describe(p, planner.regclass) + '  [%s]' % p.source))
        result.written.append(p)
    return result


def sync(using='default', dry_run=False):
    """Writes the policies the models ask for and drops stale ones, in one transaction.
    Idempotent: a second run finds nothing to do. Returns the SyncResult."""
    connection = connections[using]
    with transaction.atomic(using=using):
        result = plan(using, create_content_types=not dry_run)
        if not dry_run:
            with connection.cursor() as cur:
                for sql, params, _ in result.statements:
                    cur.execute(sql, params)
    return result


def render(using, sql, params):
    """The statement as psycopg2 would send it."""
    connection = connections[using]
    connection.ensure_connection()
    with connection.connection.cursor() as cur:
        text = cur.mogrify(sql, params)
    return (text.decode() if isinstance(text, bytes) else text) + ';'
