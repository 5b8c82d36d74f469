// Index probes: a small cascade of plain ON DELETE CASCADE foreign keys
// served the way PostgreSQL's own RI triggers and logical replication's apply
// worker touch rows: an index scan per parent row, table_tuple_delete() per
// row, no SQL statement, no plan, no executor start. A web request's delete of
// a dozen rows is dominated by those fixed costs, not by the rows (issue 14).
//
// Cascade::delete_by_probes decides whether the call may take this way (the
// conditions below); probe_cascade does it, PostgreSQL-side. Anything beyond
// it (a trigger, row-level security, a blocker, a policy, a partition, more
// rows than cascade_delete.probe_rows, an index missing) goes the statements' way, which
// collects everything before changing anything: so does this one, and it
// gives up with nothing changed.
#include "cascade_call.hpp"
#include "session.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

#include <algorithm>
#include <vector>

namespace cd {

// What crosses pg_guard: plain C values only.
struct ProbeEdge {
    int parent, child; // positions in ProbeSpec::rels
    Oid constraint;    // the foreign key: its columns and operators
    ProbeIndex *index; // its index, kept in the graph (filled on first use)
};

struct ProbeSpec {
    int ntables;
    const Oid *rels; // collection order: the root first, parents before children
    int nedges;
    const ProbeEdge *edges; // every CASCADE edge of the cascade, by child's position
    int nroot_cols;
    const Datum *root_arrays; // the caller's keys, an array per primary key column
    int limit;                // rows beyond which the probes give up
    const bool *graph_stale;  // the graph was invalidated: its kept indexes may be gone
    uint64 *deleted;          // out: rows deleted per table
    int failed_edge;          // out: the edge whose post-check found a row, or -1
    bool failed_own_row;      // out: that row is this transaction's
};

namespace {

// PostgreSQL-side state of one probe run, in its own memory context.
struct ProbeTableState {
    Relation rel;
    TupleTableSlot *slot;
    HeapTuple *rows; // copies of the rows reached, with their addresses
    int nrows, cap;
    HTAB *seen; // addresses already reached, for tables reached more than once
};

struct ProbeEdgeState {
    Relation index;
    int nkeys;
    AttrNumber parent_att[INDEX_MAX_KEYS]; // the parent's column per index key
    ScanKeyData keys[INDEX_MAX_KEYS];      // templates: the argument is set per probe
    IndexScanDesc scan;
};

// The btree index of rel whose leading columns are exactly the foreign key
// con's (in any order) and whose operator family holds its operator (parent =
// child) and an equality of its key type with the parent's type, with
// deterministic collations, described in out (out->index 0 when rel has none).
void find_probe_index(Oid con, Relation rel, Relation parent, ProbeIndex *out) {
    out->looked_up = true;
    out->index = InvalidOid;
    HeapTuple contup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(con));
    if (!HeapTupleIsValid(contup))
        return;
    int n;
    AttrNumber cols[INDEX_MAX_KEYS], parent_cols[INDEX_MAX_KEYS];
    Oid ops[INDEX_MAX_KEYS], pp[INDEX_MAX_KEYS], ff[INDEX_MAX_KEYS];
    DeconstructFkConstraintRow(contup, &n, cols, parent_cols, ops, pp, ff, nullptr, nullptr);
    ReleaseSysCache(contup);
    List *indexes = RelationGetIndexList(rel);
    ListCell *lc;
    foreach (lc, indexes) {
        Oid indexoid = lfirst_oid(lc);
        // Leading columns first, from the syscache: only a candidate is opened.
        HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
        if (!HeapTupleIsValid(tup))
            continue;
        auto *candidate = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
        bool leading = candidate->indnkeyatts >= n;
        for (int i = 0; leading && i < n; ++i) {
            int j = 0;
            while (j < n && cols[j] != candidate->indkey.values[i])
                ++j;
            leading = j < n;
        }
        ReleaseSysCache(tup);
        if (!leading)
            continue;
        Relation index = index_open(indexoid, AccessShareLock);
        Form_pg_index form = index->rd_index;
        bool usable = index->rd_rel->relam == BTREE_AM_OID && form->indisvalid && form->indisready &&
                      form->indislive && form->indnkeyatts >= n &&
                      heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs, nullptr) &&
                      heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, nullptr);
        for (int i = 0; usable && i < n; ++i) {
            AttrNumber heapatt = form->indkey.values[i];
            int j = 0;
            while (j < n && cols[j] != heapatt)
                ++j;
            if (j == n) {
                usable = false;
                break;
            }
            Oid family = index->rd_opfamily[i];
            Oid keytype = index->rd_opcintype[i];
            Oid parent_type = TupleDescAttr(RelationGetDescr(parent), parent_cols[j] - 1)->atttypid;
            Oid child_type = TupleDescAttr(RelationGetDescr(rel), heapatt - 1)->atttypid;
            Oid collation = index->rd_indcollation[i];
            Oid eq = get_opfamily_member(family, keytype, parent_type, BTEqualStrategyNumber);
            if (!OidIsValid(eq) || !op_in_opfamily(ops[j], family) ||
                (child_type != keytype && !IsBinaryCoercible(child_type, keytype)) ||
                collation != TupleDescAttr(RelationGetDescr(rel), heapatt - 1)->attcollation ||
                (OidIsValid(collation) && !get_collation_isdeterministic(collation))) {
                usable = false;
                break;
            }
            out->keys[i] = {parent_cols[j], parent_type == keytype ? InvalidOid : parent_type, collation,
                            get_opcode(eq)};
        }
        index_close(index, AccessShareLock);
        if (usable) {
            out->index = indexoid;
            out->nkeys = n;
            break;
        }
    }
    list_free(indexes);
}

// Opens the index pi describes for probes of rel's rows into e: false when it
// is no longer a usable index of rel.
bool open_probe_index(const ProbeIndex *pi, Relation rel, ProbeEdgeState *e) {
    if (!OidIsValid(pi->index))
        return false;
    e->index = index_open(pi->index, AccessShareLock);
    Form_pg_index form = e->index->rd_index;
    if (form->indrelid != RelationGetRelid(rel) || !form->indisvalid || !form->indisready || !form->indislive)
        return false; // closed with the others
    e->nkeys = pi->nkeys;
    for (int i = 0; i < pi->nkeys; ++i) {
        const ProbeIndex::Key &k = pi->keys[i];
        e->parent_att[i] = k.parent_att;
        ScanKeyEntryInitialize(&e->keys[i], 0, i + 1, BTEqualStrategyNumber, k.subtype, k.collation, k.proc,
                               (Datum)0);
    }
    return true;
}

// From now on table s remembers the addresses of the rows it reached.
void remember_addresses(ProbeTableState *s, MemoryContext cxt) {
    HASHCTL ctl;
    ctl.keysize = sizeof(ItemPointerData);
    ctl.entrysize = sizeof(ItemPointerData);
    ctl.hcxt = cxt;
    s->seen = hash_create("cascade_delete probe rows", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

// Whether the row's address is new to table s (always, for a table reached
// by a single edge from distinct rows).
bool first_time(ProbeTableState *s, ItemPointer tid) {
    if (s->seen == nullptr)
        return true;
    bool found;
    hash_search(s->seen, tid, HASH_ENTER, &found);
    return !found;
}

void add_row(ProbeTableState *s, TupleTableSlot *slot) {
    if (s->nrows == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->rows = s->rows ? static_cast<HeapTuple *>(repalloc(s->rows, sizeof(HeapTuple) * s->cap))
                          : static_cast<HeapTuple *>(palloc(sizeof(HeapTuple) * s->cap));
    }
    HeapTuple tup = ExecCopySlotHeapTuple(slot);
    tup->t_self = slot->tts_tid;
    s->rows[s->nrows++] = tup;
}

// Rescans e's index for the rows referencing parent row tup; false when a
// key column is NULL (nothing references it).
bool probe(ProbeEdgeState *e, Relation parent, HeapTuple tup) {
    ScanKeyData keys[INDEX_MAX_KEYS];
    for (int i = 0; i < e->nkeys; ++i) {
        bool isnull;
        keys[i] = e->keys[i];
        keys[i].sk_argument = heap_getattr(tup, e->parent_att[i], RelationGetDescr(parent), &isnull);
        if (isnull)
            return false;
    }
    index_rescan(e->scan, keys, e->nkeys, nullptr, 0);
    return true;
}

// A row changed or deleted by another transaction since it was collected:
// PostgreSQL's own error under a transaction snapshot (the executor's
// DELETE raises it there), else the statements' way's (changed_rows).
void serialization_failure(Relation rel, bool deleted) {
    if (IsolationUsesXactSnapshot())
        ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                        errmsg("could not serialize access due to concurrent %s", deleted ? "delete" : "update")));
    ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                    errmsg("could not serialize access: rows of table %s changed after cascade_delete collected them",
                           quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                                      RelationGetRelationName(rel))),
                    errdetail("A concurrent transaction updated a row that the cascade was about to delete."),
                    errhint("Retry the transaction.")));
}

void end_scans(ProbeEdgeState *edges, int nedges) {
    for (int i = 0; i < nedges; ++i)
        if (edges[i].scan) {
            index_endscan(edges[i].scan);
            edges[i].scan = nullptr;
        }
}

// Ends the run: scans, indexes and tables closed (their locks kept to the
// end of the transaction), the run's memory context deleted.
void close_all(ProbeTableState *tables, int ntables, ProbeEdgeState *edges, int nedges, Relation pk,
               MemoryContext old, MemoryContext cxt) {
    end_scans(edges, nedges);
    for (int i = 0; i < nedges; ++i)
        if (edges[i].index)
            index_close(edges[i].index, NoLock);
    if (pk)
        index_close(pk, NoLock);
    for (int i = 0; i < ntables; ++i) {
        if (tables[i].slot)
            ExecDropSingleTupleTableSlot(tables[i].slot);
        if (tables[i].rel)
            table_close(tables[i].rel, NoLock);
    }
    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
}

// The whole probe run (PostgreSQL code only). Returns false, having changed
// nothing, when the cascade is beyond the probes.
bool probe_cascade_pg(ProbeSpec *spec) {
    if (IsolationIsSerializable())
        return false; // predicate locks: left to the executor
    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "cascade_delete probes", ALLOCSET_SMALL_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    int nt = spec->ntables, ne = spec->nedges;
    auto *tables = static_cast<ProbeTableState *>(palloc0(sizeof(ProbeTableState) * nt));
    auto *edges = static_cast<ProbeEdgeState *>(palloc0(sizeof(ProbeEdgeState) * ne));
    Relation pk = nullptr;
    bool ok = true;
    // Tables, privileges (the statements' way raises the errors), indexes:
    // the caller reads every table and deletes the roots; a referencing
    // table's rows go as its owner's, as the statements delete them.
    Oid user = GetUserId();
    for (int t = 0; t < nt && ok; ++t) {
        tables[t].rel = table_open(spec->rels[t], RowExclusiveLock);
        Oid deleter = t == 0 ? user : tables[t].rel->rd_rel->relowner;
        ok = tables[t].rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
             pg_class_aclcheck(spec->rels[t], user, ACL_SELECT) == ACLCHECK_OK &&
             pg_class_aclcheck(spec->rels[t], deleter, ACL_DELETE) == ACLCHECK_OK;
    }
    // Each key's index as the graph keeps it, looked up on its first use; a
    // graph invalidated since the call began (now that the tables are
    // locked, nothing can change) is not trusted, nor written to.
    for (int i = 0; i < ne && ok; ++i) {
        const ProbeEdge &pe = spec->edges[i];
        ProbeIndex fresh, *pi = *spec->graph_stale ? &fresh : pe.index;
        if (!pi->looked_up)
            find_probe_index(pe.constraint, tables[pe.child].rel, tables[pe.parent].rel, pi);
        ok = open_probe_index(pi, tables[pe.child].rel, &edges[i]);
    }
    // The root's primary key index and the caller's keys.
    Datum *root_values[INDEX_MAX_KEYS];
    bool *root_nulls[INDEX_MAX_KEYS];
    int nroot = 0;
    ScanKeyData root_keys[INDEX_MAX_KEYS];
    if (ok) {
        Relation root = tables[0].rel;
        Oid pkoid = RelationGetPrimaryKeyIndex(root);
        ok = OidIsValid(pkoid);
        if (ok) {
            pk = index_open(pkoid, AccessShareLock);
            ok = pk->rd_index->indnkeyatts == spec->nroot_cols;
        }
        for (int i = 0; ok && i < spec->nroot_cols; ++i) {
            ArrayType *a = DatumGetArrayTypeP(spec->root_arrays[i]);
            Oid elem = ARR_ELEMTYPE(a);
            int16 len;
            bool byval;
            char align;
            get_typlenbyvalalign(elem, &len, &byval, &align);
            int count;
            deconstruct_array(a, elem, len, byval, align, &root_values[i], &root_nulls[i], &count);
            if (i > 0 && count != nroot) {
                ok = false;
                break;
            }
            nroot = count;
            Oid eq = get_opfamily_member(pk->rd_opfamily[i], pk->rd_opcintype[i], elem, BTEqualStrategyNumber);
            if (!OidIsValid(eq)) {
                ok = false;
                break;
            }
            ScanKeyEntryInitialize(&root_keys[i], 0, i + 1, BTEqualStrategyNumber,
                                   elem == pk->rd_opcintype[i] ? InvalidOid : elem, pk->rd_indcollation[i],
                                   get_opcode(eq), (Datum)0);
        }
    }
    // As many roots as the probes may reach rows, and edges below them (a
    // job's chunk): the first row below would make them give up, after
    // probing every root for nothing.
    if (ok && (nroot > spec->limit || (nroot == spec->limit && ne > 0)))
        ok = false;
    if (!ok) {
        close_all(tables, nt, edges, ne, pk, old, cxt);
        return false;
    }
    // Tables reached by more than one edge, or by themselves, remember the
    // addresses they reached: a row is collected once.
    for (int i = 0; i < ne; ++i) {
        int c = spec->edges[i].child;
        int reaching = 0;
        for (int j = 0; j < ne; ++j)
            reaching += spec->edges[j].child == c;
        if ((reaching > 1 || spec->edges[i].parent == c || c == 0) && tables[c].seen == nullptr) {
            remember_addresses(&tables[c], cxt);
        }
    }
    if (nroot > 1 && tables[0].seen == nullptr)
        remember_addresses(&tables[0], cxt);
    for (int t = 0; t < nt; ++t)
        tables[t].slot = table_slot_create(tables[t].rel, nullptr);

    // Collect, as a statement would: this transaction's earlier changes and,
    // in READ COMMITTED, everything committed before now.
    CommandCounterIncrement();
    Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
    long total = 0;
    {
        IndexScanDesc scan = index_beginscan(tables[0].rel, pk, snapshot, spec->nroot_cols, 0);
        for (int k = 0; k < nroot; ++k) {
            ScanKeyData keys[INDEX_MAX_KEYS];
            bool null = false;
            for (int i = 0; i < spec->nroot_cols; ++i) {
                keys[i] = root_keys[i];
                keys[i].sk_argument = root_values[i][k];
                null = null || root_nulls[i][k];
            }
            if (null)
                continue; // = ANY: a NULL key names no row
            index_rescan(scan, keys, spec->nroot_cols, nullptr, 0);
            while (index_getnext_slot(scan, ForwardScanDirection, tables[0].slot))
                if (first_time(&tables[0], &tables[0].slot->tts_tid)) {
                    add_row(&tables[0], tables[0].slot);
                    ++total;
                }
        }
        index_endscan(scan);
    }
    ok = total <= spec->limit;
    for (int i = 0; i < ne; ++i)
        edges[i].scan = index_beginscan(tables[spec->edges[i].child].rel, edges[i].index, snapshot, edges[i].nkeys, 0);
    // Tables in collection order; each table's edges from other tables
    // first, then its self-reference, over the rows it adds itself too.
    for (int t = 0; t < nt && ok; ++t)
        for (int pass = 0; pass < 2 && ok; ++pass)
            for (int i = 0; i < ne && ok; ++i) {
                const ProbeEdge &pe = spec->edges[i];
                if (pe.child != t || (pe.parent == t) != (pass == 1))
                    continue;
                ProbeTableState *p = &tables[pe.parent], *c = &tables[t];
                for (int r = 0; r < p->nrows && ok; ++r) {
                    CHECK_FOR_INTERRUPTS();
                    if (!probe(&edges[i], p->rel, p->rows[r]))
                        continue;
                    while (index_getnext_slot(edges[i].scan, ForwardScanDirection, c->slot))
                        if (first_time(c, &c->slot->tts_tid)) {
                            add_row(c, c->slot);
                            if (++total > spec->limit) {
                                ok = false;
                                break;
                            }
                        }
                }
            }
    if (!ok) {
        UnregisterSnapshot(snapshot);
        close_all(tables, nt, edges, ne, pk, old, cxt);
        return false;
    }

    // Delete, referencing tables first. No trigger fires: the tables have
    // none of their own, and every foreign key referencing them is one of
    // the edges, checked below instead of by its RI trigger.
    CommandId cid = GetCurrentCommandId(true);
    bool xact_snapshot = IsolationUsesXactSnapshot();
    for (int t = nt; t-- > 0;) {
        ProbeTableState *s = &tables[t];
        if (s->nrows == 0)
            continue;
        CheckCmdReplicaIdentity(s->rel, CMD_DELETE);
        for (int r = 0; r < s->nrows; ++r) {
            CHECK_FOR_INTERRUPTS();
            TM_FailureData tmfd;
            TM_Result result = table_tuple_delete(s->rel, &s->rows[r]->t_self, cid, snapshot, InvalidSnapshot,
                                                  true, &tmfd, false);
            switch (result) {
            case TM_Ok:
                ++spec->deleted[t];
                break;
            case TM_Deleted:
                // Deleted by another transaction since: gone either way, as
                // a statement's delete would skip it; not under a snapshot
                // that must not miss it.
                if (xact_snapshot)
                    serialization_failure(s->rel, true);
                break;
            case TM_Updated:
                serialization_failure(s->rel, false);
                break;
            default:
                elog(ERROR, "cascade_delete: unexpected result %d deleting a row of \"%s\"", static_cast<int>(result),
                     RelationGetRelationName(s->rel));
            }
        }
    }
    CommandCounterIncrement();

    // What the RI triggers would have checked: no row, committed by now or
    // written by this transaction, references a row reached (deleted by this
    // call or by another transaction), read with the latest snapshot as
    // ri_triggers.c reads.
    end_scans(edges, ne);
    Snapshot latest = RegisterSnapshot(GetLatestSnapshot());
    spec->failed_edge = -1;
    for (int i = 0; i < ne && spec->failed_edge < 0; ++i) {
        const ProbeEdge &pe = spec->edges[i];
        ProbeTableState *p = &tables[pe.parent], *c = &tables[pe.child];
        edges[i].scan = index_beginscan(c->rel, edges[i].index, latest, edges[i].nkeys, 0);
        for (int r = 0; r < p->nrows; ++r) {
            if (!probe(&edges[i], p->rel, p->rows[r]))
                continue;
            if (index_getnext_slot(edges[i].scan, ForwardScanDirection, c->slot)) {
                bool isnull;
                TransactionId xmin =
                    DatumGetTransactionId(slot_getsysattr(c->slot, MinTransactionIdAttributeNumber, &isnull));
                spec->failed_edge = i;
                spec->failed_own_row = TransactionIdIsCurrentTransactionId(xmin);
                break;
            }
        }
    }
    UnregisterSnapshot(latest);
    UnregisterSnapshot(snapshot);
    close_all(tables, nt, edges, ne, pk, old, cxt);
    return true;
}

} // namespace

// Whether this call's cascade is one the probes serve: not a dry run or a
// condition, the fast path on, no row limit; every table a plain table with
// a primary key and no trigger, rule, row-level security, inheritance child
// or partition of its own; every edge a real foreign key whose action is
// CASCADE (catalog or policy), no other key referencing a table of the
// cascade (its RI trigger would be skipped), and no cycle but a single
// self-reference.
bool Cascade::probes_apply() const {
    if (req_.dry_run || req_.where || !fast_path || max_rows > 0 || probe_rows <= 0)
        return false;
    if (req_.job_chunk)
        return false; // a chunk deletes leaves after their parents (leaves_after_parents), the probes before

    for (size_t c = 0; c < plan_->components.size(); ++c)
        if (plan_->cyclic[c] && self_reference(static_cast<int>(c)) < 0)
            return false;
    std::vector<unsigned> referencing(m_.tables.size(), 0);
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.action != Action::Cascade || e.conoid == 0 || e.partition || e.parent_link || !e.filter_col.empty())
            return false;
        for (const auto &cast : e.casts)
            if (!cast.empty())
                return false;
        ++referencing[e.parent];
    }
    for (size_t t = 0; t < m_.tables.size(); ++t) {
        if (!plan_->in_set[t])
            continue;
        const Table &tab = T(static_cast<int>(t));
        if (tab.relkind != 'r' || !tab.has_pk || tab.user_code || tab.rls || tab.inheritance_children ||
            !tab.partition_ancestors.empty() || tab.referenced_by != referencing[t])
            return false;
    }
    return true;
}

// The call by index probes (see the top of this file), when it applies and
// the cascade stays within cascade_delete.probe_rows rows; false when it did
// nothing, and the statements' way runs.
bool Cascade::delete_by_probes() {
    if (!probes_apply())
        return false;
    std::vector<int> order, position(m_.tables.size(), -1);
    for (const auto &comp : plan_->components)
        for (int t : comp) {
            position[t] = static_cast<int>(order.size());
            order.push_back(t);
        }
    std::vector<Oid> rels;
    for (int t : order)
        rels.push_back(T(t).oid);
    std::vector<ProbeEdge> edges;
    std::vector<int> edge_of;
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        ProbeIndex *index = &m_.probe_indexes[e.conoid];
        if (index->looked_up && index->index == 0)
            return false; // no usable index: known since the graph was read
        edges.push_back({position[e.parent], position[e.child], e.conoid, index});
        edge_of.push_back(ei);
    }
    std::vector<Datum> keys = root_key_arrays();
    std::vector<uint64> deleted(order.size(), 0);
    ProbeSpec spec{static_cast<int>(rels.size()), rels.data(), static_cast<int>(edges.size()), edges.data(),
                   static_cast<int>(keys.size()), keys.data(), probe_rows,
                   &session.model_stale, deleted.data(), -1, false};
    if (!pg_guard(probe_cascade_pg, &spec))
        return false;
    size_t n = m_.tables.size();
    collected_.assign(n, 0);
    deleted_.assign(n, 0);
    updated_.assign(n, 0);
    for (size_t i = 0; i < order.size(); ++i)
        deleted_[order[i]] = deleted[i];
    if (spec.failed_edge >= 0)
        throw post_check_failure(edge_of[spec.failed_edge], spec.failed_own_row ? 1 : 2);
    return true;
}

} // namespace cd
