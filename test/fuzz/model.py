"""The semantics cascade_delete documents, computed in Python on a snapshot of the
database, as the fuzzer's second oracle.

README "Semantics": every key is collected (to a fixpoint, through every CASCADE
edge) and every RESTRICT / NO ACTION check made before anything changes; then the
SET NULL / SET DEFAULT updates of the referencing rows that are not deleted, then
the deletes.  A foreign key matches only when all its columns are non-NULL (MATCH
SIMPLE).  So:

* deleted   = closure of the roots over CASCADE edges, on the rows as they were;
* refused (23503) if a RESTRICT / NO ACTION edge has a referencing row outside it;
* every surviving row referencing a deleted row through a SET NULL / SET DEFAULT
  edge gets the edge's columns (or its column list) set, once per edge;
  a NULL into a NOT NULL column fails (23502); a row whose changed foreign key no
  longer finds a surviving parent row fails (23503: PostgreSQL's check of the
  UPDATE, or cascade_delete's post-check);
* AFTER DELETE OR UPDATE audit triggers log each deleted row once, and each
  surviving row once per SET edge that changed it.

PostgreSQL's own actions differ where they depend on the order of its trigger
queue (see fuzz.py); the model is what decides such a mismatch.
"""

import json


def canon(row):
    return json.dumps(row, sort_keys=True, separators=(',', ':'))


class ModelResult:
    def __init__(self):
        self.ok = True
        self.codes = set()
        self.state = None           # {table: sorted canonical rows}, audit included
        self.deleted = {}
        self.updated = {}
        self.why = ''


def run(case, snap, roots):
    """snap: {table: [(ctid, relname, row)]}; roots: ctids of the root rows."""
    res = ModelResult()
    rows = {t.name: [r for (_, _, r) in snap[t.name]] for t in case.tables}
    deleted = {t.name: set() for t in case.tables}
    root_ix = [i for i, (ctid, _, _) in enumerate(snap[case.root]) if ctid in roots]

    # child index per FK: referenced key -> child row indexes (all columns non-NULL)
    refs = []
    for fk in case.fks:
        idx = {}
        for j, r in enumerate(rows[fk.child]):
            k = tuple(r[c] for c in fk.cols)
            if None not in k:
                idx.setdefault(k, []).append(j)
        refs.append(idx)

    def referencing(fi, parent_row):
        fk = case.fks[fi]
        k = tuple(parent_row[c] for c in fk.pcols)
        if None in k:
            return []
        return refs[fi].get(k, [])

    work = [(case.root, i) for i in root_ix]
    deleted[case.root].update(root_ix)
    while work:
        t, i = work.pop()
        for fi, fk in enumerate(case.fks):
            if fk.parent != t or fk.action != 'CASCADE':
                continue
            for j in referencing(fi, rows[t][i]):
                if j not in deleted[fk.child]:
                    deleted[fk.child].add(j)
                    work.append((fk.child, j))

    for fi, fk in enumerate(case.fks):
        if fk.action not in ('RESTRICT', 'NO ACTION'):
            continue
        for i in deleted[fk.parent]:
            survivors = [j for j in referencing(fi, rows[fk.parent][i]) if j not in deleted[fk.child]]
            if survivors:
                res.ok, res.codes = False, {'23503'}
                res.why = 'blocked by %s' % fk.name
                return res

    new = {t: [dict(r) for r in rows[t]] for t in rows}
    changed = {t.name: set() for t in case.tables}
    updated = {}
    updates = []                    # (table, row) per SET edge applied: one UPDATE trigger call each
    for fi, fk in enumerate(case.fks):
        if fk.action not in ('SET NULL', 'SET DEFAULT'):
            continue
        child = case.table(fk.child)
        for i in deleted[fk.parent]:
            for j in referencing(fi, rows[fk.parent][i]):
                if j in deleted[fk.child]:
                    continue
                for c in (fk.setcols or fk.cols):
                    col = child.col(c)
                    v = None if fk.action == 'SET NULL' else col.default
                    if v is None and col.notnull:
                        res.codes.add('23502')
                        res.why = 'NULL into %s.%s' % (fk.child, c)
                    new[fk.child][j][c] = v
                changed[fk.child].add(j)
                updated[fk.child] = updated.get(fk.child, 0) + 1
                updates.append((fk.child, j))

    # the foreign keys of the rows SET touched must still find a surviving parent row
    # (a default equal to the deleted key included: PostgreSQL re-checks that case)
    for fi, fk in enumerate(case.fks):
        if not changed[fk.child]:
            continue
        parent_keys = {tuple(new[fk.parent][i][c] for c in fk.pcols)
                       for i in range(len(rows[fk.parent])) if i not in deleted[fk.parent]}
        for j in changed[fk.child]:
            k = tuple(new[fk.child][j][c] for c in fk.cols)
            if None not in k and k not in parent_keys:
                res.codes.add('23503')
                res.why = res.why or 'SET DEFAULT of %s finds no row' % fk.name
    if res.codes:
        res.ok = False
        return res

    state = {}
    audit = []
    audited = {tr.table: tr.arg for tr in case.triggers if tr.kind == 'audit'}
    for t in case.tables:
        state[t.name] = sorted(canon(new[t.name][i]) for i in range(len(rows[t.name])) if i not in deleted[t.name])
        res.deleted[t.name] = len(deleted[t.name])
        if t.name in audited:
            for i in deleted[t.name]:
                r = rows[t.name][i]
                k = {c: r[c] for c in audited[t.name] if c in r}
                audit.append(canon({'tbl': snap[t.name][i][1], 'op': 'DELETE', 'k': k}))
    for t, i in updates:
        if t in audited:
            r = rows[t][i]
            k = {c: r[c] for c in audited[t] if c in r}
            audit.append(canon({'tbl': snap[t][i][1], 'op': 'UPDATE', 'k': k}))
    state['audit'] = sorted(audit)
    res.state = state
    res.updated = updated
    return res
