// The fast path: in cascade_delete's own DELETE statements, PostgreSQL's per-row
// RI triggers on the referenced table are left out for the foreign keys whose
// referencing rows cascade_delete has already deleted or updated (it then checks
// those keys set-based, see Cascade::post_check). Other statements, including
// those run by user triggers during the cascade, are untouched.
//
// The same ExecutorStart hook keeps JIT out of every statement started inside
// a call (without_jit below).
#include "ri_bypass.hpp"
#include "session.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "jit/jit.h"
#include "nodes/plannodes.h"
#include "nodes/execnodes.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace cd::ri {

namespace {

ExecutorStart_hook_type prev_executor_start = nullptr;


bool is_armed_pair(Oid rel, Oid con) {
    for (int i = 0; i < session.fast_path.n; ++i)
        if (session.fast_path.rels[i] == rel && session.fast_path.cons[i] == con)
            return true;
    return false;
}

// Drops the armed constraints' PK-side RI triggers from a result relation's
// TriggerDesc (a private copy made by InitResultRelInfo) before any row is
// deleted, and recomputes the flag that makes the executor queue AFTER ROW
// DELETE events. FmgrInfo and WHEN caches are filled lazily, so shrinking the
// array before execution leaves them consistent.
void strip(ResultRelInfo *rri) {
    TriggerDesc *td = rri->ri_TrigDesc;
    if (td == nullptr)
        return;
    Oid rel = RelationGetRelid(rri->ri_RelationDesc);
    int keep = 0;
    bool after_row_delete = false;
    for (int i = 0; i < td->numtriggers; ++i) {
        Trigger *t = &td->triggers[i];
        if (t->tgisinternal && OidIsValid(t->tgconstraint) && is_armed_pair(rel, t->tgconstraint) &&
            RI_FKey_trigger_type(t->tgfoid) == RI_TRIGGER_PK)
            continue;
        if (keep != i)
            td->triggers[keep] = *t;
        if (TRIGGER_TYPE_MATCHES(t->tgtype, TRIGGER_TYPE_ROW, TRIGGER_TYPE_AFTER,
                                 TRIGGER_TYPE_DELETE))
            after_row_delete = true;
        ++keep;
    }
    td->numtriggers = keep;
    td->trig_delete_after_row = after_row_delete;
}

// Statements started inside a call (cascade_delete's own and those of the
// triggers they fire) run without JIT: key tables have no statistics, so a
// three-row statement can look expensive enough to compile. Cleared on a copy
// of the plan, not by setting jit = off for the call: a GUC nest level cost a
// small call 3 µs (PostgreSQL 15 scans every setting when one ends), and a
// call by index probes starts no statement at all.
void without_jit(QueryDesc *qd) {
    if (session.call_depth == 0 || qd->plannedstmt->jitFlags == PGJIT_NONE)
        return;
    auto *copy = static_cast<PlannedStmt *>(palloc(sizeof(PlannedStmt)));
    *copy = *qd->plannedstmt; // the cached plan itself stays as it is
    copy->jitFlags = PGJIT_NONE;
    qd->plannedstmt = copy;
}

void executor_start(QueryDesc *qd, int eflags) {
    without_jit(qd);
    // Consumed by the first statement to start after arm(), which is
    // cascade_delete's own (a DELETE, or a SELECT whose CTEs delete): nothing
    // else runs between arm() and its ExecutorStart.
    bool mine = session.fast_path.armed;
    if (mine)
        session.fast_path.armed = false;
    if (prev_executor_start)
        prev_executor_start(qd, eflags);
    else
        standard_ExecutorStart(qd, eflags);
    if (!mine || (eflags & EXEC_FLAG_EXPLAIN_ONLY))
        return;
    ListCell *lc;
    foreach (lc, qd->estate->es_opened_result_relations)
        strip(static_cast<ResultRelInfo *>(lfirst(lc)));
}

// An error between arm() and the statement's start must not leave the next
// DELETE of this backend armed.
void reset_on_abort(XactEvent event, void *) {
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
        session.fast_path.armed = false;
}

void reset_on_subabort(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB)
        session.fast_path.armed = false;
}

} // namespace

void install() {
    prev_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = executor_start;
    RegisterXactCallback(reset_on_abort, nullptr);
    RegisterSubXactCallback(reset_on_subabort, nullptr);
}

void arm(int n, const Oid *rels, const Oid *cons) {
    if (n <= 0)
        return;
    if (n > session.fast_path.capacity) {
        // The new arrays first: if allocating fails, the old ones stay valid.
        Oid *rels_new = static_cast<Oid *>(MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * n));
        Oid *cons_new = static_cast<Oid *>(MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * n));
        if (session.fast_path.rels) {
            pfree(session.fast_path.rels);
            pfree(session.fast_path.cons);
        }
        session.fast_path.rels = rels_new;
        session.fast_path.cons = cons_new;
        session.fast_path.capacity = n;
    }
    for (int i = 0; i < n; ++i) {
        session.fast_path.rels[i] = rels[i];
        session.fast_path.cons[i] = cons[i];
    }
    session.fast_path.n = n;
    session.fast_path.armed = true;
}

void disarm() { session.fast_path.armed = false; }

} // namespace cd::ri
