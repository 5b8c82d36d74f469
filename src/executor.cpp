// One call of cascade_delete / _many / _where: Cascade::run is the script of
// its phases (src/README.md draws them), run_cascade its SPI connection and
// the call's nesting depth.
#include "cascade_call.hpp"
#include "session.hpp"

extern "C" {
#include "miscadmin.h"
}

#include <chrono>
#include <memory>
#include <vector>

namespace cd {

namespace {
// Phase timings: NOTICEs with cascade_delete.progress on, else at DEBUG1.
// Formatted only when someone reads them: a small call spent 3 µs on lines
// that went nowhere.
struct PhaseTimer {
    bool wanted = progress || message_level_is_interesting(DEBUG1);
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    void done(const char *phase) {
        if (!wanted)
            return;
        auto t1 = std::chrono::steady_clock::now();
        double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
        t0 = t1;
        char message[128];
        snprintf(message, sizeof(message), "cascade_delete: %s %.3f ms", phase, ms);
        pg_guard(pg::progress, static_cast<const char *>(message), progress);
    }
};
} // namespace

// The call, phase by phase (README "How it works"; src/README.md).
Datum Cascade::run(MemoryContext result_cxt) {
    PhaseTimer timer;
    refuse_in_read_only();
    setup();
    check_inheritance_children();
    timer.done("setup");
    if (on_citus()) {
        Datum done = run_on_citus(result_cxt);
        timer.done("statements on Citus");
        return done;
    }
    if (delete_by_probes()) {
        timer.done("index probes");
        return report(false, result_cxt);
    }
    if (delete_chunk_by_keys()) {
        timer.done("a job's chunk by its keys");
        post_check(); // checks nothing: every key it left out was followed after its parent
        release_key_sets();
        return report(false, result_cxt);
    }
    lock_policy_children();
    collect_keys();
    timer.done("collect");
    bool exceeded;
    check_blockers(); // refusals first, then the row limit
    check_max_rows(&exceeded);
    timer.done("checks");
    run_updates();
    timer.done("updates");
    run_deletes();
    timer.done("deletes");
    post_check();
    timer.done("post-check");
    release_key_sets();
    return report(exceeded, result_cxt);
}

// Before any statement: PostgreSQL's own message would name one of ours.
void Cascade::refuse_in_read_only() const {
    if (!req_.dry_run && pg_guard(pg::read_only))
        throw make_error(ERRCODE_READ_ONLY_SQL_TRANSACTION,
                         "cannot execute cascade_delete in a read-only transaction", "",
                         "A dry run (dry_run => true) works in a read-only transaction and on a "
                         "hot standby.");
}

// The root's plan (cached in the model), the edges the call uses, refusals of
// edges that cannot be followed, which tables delete, and in which order.
void Cascade::setup() {
    caller_ = pg_guard(GetUserId);
    root_ = m_.table(req_.target);
    load_table(m_, root_);
    if (!T(root_).has_pk && !req_.where)
        throw make_error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                         "table " + T(root_).display + " has no primary key",
                         "Keys name rows by the primary key.",
                         "Use cascade_delete_where() to choose the rows by a condition.");
    plan_ = m_.plan_from(root_);
    for (size_t i = 0; i < m_.edges.size(); ++i)
        if (plan_->in_set[m_.edges[i].parent] && m_.edges[i].action != Action::DoNothing)
            relevant_.push_back(static_cast<int>(i));
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.stale.empty())
            continue;
        if (e.partition)
            throw make_error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, e.stale, "",
                             "Give the partitioned table a primary key.");
        throw make_error(ERRCODE_UNDEFINED_COLUMN, e.stale,
                         e.stale_detail.empty() ? "The table or column was dropped, renamed or "
                                                  "changed type after the policy was set."
                                                : e.stale_detail,
                         "Drop the policy with cascade_delete_drop_policy() and set it again.");
    }
    // Tables reached only through partition-tree edges.
    partition_only_.assign(m_.tables.size(), 0);
    for (size_t t = 0; t < m_.tables.size(); ++t)
        partition_only_[t] = plan_->in_set[t] && static_cast<int>(t) != root_;
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.action == Action::Cascade && !e.partition)
            partition_only_[e.child] = 0;
    }
    delete_rank_.assign(m_.tables.size(), -1);
    component_.assign(m_.tables.size(), -1);
    int rank = 0;
    for (auto ci = plan_->components.size(); ci-- > 0;)
        for (int t : plan_->components[ci]) {
            delete_rank_[t] = rank++;
            component_[t] = static_cast<int>(ci);
        }
    for (size_t t = 0; t < m_.tables.size(); ++t)
        if (plan_->in_set[t])
            load_table(m_, static_cast<int>(t));
    check_changing_rights();
}

namespace {
// The frame of every call that reads the graph: an SPI connection, the
// nesting depth (statements started at a depth above 0 run without JIT, see
// ri_bypass.cpp), the backend's graph. body(model) runs inside.
template <class Body> void in_call(Body &&body) {
    pg_guard(pg::spi_connect);
    ++session.call_depth;
    StatementRole as_caller(InvalidOid); // a call from a trigger starts as its role
    try {
        if (session.call_depth == 1)
            trim_plan_cache();
        std::shared_ptr<Model> model = cached_model();
        drop_orphan_key_tables(model->generation);
        body(model);
    } catch (...) {
        --session.call_depth;
        one_shot_plans(false);
        throw;
    }
    --session.call_depth;
    pg_guard(SPI_finish);
}
} // namespace

Datum run_cascade(const Request &req) {
    MemoryContext caller_cxt = CurrentMemoryContext; // outlives the SPI connection
    Datum report = (Datum)0;
    in_call([&](const std::shared_ptr<Model> &model) {
        Cascade cascade(req, model);
        report = cascade.run(caller_cxt);
    });
    return report;
}

std::vector<ExplainRow> run_explain(const Request &req, const ExplainOptions &options) {
    std::vector<ExplainRow> rows;
    in_call([&](const std::shared_ptr<Model> &model) {
        Cascade cascade(req, model);
        rows = cascade.explain(options);
    });
    return rows;
}

std::vector<DeletedKey> run_deleted_keys(const Request &req, const std::vector<unsigned> *tables) {
    std::vector<DeletedKey> keys;
    in_call([&](const std::shared_ptr<Model> &model) {
        Cascade cascade(req, model);
        keys = cascade.deleted_keys(tables);
    });
    return keys;
}

Datum run_plan_job(const Request &req, int64 job) {
    MemoryContext caller_cxt = CurrentMemoryContext;
    Datum report = (Datum)0;
    in_call([&](const std::shared_ptr<Model> &model) {
        Cascade cascade(req, model);
        report = cascade.plan_job(job, caller_cxt);
    });
    return report;
}

std::string run_graph(unsigned target, const std::string &format, Datum counts) {
    std::string text;
    in_call([&](const std::shared_ptr<Model> &model) { text = graph_text(*model, target, format, counts); });
    return text;
}

} // namespace cd
