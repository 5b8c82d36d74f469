// Explain and graph: what a delete would do, said before anything is deleted.
//
// cascade_delete_explain runs a dry run (the same collection, checks and
// counts as cascade_delete(..., dry_run => true)), then walks every path from
// the roots along the edges the cascade follows. Each path gets the rows it
// reaches and sample keys, from statements that follow the path's chain of
// tables back to the roots' keys (nested EXISTS): rows reached two ways count
// on both paths, and once in table_rows, the dry run's count. Only SELECTs,
// as the caller: read-only, row-level security and privileges as for the
// delete. cascade_delete_graph draws the edges (graph.cpp).
#include "cascade_call.hpp"
#include "graph.hpp"
#include "limits.hpp"
#include "session.hpp"
#include "sql.hpp"

extern "C" {
#include "catalog/pg_type.h"
}

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace cd {

struct Cascade::PathNode {
    int parent = -1; // node index; -1 for the roots
    int depth = 0;
    int table = -1;
    int edge = -1;   // the edge from the parent node; -1 for the roots
    std::vector<int> path; // edges from the roots
    uint64 rows = 0;
    std::vector<std::string> samples;
    bool cycle = false;     // the table is already on the path: not followed further
    bool too_deep = false;  // limits::kExplainMaxDepth reached: not followed further
};

namespace {

std::string plural(uint64 n, const char *one, const char *many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

// What kind of edge e is, as the explain's kind column says it.
std::string edge_kind(const Edge &e) {
    if (e.partition)
        return "partition";
    if (e.parent_link)
        return "parent link";
    if (!e.filter_col.empty())
        return "generic relation";
    if (e.conoid != 0)
        return e.policy ? "foreign key + policy" : "foreign key";
    return "policy";
}

} // namespace

// A condition on alias row, a row of the root table: it is one of the roots
// (the caller's keys or condition; the root table's key set can hold more,
// the rows of a cycle back to it).
std::string Cascade::is_root(const std::string &row, Params *p) const {
    const Table &r = T(root_);
    std::vector<std::string> same;
    if (req_.where) {
        // The condition sees the table under its own name, as in DELETE ... WHERE.
        for (size_t i = 0; i < r.id_cols.size(); ++i)
            same.push_back(r.sql() + "." + sql::ident(r.id_cols[i]) + " " + r.id_eqops[i] + " " + row + "." +
                           sql::ident(r.id_cols[i]));
        return "EXISTS (SELECT 1 FROM " + r.from() + " WHERE (" + req_.condition + ") AND " +
               sql::join(same, " AND ") + ")";
    }
    size_t first = p->values.size() + 1;
    add_root_keys(p);
    for (size_t i = 0; i < r.id_cols.size(); ++i)
        same.push_back(row + "." + sql::ident(r.id_cols[i]) + " " + r.id_eqops[i] + " " + sql::kKeys + "." +
                       sql::param_col(i));
    return "EXISTS (SELECT 1 FROM " + sql::param_rows(r.id_cols.size(), first) + " WHERE " +
           sql::join(same, " AND ") + ")";
}

// A condition on alias t: t's row is reached from the roots through the
// edges of path, rows of each table on the way referencing rows of the one
// before (aliases p0 for the roots, p1, ... on the way).
std::string Cascade::reached_through(const std::vector<int> &path, Params *p) const {
    size_t k = path.size();
    auto alias = [&](size_t level) { return level == k ? std::string(sql::kRow) : "p" + std::to_string(level); };
    std::string cond = is_root(alias(0), p);
    for (size_t level = 1; level <= k; ++level) {
        const Edge &e = m_.edges[path[level - 1]];
        cond = "EXISTS (SELECT 1 FROM " + T(e.parent).from() + " " + alias(level - 1) + " WHERE " +
               sql::row_match(e, alias(level - 1), alias(level)) + " AND " + cond + ")";
    }
    return cond;
}

// The rows node n's path reaches, and up to samples of their keys in key
// order: for a blocker or an update, only rows the cascade does not delete.
void Cascade::count_path(PathNode *n, int samples) {
    const Table &t = T(n->table);
    Params p = citus_ ? citus_keys_ : Params(); // on Citus, the roots' keys come first
    std::string where = " FROM " + t.from() + " t WHERE " +
                        (citus_ ? citus_reached_through(n->path, sql::kRow) : reached_through(n->path, &p));
    if (n->edge >= 0) {
        Action a = m_.edges[n->edge].action;
        if (a != Action::Cascade && a != Action::Protect)
            where += not_deleted(n->table, sql::kRow, &p);
    }
    // Run once, not kept: every path is a statement of its own.
    n->rows = count_rows(where, p, true);
    if (n->rows == 0 || samples == 0)
        return;
    n->samples = sample_keys(t, where, p, static_cast<size_t>(samples), true);
}

std::vector<ExplainRow> Cascade::explain(const ExplainOptions &options) {
    setup();
    check_inheritance_children();
    if (on_citus()) {
        (void)citus_phases(); // the dry run, by predicates (distributed.cpp)
        if (!citus_keys_in_order())
            refuse_on_citus("cascade_delete_explain() of roots in several tenants with a cycle, where a "
                            "table's first key column is not its distribution column,");
    } else {
        collect_keys();
        check_blockers(); // a dry run records blockers instead of raising them
        run_updates();    // counts only
        run_deletes();
    }
    std::vector<PathNode> nodes;
    bool truncated = false;
    // Depth-first, children in the model's edge order, so that rows come out
    // in the order of the indented tree.
    std::function<void(int)> visit = [&](int ni) {
        pg_guard(pg::check_for_interrupts);
        count_path(&nodes[ni], options.samples);
        const PathNode n = nodes[ni]; // nodes grows below
        bool follows = n.edge < 0 || m_.edges[n.edge].action == Action::Cascade;
        if (!follows || n.rows == 0 || n.cycle)
            return;
        if (n.depth >= limits::kExplainMaxDepth) {
            nodes[ni].too_deep = true;
            return;
        }
        for (size_t ei = 0; ei < m_.edges.size(); ++ei) {
            const Edge &e = m_.edges[ei];
            if (e.parent != n.table || !e.stale.empty())
                continue;
            if (static_cast<int>(nodes.size()) >= options.max_paths) {
                truncated = true;
                return;
            }
            PathNode c;
            c.parent = ni;
            c.depth = n.depth + 1;
            c.table = e.child;
            c.edge = static_cast<int>(ei);
            c.path = n.path;
            c.path.push_back(c.edge);
            c.cycle = e.child == root_;
            for (int on : n.path)
                c.cycle = c.cycle || m_.edges[on].child == e.child;
            load_table(m_, e.child);
            nodes.push_back(c);
            visit(static_cast<int>(nodes.size()) - 1);
        }
    };
    PathNode roots;
    roots.table = root_;
    nodes.push_back(roots);
    visit(0);
    release_key_sets();

    // Tables reached by several deleting paths: their paths' rows may overlap.
    std::map<int, int> deleting_paths;
    for (const auto &n : nodes)
        if (n.edge < 0 || (m_.edges[n.edge].action == Action::Cascade && !m_.edges[n.edge].partition))
            ++deleting_paths[n.table];
    std::vector<ExplainRow> rows;
    for (size_t i = 0; i < nodes.size(); ++i) {
        const PathNode &n = nodes[i];
        ExplainRow r;
        r.path = static_cast<int>(i) + 1;
        r.parent_path = n.parent + 1;
        r.depth = n.depth;
        r.table = T(n.table).oid;
        r.has_rows = true;
        r.rows = n.rows;
        r.sample_keys = n.samples;
        std::vector<std::string> notes;
        std::string how;
        if (n.edge < 0) {
            r.kind = "roots";
            r.has_table_rows = true;
            r.table_rows = deleted_[n.table];
            if (n.rows == 0)
                notes.push_back("no row matches: nothing would be deleted");
        } else {
            const Edge &e = m_.edges[n.edge];
            r.via = e.conoid != 0 ? e.conname : "";
            r.columns = e.cols;
            r.action = action_name(e.action);
            r.kind = edge_kind(e);
            how = r.action + " via " + (r.via.empty() ? r.kind : sql::ident(r.via)) + " (" +
                  sql::join(e.cols, ", ") + ")";
            uint64 blocked = 0;
            bool refused = false;
            for (const auto &b : blocked_)
                if (b.edge == n.edge) {
                    blocked += b.count;
                    refused = true;
                }
            switch (e.action) {
            case Action::Cascade:
                if (e.partition) {
                    notes.push_back("the same rows, as rows of " + T(n.table).display);
                } else {
                    r.has_table_rows = true;
                    r.table_rows = deleted_[n.table];
                }
                break;
            case Action::Protect:
            case Action::Restrict:
            case Action::NoAction:
                r.has_table_rows = true;
                r.table_rows = blocked;
                if (n.rows > 0)
                    notes.push_back(e.action == Action::Protect
                                        ? "blocks the delete (PROTECT)"
                                        : "blocks the delete: these rows would not be deleted");
                break;
            case Action::SetNull:
            case Action::SetDefault:
            case Action::SetValue:
                r.has_table_rows = true;
                r.table_rows = updated_[n.table];
                if (refused)
                    notes.push_back("blocks the delete: PostgreSQL would refuse the update of " +
                                    plural(blocked, "row", "rows") + " (NOT NULL or foreign key)");
                break;
            case Action::DoNothing:
                if (n.rows > 0)
                    notes.push_back("left referencing deleted rows (DO_NOTHING)");
                break;
            }
        }
        if (n.cycle)
            notes.push_back("cycle: " + T(n.table).display + " is already on this path, not followed further");
        if (n.too_deep)
            notes.push_back("deeper paths not shown");
        auto dp = deleting_paths.find(n.table);
        if (dp != deleting_paths.end() && dp->second > 1 && r.has_table_rows &&
            (n.edge < 0 || m_.edges[n.edge].action == Action::Cascade))
            notes.push_back("reached by " + std::to_string(dp->second) + " paths whose rows may overlap: " +
                            plural(r.table_rows, "row", "rows") + " of " + T(n.table).display + " in all");
        r.note = sql::join(notes, "; ");
        std::string line = std::string(2 * n.depth, ' ') + (n.depth ? "-> " : "") + T(n.table).display + ": " +
                           plural(n.rows, "row", "rows") + (how.empty() ? "" : ", " + how);
        if (!n.samples.empty())
            line += "; keys " + sql::join(n.samples, ", ") + (n.rows > n.samples.size() ? ", ..." : "");
        if (!r.note.empty())
            line += " -- " + r.note;
        r.tree = line;
        rows.push_back(std::move(r));
    }
    if (truncated) {
        ExplainRow r;
        r.path = static_cast<int>(rows.size()) + 1;
        r.kind = "truncated";
        r.note = "more paths than max_paths (" + std::to_string(options.max_paths) +
                 "); table_rows and a dry run count them all";
        r.tree = "... more paths not shown (max_paths = " + std::to_string(options.max_paths) + ")";
        rows.push_back(std::move(r));
    }
    return rows;
}

// ---- cascade_delete_keys

// The rows table t would lose, as " FROM ... WHERE ..." over its identity
// columns (cols): its own key set, or for a table without one, its rows
// matching its parent's keys; without rows an earlier table of its partition
// tree takes. On Citus, its rows by their predicate (p, empty when given,
// then holds the roots' keys first); these keys come to the coordinator
// because the caller asked for them, or a job saves them. Shared by
// cascade_delete_keys and a job's plan (job_plan.cpp).
std::string Cascade::deleted_rows(int t, Params *p, std::vector<std::string> *cols) const {
    if (citus_) {
        *p = citus_keys_;
        *cols = sql::identity_cols(T(t), sql::kRow);
        return " FROM " + T(t).from() + " t WHERE " + citus_member(t, sql::kRow, 1);
    }
    if (has_key_set(t)) {
        for (size_t i = 0; i < T(t).id_cols.size(); ++i)
            cols->push_back(std::string(sql::kKeys) + "." + sql::key_col(i));
        std::string query = " FROM " + keys(t, sql::kKeys, p);
        std::string earlier;
        for (int u : deleted_before(t, false))
            earlier += std::string(earlier.empty() ? " WHERE " : " AND ") + "NOT " +
                       in_keys_of(u, t, sql::kKeys, p);
        return query + earlier;
    }
    const Edge &e = m_.edges[virtual_edge_[t]];
    *cols = sql::identity_cols(T(t), sql::kRow);
    return " FROM " + T(t).from() + " t WHERE EXISTS (SELECT 1 FROM " +
           keys(e.parent, sql::kParentKeys, p) + " WHERE " +
           parent_match(e, sql::kParentKeys, sql::kRow) + ")";
}

// The keys of the rows each table would lose, tables in deletion order.
std::vector<DeletedKey> Cascade::deleted_keys(const std::vector<unsigned> *tables) {
    setup();
    check_inheritance_children();
    if (on_citus()) {
        (void)citus_phases(); // checks, raising as the delete would (refuse_blocked), and counts
        if (!citus_keys_in_order())
            refuse_on_citus("cascade_delete_keys() of roots in several tenants with a cycle, where a "
                            "table's first key column is not its distribution column,");
    } else {
        collect_keys();
        check_blockers(); // raises as the delete would (refuse_blocked)
    }
    std::vector<DeletedKey> out;
    for (auto ci = plan_->components.size(); ci-- > 0;)
        for (int t : plan_->components[ci]) {
            if (!deletes_from(t) ||
                (tables && std::find(tables->begin(), tables->end(), T(t).oid) == tables->end()))
                continue;
            Params p;
            std::vector<std::string> cols;
            std::string query = deleted_rows(t, &p, &cols);
            for_each_tenant(p, [&](const Params &q) { // on Citus, tenant after tenant
                uint64 n = exec_once(sql::select_keys_as_text(cols, query), SPI_OK_SELECT, q);
                for (uint64 r = 0; r < n; ++r)
                    out.push_back({T(t).oid, pg_guard(pg::value, r, 1), delete_rank_[t]});
            });
        }
    release_key_sets();
    return out;
}

// ---- cascade_delete_graph

namespace {

// "name" -> "N deleted" / "N updated" from a dry run's report.
void read_counts(Datum report, std::map<std::string, std::string> *out) {
    for (const char *what : {"deleted", "updated"}) {
        Params p;
        p.add(report, false, JSONBOID);
        uint64 n = exec_once("SELECT d.key, d.value FROM pg_catalog.jsonb_each_text($1 OPERATOR(pg_catalog.->) '" +
                                 std::string(what) + "') d",
                             SPI_OK_SELECT, p);
        for (uint64 r = 0; r < n; ++r) {
            std::string &text = (*out)[pg_guard(pg::value, r, 1)];
            text += (text.empty() ? "" : ", ") + std::string(pg_guard(pg::value, r, 2)) + " " + what;
        }
    }
}

} // namespace

std::string graph_text(Model &m, unsigned target, const std::string &format, Datum counts) {
    // First: a target in no edge joins the model here, which sizes what follows.
    int root = target != 0 ? m.table(target) : -1;
    std::vector<char> shown(m.tables.size(), 0);
    std::vector<int> edges;
    if (root >= 0) {
        std::shared_ptr<const Plan> plan = m.plan_from(root);
        shown[root] = 1;
        for (size_t i = 0; i < m.edges.size(); ++i)
            if (plan->in_set[m.edges[i].parent])
                edges.push_back(static_cast<int>(i));
    } else
        for (size_t i = 0; i < m.edges.size(); ++i)
            edges.push_back(static_cast<int>(i));
    for (int ei : edges)
        shown[m.edges[ei].parent] = shown[m.edges[ei].child] = 1;
    std::map<std::string, std::string> count_text;
    if (counts != 0)
        read_counts(counts, &count_text);
    std::vector<graph::Node> nodes;
    std::vector<int> node_of(m.tables.size(), -1);
    for (size_t t = 0; t < m.tables.size(); ++t) {
        if (!shown[t])
            continue;
        load_table(m, static_cast<int>(t));
        graph::Node n;
        n.name = m.tables[t].display;
        n.root = static_cast<int>(t) == root;
        auto c = count_text.find(n.name);
        if (c != count_text.end())
            n.counts = c->second;
        node_of[t] = static_cast<int>(nodes.size());
        nodes.push_back(n);
    }
    // Sorted by name, so that the text does not depend on catalog order.
    std::vector<int> order(nodes.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = static_cast<int>(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return nodes[a].name < nodes[b].name; });
    std::vector<int> rank(nodes.size());
    std::vector<graph::Node> sorted;
    for (size_t i = 0; i < order.size(); ++i) {
        rank[order[i]] = static_cast<int>(i);
        sorted.push_back(nodes[order[i]]);
    }
    std::vector<graph::Link> links;
    for (int ei : edges) {
        const Edge &e = m.edges[ei];
        graph::Link l;
        l.from = rank[node_of[e.parent]];
        l.to = rank[node_of[e.child]];
        l.action = action_name(e.action);
        l.columns = sql::join(e.cols, ", ");
        l.application_only = e.conoid == 0 && !e.partition;
        l.parent_link = e.parent_link;
        l.partition = e.partition;
        links.push_back(l);
    }
    std::sort(links.begin(), links.end(), [](const graph::Link &a, const graph::Link &b) {
        return std::tie(a.from, a.to, a.columns, a.action) < std::tie(b.from, b.to, b.columns, b.action);
    });
    return format == "dot" ? graph::dot(sorted, links) : graph::mermaid(sorted, links);
}

} // namespace cd
