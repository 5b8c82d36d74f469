"""Random schema + data generator for the differential fuzzer (see fuzz.py).

Everything is derived from random.Random(seed): no set iteration, no hashing of
strings, no clock, so a seed always yields the same case.  A case is a plain data
structure (tables, foreign keys, triggers, rows, the delete to run) that renders
to SQL; the shrinker edits that structure and renders it again.
"""

import copy
import random

KEY_TYPES = ['int', 'bigint', 'text', 'uuid']
GROUP = {'int': 'num', 'bigint': 'num', 'text': 'text', 'uuid': 'uuid'}

ACTIONS = ['CASCADE', 'SET NULL', 'SET DEFAULT', 'RESTRICT', 'NO ACTION']


def qi(name):
    """Quotes an identifier (always: some generated names need it)."""
    return '"' + name.replace('"', '""') + '"'


def lit(typ, val):
    if val is None:
        return 'NULL'
    if typ in ('int', 'bigint'):
        return str(val)
    return "'" + str(val).replace("'", "''") + "'"


class Col:
    def __init__(self, name, typ, notnull=False, default=None):
        self.name = name
        self.typ = typ
        self.notnull = notnull
        self.default = default          # python value or None (no default)


class Table:
    def __init__(self, name):
        self.name = name
        self.cols = []                  # [Col]
        self.pk = []                    # column names
        self.unique = []                # column names of one extra UNIQUE constraint, or []
        self.nparts = 0                 # > 0: PARTITION BY HASH (pk[0]) with that many partitions
        self.rows = []                  # [dict name -> value]
        self.indexes = []               # [[col names]]

    def col(self, name):
        for c in self.cols:
            if c.name == name:
                return c
        raise KeyError(name)

    def has_col(self, name):
        return any(c.name == name for c in self.cols)

    def qname(self):
        return 'fz.' + qi(self.name)


class FK:
    def __init__(self, name, child, cols, parent, pcols, action, setcols=None, deferrable=''):
        self.name = name
        self.child = child              # table name
        self.cols = cols
        self.parent = parent
        self.pcols = pcols
        self.action = action            # one of ACTIONS
        self.setcols = setcols          # column list of SET NULL / SET DEFAULT, or None
        self.deferrable = deferrable    # '', 'DEFERRABLE', 'DEFERRABLE INITIALLY DEFERRED'

    def sql(self):
        action, defer = self.action, self.deferrable
        s = 'ALTER TABLE fz.%s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES fz.%s (%s) ON DELETE %s' % (
            qi(self.child), qi(self.name), ', '.join(map(qi, self.cols)), qi(self.parent),
            ', '.join(map(qi, self.pcols)), action)
        if self.setcols and action in ('SET NULL', 'SET DEFAULT'):
            s += ' (%s)' % ', '.join(map(qi, self.setcols))
        if defer:
            s += ' ' + defer
        return s + ';'


class Trigger:
    def __init__(self, table, kind, arg=None):
        self.table = table
        self.kind = kind                # 'audit' (AFTER DELETE OR UPDATE, logs the key) | 'skip' (BEFORE DELETE, RETURN NULL)
        self.arg = arg                  # audit: key column names; skip: modulus on v


class Case:
    def __init__(self, seed):
        self.seed = seed
        self.tables = []
        self.fks = []
        self.triggers = []
        self.root = None
        self.cond = 'false'
        self.api = 'where'              # where | many | one
        self.fast_path = True
        self.batch_size = None
        self.dry_run = False
        self.many_dup = False
        self.many_missing = False

    def table(self, name):
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def has_triggers(self, kind):
        return any(tr.kind == kind for tr in self.triggers)

    # ---------------------------------------------------------------- rendering
    def build_sql(self):
        out = ['CREATE TABLE fz.audit (tbl text, op text, k jsonb);',
               'CREATE FUNCTION fz.audit_row() RETURNS trigger LANGUAGE plpgsql AS $f$\n'
               'BEGIN\n'
               '    INSERT INTO fz.audit VALUES (TG_TABLE_NAME, TG_OP,\n'
               '        (SELECT jsonb_object_agg(key, value) FROM jsonb_each(to_jsonb(OLD)) WHERE key = ANY (TG_ARGV)));\n'
               '    RETURN NULL;\n'
               'END $f$;',
               'CREATE FUNCTION fz.skip_row() RETURNS trigger LANGUAGE plpgsql AS $f$\n'
               'BEGIN\n'
               '    IF (to_jsonb(OLD) ->> \'v\')::int % TG_ARGV[0]::int = 0 THEN RETURN NULL; END IF;\n'
               '    RETURN OLD;\n'
               'END $f$;']
        for t in self.tables:
            defs = []
            for c in t.cols:
                d = '%s %s' % (qi(c.name), c.typ)
                if c.notnull:
                    d += ' NOT NULL'
                if c.default is not None:
                    d += ' DEFAULT ' + lit(c.typ, c.default)
                defs.append(d)
            if t.pk:
                defs.append('PRIMARY KEY (%s)' % ', '.join(map(qi, t.pk)))
            if t.unique:
                defs.append('UNIQUE (%s)' % ', '.join(map(qi, t.unique)))
            s = 'CREATE TABLE %s (%s)' % (t.qname(), ', '.join(defs))
            if t.nparts:
                s += ' PARTITION BY HASH (%s)' % qi(t.pk[0])
            out.append(s + ';')
            for p in range(t.nparts):
                out.append('CREATE TABLE fz.%s PARTITION OF %s FOR VALUES WITH (MODULUS %d, REMAINDER %d);'
                           % (qi('%s_p%d' % (t.name, p)), t.qname(), t.nparts, p))
            for ix in t.indexes:
                out.append('CREATE INDEX ON %s (%s);' % (t.qname(), ', '.join(map(qi, ix))))
        for t in self.tables:
            if t.rows:
                names = [c.name for c in t.cols]
                rows = t.rows
                vals = ['(%s)' % ', '.join(lit(c.typ, r[c.name]) for c in t.cols) for r in rows]
                out.append('INSERT INTO %s (%s) VALUES\n  %s;' % (t.qname(), ', '.join(map(qi, names)),
                                                                 ',\n  '.join(vals)))
        # constraints after the data: any cycle can be loaded
        for fk in self.fks:
            out.append(fk.sql())
        for n, tr in enumerate(self.triggers):
            t = self.table(tr.table)
            if tr.kind == 'audit':
                out.append('CREATE TRIGGER %s AFTER DELETE OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION fz.audit_row(%s);'
                           % (qi('audit_%d' % n), t.qname(), ', '.join(lit('text', a) for a in tr.arg)))
            else:
                out.append('CREATE TRIGGER %s BEFORE DELETE ON %s FOR EACH ROW EXECUTE FUNCTION fz.skip_row(%s);'
                           % (qi('skip_%d' % n), t.qname(), lit('text', str(tr.arg))))
        out.append('ANALYZE %s;' % ', '.join(t.qname() for t in self.tables))
        return '\n'.join(out) + '\n'

    def describe(self):
        return '%d tables, %d fks, %d rows, root %s, api %s%s%s%s' % (
            len(self.tables), len(self.fks), sum(len(t.rows) for t in self.tables), self.root, self.api,
            '' if self.fast_path else ', fast_path off',
            ', batch_size %d' % self.batch_size if self.batch_size else '',
            ', dry_run' if self.dry_run else '') + (
            (', duplicate key' if self.many_dup else '') + (', missing key' if self.many_missing else '')
            if self.api == 'many' else '')

    def settings_sql(self):
        s = []
        if not self.fast_path:
            s.append('SET LOCAL cascade_delete.fast_path = off;')
        if self.batch_size:
            s.append('SET LOCAL cascade_delete.batch_size = %d;' % self.batch_size)
        return s

    # ------------------------------------------------------------- row repair
    def key_set(self, table, cols):
        return {tuple(r[c] for c in cols) for r in table.rows}

    def repair(self):
        """Drops rows whose (fully non-NULL) foreign key no longer finds its parent
        row, to a fixpoint, so that every FK can still be added after the data."""
        changed = True
        while changed:
            changed = False
            for fk in self.fks:
                child, parent = self.table(fk.child), self.table(fk.parent)
                keys = self.key_set(parent, fk.pcols)
                keep = []
                for r in child.rows:
                    v = tuple(r[c] for c in fk.cols)
                    if any(x is None for x in v) or v in keys:
                        keep.append(r)
                if len(keep) != len(child.rows):
                    child.rows = keep
                    changed = True

    def drop_table(self, name):
        self.tables = [t for t in self.tables if t.name != name]
        self.fks = [f for f in self.fks if f.child != name and f.parent != name]
        self.triggers = [tr for tr in self.triggers if tr.table != name]


# ---------------------------------------------------------------- generation

class Gen:
    def __init__(self, seed, opts):
        self.rng = random.Random(seed)
        self.seed = seed
        self.opts = opts
        self.counter = 0

    def chance(self, p):
        return self.rng.random() < p

    def keyval(self, typ, t_index, n):
        if typ in ('int', 'bigint'):
            return n * 3 + 1 if typ == 'int' else 10000000000 + n * 7
        if typ == 'text':
            # some keys need quoting; all of them sort differently from numbers
            return ("k%d" % n) if n % 11 else ("o'k %d" % n)
        return '%08x-0000-4000-8000-%012x' % (t_index, n)

    def make(self):
        rng = self.rng
        case = Case(self.seed)
        # how much RESTRICT / NO ACTION: dense blockers refuse almost every non-trivial
        # delete, so most cases get few and sparse ones (big cascades that succeed)
        self.blockers = rng.choices(['rare', 'some', 'many'], [50, 30, 20])[0]
        ntab = rng.randint(5, 15)
        tables = []
        for i in range(ntab):
            name = 't%d' % i if not self.chance(0.08) else 'T %d "x"' % i
            t = Table(name)
            t.idx = i
            r = rng.random()
            if r < 0.72 or i == 0:
                t.cols.append(Col('id', rng.choice(KEY_TYPES), notnull=True))
                t.pk = ['id']
            elif r < 0.94:
                t.cols.append(Col('ka', rng.choice(KEY_TYPES), notnull=True))
                t.cols.append(Col('kb', rng.choice(KEY_TYPES), notnull=True))
                t.pk = ['ka', 'kb']
            else:
                t.cols.append(Col('rid', 'int'))   # no primary key; nothing may reference it
            t.cols.append(Col('v', 'int'))
            if t.pk and self.chance(0.3):
                if self.chance(0.6):
                    t.cols.append(Col('u', rng.choice(KEY_TYPES), notnull=self.chance(0.5)))
                    t.unique = ['u']
                else:
                    t.cols.append(Col('u1', rng.choice(KEY_TYPES), notnull=True))
                    t.cols.append(Col('u2', rng.choice(KEY_TYPES), notnull=True))
                    t.unique = ['u1', 'u2']
            if t.pk and not t.unique and self.chance(0.1):
                t.nparts = rng.randint(2, 3)
            t.nrows = int(10 + 290 * rng.random() ** 3) if i else rng.randint(10, 40)
            tables.append(t)
        case.tables = tables

        # edges: child -> parent
        edges = []
        for i in range(1, ntab):
            k = rng.choice([1, 1, 1, 2, 2, 3])
            for _ in range(k):
                j = rng.choice([0, rng.randrange(i), max(0, i - rng.randint(1, 2))])
                edges.append((i, j))
        for i in range(ntab):
            if self.chance(0.15):
                edges.append((i, i))
        # cycles through 2-3 tables: close an existing path with a back edge
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            down = [e for e in edges if e[0] > e[1]]
            if not down:
                break
            c, p = rng.choice(down)
            ups = [e for e in edges if e[0] == p and e[1] < p]
            if ups and self.chance(0.4):
                p2 = rng.choice(ups)[1]          # c -> p -> p2: add p2 -> c
                edges.append((p2, c))
            else:
                edges.append((p, c))
        referencable = [t for t in tables if t.pk]
        fks = []
        for n, (ci, pi) in enumerate(edges):
            child, parent = tables[ci], tables[pi]
            if not parent.pk:
                continue
            fk = self.make_fk(case, n, child, parent)
            if fk:
                fks.append(fk)
        case.fks = fks
        self.make_data(case)

        # indexes on some FK columns
        for fk in fks:
            if self.chance(0.4):
                case.table(fk.child).indexes.append(list(fk.cols))

        # triggers
        for t in tables:
            if self.chance(self.opts.get('p_audit', 0.25)):
                keys = (t.pk or ['rid']) + ['v']
                case.triggers.append(Trigger(t.name, 'audit', keys))
            if self.chance(self.opts.get('p_skip', 0.0)):
                case.triggers.append(Trigger(t.name, 'skip', rng.choice([3, 5, 7])))

        self.make_delete(case, referencable)
        return case

    def new_col(self, child, base, typ, notnull):
        self.counter += 1
        name = '%s_%d' % (base, self.counter)
        c = Col(name, typ, notnull)
        child.cols.append(c)
        return c

    def drop_new_cols(self, child, cols, reused):
        child.cols = [c for c in child.cols if c.name in reused or c.name not in cols]
        return None

    def make_fk(self, case, n, child, parent):
        rng = self.rng
        pcols = parent.pk
        if parent.unique and self.chance(0.35):
            pcols = parent.unique
        ptypes = [parent.col(c).typ for c in pcols]
        # referenced columns in another order than the constraint's (composite only)
        if len(pcols) == 2 and self.chance(0.15):
            pcols = [pcols[1], pcols[0]]
            ptypes = [ptypes[1], ptypes[0]]
        w = {'rare': [4, 6], 'some': [7, 13], 'many': [9, 19]}[self.blockers]
        action = rng.choices(ACTIONS, weights=[48, 15, 9] + w)[0]
        nullable = self.chance(0.6) or action == 'SET NULL' or (
            action in ('RESTRICT', 'NO ACTION') and self.blockers != 'many')
        if action == 'SET NULL' and self.chance(0.03):
            nullable = False                     # SET NULL on a NOT NULL column: 23502 when it fires
        cols, reused = [], []
        for k, pt in enumerate(ptypes):
            typ = pt
            if pt == 'int' and self.chance(0.2):
                typ = 'bigint'                   # cross-type FK (int8 referencing int4)
            col = None
            if len(ptypes) > 1 and k == 0 and self.chance(0.45):
                # share a column with the primary key or another FK (the "tenant" pattern)
                cands = [c for c in child.cols if GROUP[c.typ] == GROUP[pt] and c.name not in ('v', 'rid')
                         and c.name not in child.unique and not (c.name in child.pk and child.nparts)
                         and c.typ == typ]
                if cands:
                    col = rng.choice(cands)
                    reused.append(col.name)
            if col is None:
                col = self.new_col(child, 'f%s' % parent.name.split(' ')[0].strip('"'), typ,
                                   notnull=not nullable)
            cols.append(col.name)
        if len(set(cols)) != len(cols) or (reused and all(c in reused for c in cols)):
            return self.drop_new_cols(child, cols, reused)
        if reused:
            for c in cols:
                if c not in reused:
                    child.col(c).notnull = False   # a row without a matching parent gets NULL here
        setcols = None
        if action in ('SET NULL', 'SET DEFAULT'):
            own = [c for c in cols if c not in reused]
            if reused or (len(cols) > 1 and self.chance(0.5)):
                if len(own) > 1 and self.chance(0.5):
                    own = [rng.choice(own)]
                setcols = own
            if reused and any(c in child.pk for c in reused) and setcols is None:
                return self.drop_new_cols(child, cols, reused)
            if action == 'SET DEFAULT':
                # defaults: NULL, or the key of an existing parent row (filled in make_data)
                for c in (setcols or cols):
                    child.col(c).want_default = parent.name, pcols[cols.index(c)], self.chance(0.75)
        deferrable = ''
        if action == 'NO ACTION':
            deferrable = rng.choices(['', 'DEFERRABLE', 'DEFERRABLE INITIALLY DEFERRED'], [55, 15, 30])[0]
        elif action != 'RESTRICT' and self.chance(0.1):
            deferrable = rng.choice(['DEFERRABLE', 'DEFERRABLE INITIALLY DEFERRED'])
        fk = FK('fk%d_%s' % (n, child.name.split(' ')[0]), child.name, cols, parent.name, list(pcols), action,
                setcols, deferrable)
        if action not in ('RESTRICT', 'NO ACTION'):
            fk.p_null = rng.choice([0.1, 0.3, 0.5])
        elif self.blockers == 'many':
            fk.p_null = rng.choice([0.6, 0.85, 0.95])
        else:
            fk.p_null = rng.choice([0.9, 0.97, 0.99])
        fk.skew = rng.choice([1.5, 2, 3])
        return fk

    def make_data(self, case):
        rng = self.rng
        tables, fks = case.tables, case.fks
        # own keys first
        for t in tables:
            n = t.nrows
            used = {}
            for ri in range(n):
                r = {c.name: None for c in t.cols}
                if t.pk == ['id']:
                    r['id'] = self.keyval(t.col('id').typ, t.idx, ri)
                elif t.pk:
                    r['ka'] = None  # set below (may come from a parent)
                    r['kb'] = self.keyval(t.col('kb').typ, t.idx, ri)
                else:
                    r['rid'] = ri
                r['v'] = rng.randrange(100)
                if t.unique == ['u']:
                    c = t.col('u')
                    r['u'] = None if (not c.notnull and self.chance(0.1)) else self.keyval(c.typ, t.idx + 50, ri * 5 + 2)
                elif t.unique:
                    r['u1'] = self.keyval(t.col('u1').typ, t.idx + 60, ri % 7)
                    r['u2'] = self.keyval(t.col('u2').typ, t.idx + 70, ri)
                t.rows.append(r)
        # composite primary keys: ka drawn from a referenced parent column when an FK shares it
        for t in tables:
            if t.pk == ['ka', 'kb']:
                src = None
                for fk in fks:
                    if fk.child == t.name and fk.cols[0] == 'ka':
                        src = fk
                        break
                typ = t.col('ka').typ
                if src is not None:
                    parent = case.table(src.parent)
                    vals = [pr[src.pcols[0]] for pr in parent.rows if pr[src.pcols[0]] is not None]
                    for r in t.rows:
                        r['ka'] = rng.choice(vals[:max(1, len(vals) // 3)]) if vals else self.keyval(typ, t.idx, 0)
                else:
                    for r in t.rows:
                        r['ka'] = self.keyval(typ, t.idx + 80, rng.randrange(4))
        # foreign keys, in order; shared columns constrain the choice of parent row
        for fk in fks:
            child, parent = case.table(fk.child), case.table(fk.parent)
            prows = parent.rows
            assigned_before = [c for c in fk.cols if any(
                c in f2.cols for f2 in fks[:fks.index(fk)] if f2.child == fk.child) or c in child.pk]
            for ci, r in enumerate(child.rows):
                if rng.random() < fk.p_null and not any(child.col(c).notnull for c in fk.cols if c not in assigned_before):
                    continue
                if assigned_before:
                    cands = [pr for pr in prows if all(pr[fk.pcols[fk.cols.index(c)]] == r[c] for c in assigned_before)]
                else:
                    cands = prows
                if fk.parent == fk.child and not assigned_before:
                    # self-reference: mostly an earlier row (a forest), sometimes itself or any row
                    cands = prows[:ci] if ci and rng.random() < 0.85 else prows
                if not cands:
                    continue                      # own columns stay NULL (they are nullable)
                idx = min(len(cands) - 1, int(len(cands) * rng.random() ** fk.skew))
                pr = cands[idx]
                vals = [pr[pc] for pc in fk.pcols]
                if any(v is None for v in vals):
                    continue
                for c, v in zip(fk.cols, vals):
                    if c not in assigned_before:
                        r[c] = v
            # NOT NULL columns that got no value: fill from any parent row
            full = [pr for pr in prows if all(pr[pc] is not None for pc in fk.pcols)]
            for r in child.rows:
                for c in fk.cols:
                    if r[c] is None and child.col(c).notnull and full:
                        pr = full[min(len(full) - 1, int(len(full) * rng.random() ** fk.skew))]
                        for c2, pc in zip(fk.cols, fk.pcols):
                            if c2 not in assigned_before:
                                r[c2] = pr[pc]
                        break
        # SET DEFAULT defaults
        for t in tables:
            for c in t.cols:
                wd = getattr(c, 'want_default', None)
                if wd:
                    pname, pcol, use = wd
                    prows = case.table(pname).rows
                    if use and prows:
                        c.default = rng.choice(prows)[pcol]
        # the data may still violate a NOT NULL fill inconsistent with a shared column
        for t in tables:
            nn = [c.name for c in t.cols if c.notnull]
            t.rows = [r for r in t.rows if all(r[c] is not None for c in nn)]
        case.repair()

    def make_delete(self, case, referencable):
        rng = self.rng
        if self.chance(0.8):
            root = case.tables[0]
        else:
            root = rng.choice(referencable)
        case.root = root.name
        kind = rng.choices(['keys', 'v', 'mod', 'null', 'none', 'all'], [50, 20, 12, 8, 5, 5])[0]
        if kind == 'all' and len(root.rows) > 30:
            kind = 'keys'
        fkcols = [c for fk in case.fks if fk.child == root.name for c in fk.cols if not root.col(c).notnull]
        if kind == 'null' and not fkcols:
            kind = 'v'
        rows = root.rows
        if kind == 'keys' and rows:
            k = rng.choice([1, 1, 2, 3, 4])
            picked = []
            for _ in range(k):
                r = rows[min(len(rows) - 1, int(len(rows) * rng.random() ** 2))]
                if r not in picked:
                    picked.append(r)
            cols = root.pk or ['rid']
            if len(cols) == 1:
                c = root.col(cols[0])
                case.cond = '%s IN (%s)' % (qi(c.name), ', '.join(lit(c.typ, r[c.name]) for r in picked))
            else:
                case.cond = '(%s) IN (%s)' % (', '.join(map(qi, cols)), ', '.join(
                    '(%s)' % ', '.join(lit(root.col(c).typ, r[c]) for c in cols) for r in picked))
        elif kind == 'v' or (kind == 'keys' and not rows):
            case.cond = 'v < %d' % rng.randint(1, 8)
        elif kind == 'mod':
            case.cond = 'v %% %d = %d' % (rng.choice([13, 29, 37]), rng.randrange(13))
        elif kind == 'null':
            case.cond = '%s IS NULL AND v < 30' % qi(rng.choice(fkcols))
        elif kind == 'none':
            case.cond = 'v < 0'
        else:
            case.cond = 'true'
        if root.pk:
            case.api = rng.choices(['where', 'many', 'one'], [55, 30, 15])[0]
        case.fast_path = not self.chance(0.3)
        if self.chance(0.35):
            case.batch_size = rng.choice([1, 2, 3, 7, 7, 7])
        case.dry_run = self.chance(0.3)
        # cascade_delete_many: the same key twice, a key that matches no row
        case.many_dup = self.chance(0.2)
        case.many_missing = self.chance(0.2)


def generate(seed, opts=None):
    return Gen(seed, opts or {}).make()


def clone(case):
    return copy.deepcopy(case)
