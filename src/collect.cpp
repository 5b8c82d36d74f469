// Collect: the keys of every row the cascade reaches, referenced tables
// first; in memory mode with one statement, else one INSERT ... SELECT per
// edge into the key sets, to a fixpoint inside cycles.
#include "cascade_call.hpp"
#include "limits.hpp"
#include "sql.hpp"

extern "C" {
#include "utils/lsyscache.h"
}

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace cd {

// The caller's keys as one array per identity column of the root.
std::vector<Datum> Cascade::root_key_arrays() const {
    const Table &r = T(root_);
    int n = static_cast<int>(r.id_cols.size());
    std::vector<Oid> pktypes(r.id_types.begin(), r.id_types.end());
    std::vector<Datum> arrays(n);
    pg_guard(key_arrays, req_.key, static_cast<Oid>(req_.key_type), req_.many, n,
             static_cast<const Oid *>(pktypes.data()), r.display.c_str(), arrays.data());
    return arrays;
}

// The caller's keys as a condition on the root's rows (alias t), its
// parameters added to p: "= ANY ($1)" for a one-column key, else a
// semi-join of the arrays (a key given twice still names one row).
std::string Cascade::root_keys_match(Params *p) const {
    const Table &r = T(root_);
    add_root_keys(p); // $1..$n
    if (r.id_cols.size() == 1)
        return "t." + sql::ident(r.id_cols[0]) + " " + r.id_eqops[0] + " ANY ($1)";
    return "EXISTS (SELECT 1 FROM " + sql::param_rows(static_cast<int>(r.id_cols.size())) + " WHERE " +
           identity(root_, "k", "k") + ")";
}

// t's key columns, x and r read from the rows of relation from, an array
// each ("ARRAY(SELECT c0 FROM from), ..."), as memory mode keeps them: each
// sublink reads the same stored rows in the same order, so the arrays line
// up (cheaper to start than array_agg()s).
std::string Cascade::key_set_arrays(int t, const std::string &from) const {
    std::string out;
    size_t n = key_cols_[t].size();
    for (size_t i = 0; i <= n + 1; ++i)
        out += std::string(out.empty() ? "" : ", ") + "ARRAY(SELECT " +
               (i < n ? sql::key_col(i) : i == n ? std::string(sql::kVersion) : std::string(sql::kTid)) +
               " FROM " + from + ")";
    return out;
}

// ... as the statement's parameters.
void Cascade::add_root_keys(Params *p) const {
    std::vector<Datum> arrays = root_key_arrays();
    const Table &r = T(root_);
    std::vector<Oid> types = array_types(std::vector<Oid>(r.id_types.begin(), r.id_types.end()));
    for (size_t i = 0; i < arrays.size(); ++i)
        p->add(arrays[i], false, types[i]);
}

// Where the keys live and their collection: memory mode when the cascade has
// no cycle and fits (one statement, nothing written); else key tables, or
// ephemeral relations for a dry run.
void Cascade::collect_keys() {
    find_virtual_tables();
    prepare_keys();
    // Memory mode while every table has at most this many keys: one batch
    // each. A job's chunk as its runner sized it: in a key table beyond
    // memory_keys, analyzed, PostgreSQL's default costs would plan its join
    // with a large table as a scan of the whole table, where a chunk's few
    // thousand keys want index probes.
    uint64 limit = req_.job_chunk ? limits::kChunkMemoryKeys
                                  : static_cast<uint64>(std::min(memory_keys, batch_size));
    if (memory_mode_possible() && collect_in_memory(limit))
        return;
    create_stored_key_sets();
    collect();
}

void Cascade::find_virtual_tables() {
    size_t n = m_.tables.size();
    virtual_edge_.assign(n, -1);
    estimated_.assign(n, 0);
    incoming_.assign(n, 0);
    std::vector<int> last(n, -1);
    std::vector<char> needed(n, 0);
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        needed[e.parent] = 1; // its keys are joined by some edge
        if (e.partition)
            needed[e.child] = 1; // rows of its tree, never deleted through it
        if (e.action == Action::Cascade) {
            ++incoming_[e.child];
            last[e.child] = ei;
        } else if (e.action != Action::Protect)
            needed[e.child] = 1; // SET_* and survivor checks exclude its collected rows
    }
    for (size_t c = 0; c < plan_->components.size(); ++c) {
        if (plan_->cyclic[c])
            continue;
        int t = plan_->components[c][0];
        if (t != root_ && incoming_[t] == 1 && !needed[t])
            virtual_edge_[t] = last[t];
    }
}

// Rows of e's child referencing rows collected in e's parent (only those not
// collected themselves, when survivors_only).
uint64 Cascade::count_referencing(const Edge &e, bool survivors_only) {
    Params p;
    std::string from = keys(e.parent, "p", &p);
    exec("SELECT pg_catalog.count(*) FROM " + T(e.child).from() + " t WHERE EXISTS (SELECT 1 FROM " +
             from + " WHERE " + parent_match(e, "p", "t") + ")" +
             (survivors_only ? not_collected(e.child, "t", &p) : ""),
         SPI_OK_SELECT, p);
    return std::stoull(pg_guard(pg::value, 0, 1));
}

// The rows of a leaf (a table without keys of its own, virtual_edge_) below
// its parent's keys, where they are counted before deleting (a dry run, a
// row limit). A job's plan under no row limit estimates them instead when the
// parent has very many keys (a key table): counting exactly reads every row
// of the leaf (3 s of a 10,000,000-row job whose chunks take 14), and decides
// nothing, since no row below a leaf can block the cascade; the chunks count
// what they delete. The estimate: the rows below a random sample of the keys
// (an index probe each), scaled up; the plan's report names the tables it
// estimated. A sample with no row below it is no estimate: a leaf whose
// planned count is 0 has no row to delete (the Django integration relies on
// it to refuse models with signal receivers).
uint64 Cascade::count_leaf(const Edge &e) {
    std::string parents = key_sets_[e.parent] ? key_sets_[e.parent]->relation() : "";
    uint64 n = collected_[e.parent];
    if (!req_.key_tables || max_rows > 0 || n < limits::kEstimatedLeafKeys || parents.empty() ||
        !pg_guard(pg::extension_has_column, static_cast<const char *>("cascade_delete_job_table"),
                  static_cast<const char *>("planned_estimated"))) // 0.5.0 on: jobs can say so
        return count_referencing(e, false);
    char percent[32];
    snprintf(percent, sizeof(percent), "%.6f", 100.0 * limits::kLeafSampleKeys / static_cast<double>(n));
    exec("SELECT pg_catalog.count(*), pg_catalog.sum((SELECT pg_catalog.count(*) FROM " + T(e.child).from() +
             " t WHERE " + parent_match(e, "p", "t") + ")) FROM " + parents + " p TABLESAMPLE BERNOULLI (" +
             percent + ") REPEATABLE (0)",
         SPI_OK_SELECT);
    uint64 sampled = std::stoull(pg_guard(pg::value, 0, 1));
    double below = sampled == 0 ? 0 : std::stod(pg_guard(pg::value, 0, 2));
    if (below == 0) // none below the sample: counted, so that a planned 0 means none at all
        return count_referencing(e, false);
    estimated_[e.child] = 1;
    return static_cast<uint64>(std::llround(below * static_cast<double>(n) / static_cast<double>(sampled)));
}

// Memory mode is for cascades whose only cycles are single self-references
// (one recursive CTE follows each; a larger cycle's fixpoint needs key
// tables); whether the keys are few enough shows while collecting them.
bool Cascade::memory_mode_possible() const {
    if (memory_keys <= 0)
        return false;
    for (size_t c = 0; c < plan_->components.size(); ++c)
        if (plan_->cyclic[c] && self_reference(static_cast<int>(c)) < 0)
            return false;
    // The statement returns every key column of every table, plus x and r,
    // in one row: within PostgreSQL's limit on a target list.
    size_t columns = 0;
    for (size_t t = 0; t < key_cols_.size(); ++t)
        if (has_key_set(static_cast<int>(t)))
            columns += key_cols_[t].size() + 2;
    return columns <= limits::kMemoryModeColumns;
}

// The one CASCADE edge of component c from its only table to itself, or -1
// (another kind of cycle, or none).
int Cascade::self_reference(int c) const {
    const auto &comp = plan_->components[c];
    if (comp.size() != 1)
        return -1;
    int found = -1;
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.action != Action::Cascade || e.parent != comp[0] || e.child != comp[0])
            continue;
        if (found >= 0)
            return -1;
        found = ei;
    }
    return found;
}

// Collects every table's keys with one statement: a chain of CTEs in
// collection order (the root's rows, then each table's rows joined to its
// parents' CTEs), each branch limited to limit + 1 rows, returning one row of
// arrays. Nothing is written, so when a table has more than limit keys the
// call just starts over with key tables (returns false).
bool Cascade::collect_in_memory(uint64 limit) {
    Params p;
    const Table &r = T(root_);
    std::string lim = " LIMIT " + std::to_string(limit + 1);
    std::string with, aggs;
    std::vector<int> order; // tables in the result's column order
    bool recursive = false;
    for (size_t ci = 0; ci < plan_->components.size(); ++ci) {
        int t = plan_->components[ci][0]; // one table per component
        if (!has_key_set(t))
            continue;
        std::string cols_as = sql::key_cols_as(key_cols_[t], true); // with r, the row's ctid
        std::string body;
        if (t == root_ && req_.where) {
            // The condition sees the table under its own name, as in DELETE
            // ... WHERE; as the first CTE it cannot see the others.
            std::string cols;
            for (size_t i = 0; i < key_cols_[t].size(); ++i)
                cols += r.sql() + "." + sql::ident(key_cols_[t][i]) + " AS c" + std::to_string(i) + ", ";
            body = "SELECT " + cols + r.sql() + ".xmin AS x, " + r.sql() + ".ctid AS r FROM " + r.from() + " WHERE (" +
                   req_.condition + ")" + lim;
        } else if (t == root_) {
            body = "SELECT " + cols_as + " FROM " + r.from() + " t WHERE " + root_keys_match(&p) + lim;
        } else {
            // UNION: a row reached through two edges is collected once. Each
            // parent key probes the child on its own (through the foreign
            // key's index, as PostgreSQL's own RI queries do; OFFSET 0 keeps
            // the subquery from being flattened): the keys are few, and the
            // generic plan, which cannot know how few, would otherwise
            // hash-join a sequential scan of the whole child table.
            for (int ei : relevant_) {
                const Edge &e = m_.edges[ei];
                // (a self-reference is followed by the recursive CTE below)
                if (e.action != Action::Cascade || e.child != t || e.parent == t)
                    continue;
                body += std::string(body.empty() ? "" : " UNION ") + "(SELECT s.* FROM k" +
                        std::to_string(e.parent) + " p CROSS JOIN LATERAL (SELECT " + cols_as + " FROM " +
                        T(t).from() + " t WHERE " + parent_match(e, "p", "t") + " OFFSET 0) s" + lim + ")";
            }
        }
        int self = plan_->cyclic[ci] ? self_reference(static_cast<int>(ci)) : -1;
        if (self >= 0) {
            // A self-reference: its rows, then the rows referencing them, to
            // the bottom (UNION: a cycle in the data ends), read lazily up to
            // the limit.
            std::string r = "r" + std::to_string(t);
            with += std::string(with.empty() ? "WITH " : ", ") + r + "(" + sql::key_col_list(key_cols_[t].size()) +
                    ", " + sql::kTid + ") AS ((" + body + ") UNION SELECT s.* FROM " + r +
                    " p CROSS JOIN LATERAL (SELECT " + cols_as + " FROM " + T(t).from() + " t WHERE " +
                    parent_match(m_.edges[self], "p", "t") + " OFFSET 0) s)";
            body = "SELECT * FROM " + r + lim;
            recursive = true;
        }
        with += std::string(with.empty() ? "WITH " : ", ") + "k" + std::to_string(t) + " AS MATERIALIZED (" + body + ")";
        aggs += std::string(aggs.empty() ? "" : ", ") + key_set_arrays(t, "k" + std::to_string(t));
        order.push_back(t);
    }
    std::string query_text = (recursive ? "WITH RECURSIVE " + with.substr(5) : with) + " SELECT " + aggs;
    if (req_.where) {
        // Holds the caller's text: planned once, not kept.
        check_condition();
        pg_guard(pg::exec, query_text.c_str(), 0, static_cast<Oid *>(nullptr), static_cast<Datum *>(nullptr),
                 static_cast<const char *>(nullptr), static_cast<int>(SPI_OK_SELECT));
    } else
        exec(query_text, SPI_OK_SELECT, p, true);
    size_t n = m_.tables.size();
    bool fits = true;
    int col = 0;
    for (int t : order) {
        size_t ncols = key_cols_[t].size() + 2; // key columns, x, r
        std::vector<Datum> arrays(ncols);
        std::vector<Oid> types(ncols);
        uint64 count = 0;
        pg_guard(pg::copy_result_arrays, col + 1, static_cast<int>(ncols), arrays.data(), types.data(), &count);
        col += static_cast<int>(ncols);
        collected_[t] = count;
        key_sets_[t] = array_keys(T(t), key_cols_[t], std::move(arrays), std::move(types), count);
        if (count > limit)
            fits = false;
    }
    pg_guard(SPI_freetuptable, SPI_tuptable);
    if (!fits) {
        collected_.assign(n, 0);
        for (auto &ks : key_sets_)
            ks.reset();
        return false;
    }
    if (req_.dry_run || max_rows > 0)
        for (int ei : relevant_) {
            const Edge &e = m_.edges[ei];
            if (e.action == Action::Cascade && virtual_edge_[e.child] == ei)
                collected_[e.child] = count_leaf(e);
        }
    return true;
}

// The caller's condition parsed on its own first, so that its errors quote
// the condition and not the statement it becomes part of.
void Cascade::check_condition() const {
    std::string check = "SELECT FROM " + T(root_).from() + " WHERE (" + req_.condition + ")";
    pg_guard(pg::check_parses, check.c_str());
}

// A plain table's INHERITS children: DELETE FROM parent deletes their rows
// too, under the children's own foreign keys and policies, which a cascade
// from the parent does not follow. Refused when a child holds a row the call
// names, rather than deleting less than the user sees.
void Cascade::check_inheritance_children() {
    const Table &r = T(root_);
    if (!r.inheritance_children)
        return;
    std::string other = "t.tableoid OPERATOR(pg_catalog.<>) " + std::to_string(r.oid) + "::pg_catalog.oid";
    uint64 n;
    if (req_.where) {
        check_condition();
        // the condition sees the table under its own name, as in DELETE ... WHERE
        n = exec_once("SELECT " + r.sql() + ".tableoid::pg_catalog.oid::pg_catalog.text FROM " +
                          r.sql() + " WHERE (" + req_.condition + ") AND " + r.sql() +
                          ".tableoid OPERATOR(pg_catalog.<>) " + std::to_string(r.oid) +
                          "::pg_catalog.oid LIMIT 1",
                      SPI_OK_SELECT);
    } else {
        int nk = static_cast<int>(r.id_cols.size());
        std::string query_text = "SELECT t.tableoid::pg_catalog.oid::pg_catalog.text FROM " + r.sql() +
                          " t WHERE " + other + " AND EXISTS (SELECT 1 FROM " + sql::param_rows(nk) +
                          " WHERE " + identity(root_, "k", "k") + ") LIMIT 1";
        Params p;
        add_root_keys(&p);
        n = exec(query_text, SPI_OK_SELECT, p);
    }
    if (n == 0)
        return;
    Oid child_oid = static_cast<Oid>(std::stoul(pg_guard(pg::value, 0, 1)));
    const char *rel = pg_guard(get_rel_name, child_oid);
    const char *nsp = pg_guard(get_namespace_name, pg_guard(get_rel_namespace, child_oid));
    std::string child = display_name(nsp ? nsp : "", rel ? rel : "");
    throw make_error(ERRCODE_FEATURE_NOT_SUPPORTED,
                     "cascade_delete: rows to delete from " + r.display +
                         " are in its inheritance child " + child,
                     "cascade_delete follows the foreign keys and policies of the table it is "
                     "given; a row of an inheritance child is under the child's own.",
                     "Call cascade_delete on " + child + " for its rows.");
}

void Cascade::collect_roots() {
    const Table &r = T(root_);
    if (req_.where) {
        check_condition();
        // The condition sees the table under its own name, as in DELETE ... WHERE.
        collected_[root_] += key_sets_[root_]->add("SELECT " + source(root_, r.sql()) + ", 0 FROM " +
                                                       r.from() + " WHERE (" + req_.condition + ")",
                                                   Params(), Run::Once);
        return;
    }
    int n = static_cast<int>(r.id_cols.size());
    // A semi-join: a key given twice still names one row.
    std::string query = "SELECT " + source(root_, "t") + ", 0 FROM " + r.from() +
                        " t WHERE EXISTS (SELECT 1 FROM " + sql::param_rows(n) + " WHERE " +
                        identity(root_, "k", "k") + ")";
    Params p;
    add_root_keys(&p);
    collected_[root_] += key_sets_[root_]->add(query, p, Run::KeptGeneric);
}

void Cascade::collect() {
    for (size_t ci = 0; ci < plan_->components.size(); ++ci) {
        const auto &comp = plan_->components[ci];
        auto inside = [&](int t) { return std::find(comp.begin(), comp.end(), t) != comp.end(); };
        if (inside(root_))
            collect_roots();
        std::vector<std::string> internal; // statements of the fixpoint: $1 new gen, $2 old gen
        std::vector<int> internal_child, internal_edges;
        for (int ei : relevant_) {
            const Edge &e = m_.edges[ei];
            if (e.action != Action::Cascade || !inside(e.child))
                continue;
            if (virtual_edge_[e.child] == ei) {
                // Counted only where the count is needed before deleting.
                if (req_.dry_run || max_rows > 0)
                    collected_[e.child] = count_leaf(e);
                continue;
            }
            std::string base = "SELECT " + source(e.child, "t") + ", ";
            if (!inside(e.parent))
                collected_[e.child] += key_sets_[e.child]->add(
                    base + "0 FROM " + T(e.child).from() + " t JOIN " + keys(e.parent, "p", nullptr) +
                        " ON " + parent_match(e, "p", "t"),
                    Params(), Run::Kept);
            else {
                internal.push_back(base + "$1 FROM " + T(e.child).from() + " t JOIN " +
                                   key_sets_[e.parent]->relation() + " p ON " + parent_match(e, "p", "t") +
                                   " WHERE p.gen OPERATOR(pg_catalog.=) $2");
                internal_child.push_back(e.child);
                internal_edges.push_back(ei);
            }
        }
        if (internal.empty()) {
            component_collected(comp);
            continue;
        }
        if (comp.size() == 1 && internal_edges.size() == 1) {
            // One table referencing itself through one edge: a single recursive
            // query (UNION, so cycles in the data end) follows it to the bottom.
            const Edge &e = m_.edges[internal_edges[0]];
            int t = e.child;
            std::string cols = key_col_list(t);
            // Each round has few rows; OFFSET 0 keeps the LATERAL subquery from
            // being flattened, so every parent row probes the child index
            // instead of a hash join rescanning the whole table per round.
            std::string csel;
            for (size_t i = 0; i < key_cols_[t].size(); ++i)
                csel += "s.c" + std::to_string(i) + ", ";
            csel += "s.x";
            collected_[t] += key_sets_[t]->add(
                "WITH RECURSIVE p(" + cols + ") AS (SELECT " + cols + " FROM " + key_sets_[t]->relation() +
                    " UNION SELECT " + csel + " FROM p, LATERAL (SELECT " + sql::key_cols_as(key_cols_[t], false) +
                    " FROM " +
                    T(t).from() + " t WHERE " + parent_match(e, "p", "t") + " OFFSET 0) s) SELECT " +
                    cols + ", 1 FROM p",
                Params(), Run::Kept);
            component_collected(comp);
            continue;
        }
        // Semi-naive fixpoint: each round follows the edges from the rows the
        // previous round added, until a round adds nothing.
        for (int gen = 0;; ++gen) {
            uint64 added = 0;
            for (size_t i = 0; i < internal.size(); ++i) {
                pg_guard(pg::check_for_interrupts);
                Params p;
                p.add(Int32GetDatum(gen + 1), false, INT4OID);
                p.add(Int32GetDatum(gen), false, INT4OID);
                uint64 n = key_sets_[internal_child[i]]->add(internal[i], p, Run::KeptGeneric);
                collected_[internal_child[i]] += n;
                added += n;
            }
            if (added == 0)
                break;
        }
        component_collected(comp);
    }
}

void Cascade::component_collected(const std::vector<int> &comp) {
    for (int t : comp)
        if (key_sets_[t])
            key_sets_[t]->collected();
}

} // namespace cd
