// Everything cascade_delete keeps in a backend from one call to the next, in
// one place: what it is, how long it lives, and what resets it. Each field is
// read and written by one file, named beside it.
#pragma once

#include "model.hpp"
#include "pgutil.hpp"

#include <memory>
#include <string>
#include <unordered_map>

namespace cd {

struct Session {
    // The table graph (catalog.cpp, cached_model()). Lives until an
    // invalidation callback marks it stale: a change to a relation in it, a
    // constraint, a schema, an operator, or the policy table (its trigger).
    // A call holds its own shared_ptr, so a rebuild never frees a graph in use;
    // an error while reading leaves none cached.
    std::shared_ptr<Model> model;
    bool model_stale = true;
    unsigned long models_read = 0; // numbers each graph (Model::generation)

    // Prepared plans by statement text and parameter types (statements.cpp,
    // plan_for()). Kept for the backend's life; PostgreSQL's plan cache
    // replans them when the tables they use change. Emptied when past
    // limits::kMaxKeptPlans, only at the start of an outermost call (no plan
    // is in use then). one_shot_plans: plans naming a call's ephemeral
    // relations are neither kept nor cached; reset at the start of each call.
    std::unordered_map<std::string, SPIPlanPtr> plans;
    bool one_shot_plans = false;

    // Key tables (key_sets.cpp): temporary tables kept for the session, one
    // per table, key shape and call depth. key_table_rows: the rows a call left
    // in each (the next call that uses it clears them; never lowered to 0,
    // since a rollback can bring rows back). orphans_checked: the graph
    // generation whose dropped tables' key tables were last dropped.
    std::unordered_map<std::string, uint64> key_table_rows;
    unsigned long orphans_checked = 0;

    // Nesting depth of calls (executor.cpp): a user trigger may call
    // cascade_delete again; each depth has its own key tables. Restored on
    // every exit, error included.
    int call_depth = 0;

    // The fast path's armed (relation, constraint) pairs (ri_bypass.cpp):
    // set right before one of cascade_delete's own statements, consumed by
    // its ExecutorStart, cleared on (sub)transaction abort. The arrays are in
    // TopMemoryContext and grow only.
    struct {
        bool armed = false;
        int n = 0, capacity = 0;
        Oid *rels = nullptr, *cons = nullptr;
    } fast_path;
};

extern Session session;

} // namespace cd
