// Executes a cascade set-based inside the server: keys of the rows to delete
// are collected into temporary tables (which spill to disk like any table),
// PROTECT / RESTRICT / NO ACTION are checked against them, then SET_* updates
// and deletes run in batches of keys, referencing tables first.
#include "cascade.hpp"
#include "model.hpp"
#include "pgutil.hpp"
#include "sql.hpp"
#include "ri_bypass.hpp"
#include "statements.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "utils/tuplestore.h"
#include "rewrite/rewriteHandler.h"
#include "utils/ruleutils.h"
#include "executor/tuptable.h"
#include "executor/executor.h"
#include "utils/queryenvironment.h"
}

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <unordered_map>

namespace cd {

namespace {

struct Blocker {
    int edge;
    uint64 count;
    std::vector<std::string> keys;
};

// Nesting depth of cascade_delete calls (a user trigger may call it again):
// each depth has its own key tables.
int call_depth = 0;

// Key tables keep a small call's rows until the next call that uses them
// clears them, with one DELETE (a commit's ON COMMIT DELETE ROWS truncation
// measured slower); more than 1000 rows are truncated at the end of the call.
// This remembers, per table, how many rows a call left (or 1 after a
// truncation). Clearing is transactional: a rollback can bring rows back, so
// the count is never lowered to zero once a table has been used.
struct Fill {
    uint64 rows;
};
std::unordered_map<std::string, Fill> last_fill;

class Cascade {
  public:
    Cascade(const Request &req, std::shared_ptr<Model> model) : req_(req), model_(model), m_(*model) {}
    std::string run();

  private:
    const Request &req_;
    std::shared_ptr<Model> model_; // keeps the cached model alive during the call
    Model &m_;
    Plan plan_;
    int root_ = -1;
    std::vector<std::string> tmp_;                    // temp table per table ("" if none)
    std::vector<std::string> tmp_name_;               // its unqualified name
    std::vector<std::vector<std::string>> tmp_cols_;  // its source columns, identity first
    std::vector<uint64> collected_, deleted_, updated_;
    std::vector<int> relevant_; // edges from a table of the set, other than DO_NOTHING
    // virtual_edge_[t] >= 0: t is a leaf reached by that one CASCADE edge and
    // nobody needs its keys, so it gets no key table and is deleted straight
    // from its parent's keys.
    std::vector<int> virtual_edge_;
    std::vector<int> incoming_; // relevant CASCADE edges into each table
    // partition_only_[t]: t is reached only through partition-tree edges: its
    // keys are rows deleted through another table of its tree, collected for
    // the keys and policies that reference t, never deleted or counted as t's.
    std::vector<char> partition_only_;
    bool deletes_from(int t) const { return plan_.in_set[t] && !partition_only_[t]; }
    // Two tables of one partition tree, one an ancestor of the other, can hold
    // the same row in their key sets (the root's rows reached again through a
    // key to the tree): the one deleted first takes it.
    bool same_tree(int a, int b) const;
    std::vector<int> delete_rank_; // position of each table in the deletion order
    std::vector<int> deleted_before(int t, bool same_component_only) const;
    // "EXISTS (a row of u's keys with the identity of alias x, of t's keys)", or "".
    std::string in_keys_of(int u, int t, const std::string &x, Params *p) const;
    void discount_rows_deleted_earlier();
    void check_inheritance_children();
    // dedup_[t]: rows of t can be reached more than once (a cycle, or several
    // CASCADE edges into t), so its key table has a primary key and inserts
    // skip conflicts; elsewhere each row is reached once and plain inserts
    // into an unindexed table are about four times cheaper.
    std::vector<char> dedup_;
    std::string conflict(int t) const { return dedup_[t] ? " ON CONFLICT DO NOTHING" : ""; }
    std::vector<Blocker> blocked_;
    // Memory mode (small acyclic cascades): no key tables; each table's keys
    // are arrays (never NULL), one per key column, then x and r, passed to
    // statements as parameters. Allocated in the SPI procedure context (freed
    // at SPI_finish).
    bool mem_ = false;
    // Dry runs that need more than memory mode: key sets as ephemeral named
    // relations (tuplestores that spill to temporary files, read by name in
    // SQL like a trigger's transition tables), so nothing is written: a dry
    // run works in a read-only transaction and on a hot standby.
    bool ephemeral_ = false;
    std::vector<Tuplestorestate *> store_;
    std::vector<EphemeralNamedRelation> enr_;
    void create_ephemeral_key_sets();
    // Adds the rows of query (key columns, x, gen) to t's key set: INSERT INTO
    // its key table, or appended to its ephemeral relation; without the rows
    // t has already when t's keys are deduplicated. Returns the rows added.
    enum class Run { Kept, KeptGeneric, Once };
    uint64 store_keys(int t, const std::string &query, const Params &p, Run how);
    std::vector<std::vector<Datum>> arr_;
    std::vector<std::vector<Oid>> arr_type_;
    std::string arr_param(int t, size_t i, Params *p) const { return p->add(arr_[t][i], false, arr_type_[t][i]); }

    const Table &T(int t) const { return m_.tables[t]; }
    std::string tcol(int t, const std::string &src) const;
    // t's collected keys as a FROM item with columns c0, c1, ..., x; in memory
    // mode unnest() of array parameters added to p.
    std::string keys(int t, const std::string &alias, Params *p) const;
    std::string key_arrays_of(int t, const std::string &alias, bool with_x = false) const;
    std::string tmp_names(int t) const;                      // c0, c1, ...
    // " AND t.xmin = k.<x>": the row is still the version that was collected.
    std::string same_version(const std::string &x) const;
    // "t.col OP ANY ($n)" for e's child rows referencing t's keys in memory,
    // when e has one column of the key's own type; else "".
    std::string any_match(const Edge &e, const std::string &c, Params *p) const;
    // "t.id0 OP k.<prefix>0 AND ...": t's rows whose identity is in k
    std::string identity(int t, const std::string &k, const std::string &prefix) const;
    std::string source(int t, const std::string &q) const;   // q.col0, q.col1, ...
    std::string aliased(int t) const;                        // t.col AS c0, ...
    void analyze_if_large(int t);
    std::string parent_match(const Edge &e, const std::string &p, const std::string &c) const;
    std::string not_collected(int t, const std::string &alias, Params *p) const;
    void find_virtual_tables();
    uint64 count_referencing(const Edge &e, bool survivors_only);
    void prepare_keys();
    bool memory_mode_possible() const;
    bool collect_in_memory(uint64 limit);
    void create_temp_tables();
    void clear_temp_tables();
    void collect_roots();
    void check_condition() const;
    void collect();
    void check_blockers();
    void predict_update_refusals();
    void check_max_rows(bool *exceeded);
    void run_updates();
    void run_deletes();
    bool delete_in_one_statement();
    void delete_together(const std::vector<int> &tables, const std::vector<std::string> &deletes,
                         const Params &p, bool generic);
    void bypass_for(int t, std::vector<Oid> *rels, std::vector<Oid> *cons);
    bool queues_nothing(int t, size_t bypassed) const;
    void post_check();
    void lock_policy_children();
    uint64 changed_rows(int t);
    std::vector<int> bypassed_; // edges whose RI triggers the deletes left out
    std::vector<int> rechecked_; // policy-only edges checked again (lock_policy_tables)
    std::string report(bool max_rows_exceeded) const;
};

// Runs a kept plan with the RI triggers of rels / cons left out (see ri_bypass).
uint64 exec_bypassing(SPIPlanPtr plan, const std::string &sql, const Params &p,
                      const std::vector<Oid> &rels, const std::vector<Oid> &cons, int rc) {
    return pg_call([&] {
        ri::arm(static_cast<int>(rels.size()), rels.data(), cons.data());
        uint64 n = pg::exec_plan(plan, sql.c_str(), const_cast<Datum *>(p.values.data()),
                                 p.nulls.data(), rc);
        ri::disarm();
        return n;
    });
}

// Every key table also keeps x, the collected row version's xmin: a delete
// takes only that version (see changed_rows()).
std::string Cascade::tmp_names(int t) const {
    std::string out;
    for (size_t i = 0; i < tmp_cols_[t].size(); ++i)
        out += "c" + std::to_string(i) + ", ";
    return out + "x";
}

std::string Cascade::source(int t, const std::string &q) const {
    std::string out;
    for (size_t i = 0; i < tmp_cols_[t].size(); ++i)
        out += q + "." + sql::ident(tmp_cols_[t][i]) + ", ";
    return out + q + ".xmin";
}

// Every update of a row makes a version with another xmin, which
// READ COMMITTED's re-check of a row changed while a delete waited for it
// compares like any other condition.
std::string Cascade::same_version(const std::string &x) const {
    return " AND t.xmin OPERATOR(pg_catalog.=) k." + x;
}

std::string Cascade::identity(int t, const std::string &k, const std::string &prefix) const {
    std::string out;
    for (size_t i = 0; i < T(t).id_cols.size(); ++i)
        out += std::string(i ? " AND " : "") + "t." + sql::ident(T(t).id_cols[i]) + " " +
               T(t).id_eqops[i] + " " + k + "." + prefix + std::to_string(i);
    return out;
}

std::string Cascade::aliased(int t) const {
    std::string out;
    for (size_t i = 0; i < tmp_cols_[t].size(); ++i)
        out += "t." + sql::ident(tmp_cols_[t][i]) + " AS c" + std::to_string(i) + ", ";
    // memory mode also keeps r, the version's ctid, for deletes by TID scan
    return out + "t.xmin AS x" + (mem_ ? ", t.ctid AS r" : "");
}

// t's collected keys as unnest() of arrays, a FROM item with columns c0, c1,
// ... (each array ordered by the identity, so that they line up).
// With x only where a delete needs the row versions (one array less to build).
std::string Cascade::key_arrays_of(int t, const std::string &alias, bool with_x) const {
    size_t nid = T(t).id_cols.size();
    std::string order = " ORDER BY ", arrays, names;
    for (size_t i = 0; i < nid; ++i)
        order += std::string(i ? ", " : "") + "c" + std::to_string(i);
    size_t n = tmp_cols_[t].size();
    for (size_t i = 0; i < n + (with_x ? 1 : 0); ++i) {
        std::string col = i < n ? "c" + std::to_string(i) : std::string("x");
        arrays += std::string(i ? ", " : "") + "pg_catalog.unnest((SELECT pg_catalog.array_agg(" +
                  col + order + ") FROM " + tmp_[t] + "))";
        names += std::string(i ? ", " : "") + col;
    }
    return "ROWS FROM (" + arrays + ") AS " + alias + "(" + names + ")";
}

// t's collected keys as a FROM item with columns c0, c1, ... A small key
// table has no statistics, and the planner would guess it at ten pages (over a
// thousand rows) and hash-join the whole referencing table; as unnest() of
// arrays it is guessed small and probed through indexes. A large one has been
// analyzed and is joined as it is.
std::string Cascade::keys(int t, const std::string &alias, Params *p) const {
    if (!mem_)
        return collected_[t] >= 1000 ? tmp_[t] + " " + alias : key_arrays_of(t, alias);
    std::string arrays, names;
    size_t n = tmp_cols_[t].size();
    for (size_t i = 0; i <= n; ++i) {
        arrays += std::string(i ? ", " : "") + "pg_catalog.unnest(" +
                  arr_param(t, i, p) + ")";
        names += std::string(i ? ", " : "") + (i < n ? "c" + std::to_string(i) : std::string("x"));
    }
    return "ROWS FROM (" + arrays + ") AS " + alias + "(" + names + ")";
}

// A scalar-array comparison is one index scan (or a filter) where a join with
// unnest() is a nested loop over a hashed function scan: the cheaper plan to
// start for the few keys memory mode holds. Only for one column compared with
// the same type, so that the operator read parent-to-child also reads
// child-to-parent.
std::string Cascade::any_match(const Edge &e, const std::string &c, Params *p) const {
    if (!mem_ || e.cols.size() != 1 || (!e.casts.empty() && !e.casts[0].empty()))
        return "";
    const auto &cols = tmp_cols_[e.parent];
    size_t j = std::find(cols.begin(), cols.end(), e.refcols[0]) - cols.begin();
    if (j >= cols.size() || arr_[e.parent].size() <= j)
        return "";
    Oid child_array = array_types(column_types(T(e.child).oid, e.cols))[0];
    if (child_array != arr_type_[e.parent][j])
        return "";
    return c + "." + sql::ident(e.cols[0]) + " " + e.eqops[0] + " ANY (" +
           arr_param(e.parent, j, p) + ")" +
           e.filter(c);
}

std::string Cascade::tcol(int t, const std::string &src) const {
    const auto &cols = tmp_cols_[t];
    auto it = std::find(cols.begin(), cols.end(), src);
    return "c" + std::to_string(it - cols.begin());
}

// "p.c0 OP c.fk0 AND ...": parent rows (temp table alias p) matched by child rows.
std::string Cascade::parent_match(const Edge &e, const std::string &p, const std::string &c) const {
    std::string out;
    for (size_t i = 0; i < e.cols.size(); ++i)
        out += std::string(i ? " AND " : "") + e.match(i, p + "." + tcol(e.parent, e.refcols[i]), c);
    return out + e.filter(c);
}

// " AND NOT EXISTS (rows of t's temp table with the identity of alias)", or "".
std::string Cascade::not_collected(int t, const std::string &alias, Params *p) const {
    if (!plan_.in_set[t])
        return "";
    std::string cond;
    for (size_t i = 0; i < T(t).id_cols.size(); ++i)
        cond += std::string(i ? " AND " : "") + "d.c" + std::to_string(i) + " " + T(t).id_eqops[i] +
                " " + alias + "." + sql::ident(T(t).id_cols[i]);
    return " AND NOT EXISTS (SELECT 1 FROM " + keys(t, "d", p) + " WHERE " + cond + ")";
}

void Cascade::find_virtual_tables() {
    size_t n = m_.tables.size();
    virtual_edge_.assign(n, -1);
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
    for (size_t c = 0; c < plan_.components.size(); ++c) {
        if (plan_.cyclic[c])
            continue;
        int t = plan_.components[c][0];
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
         SPI_OK_SELECT, p, mem_);
    return std::stoull(pg_call([] { return pg::value(0, 1); }));
}

// The key columns of each table of the set (identity first, then the columns
// its referencing tables' foreign keys point to), whichever mode keeps them.
void Cascade::prepare_keys() {
    size_t n = m_.tables.size();
    tmp_.assign(n, "");
    tmp_name_.assign(n, "");
    tmp_cols_.assign(n, {});
    collected_.assign(n, 0);
    deleted_.assign(n, 0);
    updated_.assign(n, 0);
    std::vector<char> cyclic(n, 0);
    for (size_t c = 0; c < plan_.components.size(); ++c)
        for (int t : plan_.components[c])
            cyclic[t] = plan_.cyclic[c];
    dedup_.assign(n, 0);
    for (size_t t = 0; t < n; ++t)
        dedup_[t] = cyclic[t] || incoming_[t] > 1;
    for (size_t t = 0; t < n; ++t) {
        if (!plan_.in_set[t] || virtual_edge_[t] >= 0)
            continue;
        if (T(t).relkind == 'p' && !T(t).has_pk)
            throw make_error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                             "cascade_delete: partitioned table " + T(t).display +
                                 " has no primary key",
                             "Rows of a partitioned table are identified by its primary key.");
        tmp_cols_[t] = T(t).id_cols;
        for (int e : relevant_)
            if (m_.edges[e].parent == static_cast<int>(t))
                for (const auto &c : m_.edges[e].refcols)
                    if (std::find(tmp_cols_[t].begin(), tmp_cols_[t].end(), c) == tmp_cols_[t].end())
                        tmp_cols_[t].push_back(c);
    }
}

// Key tables: one per table of the set that needs its keys, created once per
// session and emptied for each call that uses it.
void Cascade::create_temp_tables() {
    size_t n = m_.tables.size();
    std::vector<char> cyclic(n, 0);
    for (size_t c = 0; c < plan_.components.size(); ++c)
        for (int t : plan_.components[c])
            cyclic[t] = plan_.cyclic[c];
    for (size_t t = 0; t < n; ++t) {
        if (!plan_.in_set[t] || virtual_edge_[t] >= 0)
            continue;
        std::string select = aliased(static_cast<int>(t)) + ", ", pk;
        for (size_t i = 0; i < T(t).id_cols.size(); ++i)
            pk += std::string(i ? ", " : "") + "c" + std::to_string(i);
        // Key tables live for the session and are reused (empty at the start
        // of every call): creating and dropping them per call would churn the
        // catalog. The name carries what the table's shape depends on.
        std::vector<const char *> colptrs;
        for (const auto &c : tmp_cols_[t])
            colptrs.push_back(c.c_str());
        Oid reloid = T(t).oid;
        std::string shape = select + pk + (dedup_[t] ? "u" : "") + (cyclic[t] ? "g" : "") +
                            pg_call([&] {
                                return column_signature(reloid, static_cast<int>(colptrs.size()),
                                                        colptrs.data());
                            });
        char hash[17];
        snprintf(hash, sizeof(hash), "%016zx", std::hash<std::string>{}(shape));
        std::string name = "cascade_delete_" + std::to_string(call_depth) + "_" +
                           std::to_string(T(t).oid) + "_" + hash;
        tmp_[t] = "pg_temp." + sql::ident(name);
        tmp_name_[t] = name;
        // Its size in pages, or -1 if it does not exist (yet, or after DISCARD TEMP).
        long pages = pg_call([&] {
            Oid rel = get_relname_relid(name.c_str(), LookupCreationNamespace("pg_temp"));
            if (!OidIsValid(rel))
                return -1L;
            Relation r = relation_open(rel, AccessShareLock);
            long n = static_cast<long>(RelationGetNumberOfBlocks(r));
            relation_close(r, AccessShareLock);
            return n;
        });
        if (pages >= 0) {
            // Over 1 MB (a large set, or dead rows of failed calls, which
            // nothing vacuums): TRUNCATE, a new file. Else DELETE what an
            // earlier call left.
            auto it = last_fill.find(name);
            if (pages > 128)
                exec_once("TRUNCATE " + tmp_[t], SPI_OK_UTILITY);
            else if (it != last_fill.end() && it->second.rows > 0)
                exec("DELETE FROM " + tmp_[t], SPI_OK_DELETE);
            continue;
        }
        exec_once("CREATE TEMP TABLE " + sql::ident(name) + " AS SELECT " + select +
                 "0::pg_catalog.int4 AS gen FROM " + T(t).from() + " t WITH NO DATA",
             SPI_OK_UTILITY);
        if (dedup_[t])
            exec_once("ALTER TABLE " + tmp_[t] + " ADD PRIMARY KEY (" + pk + ")", SPI_OK_UTILITY);
        if (cyclic[t])
            exec_once("CREATE INDEX ON " + tmp_[t] + " (gen)", SPI_OK_UTILITY);
    }
}

// Remembers which key tables this call filled (see last_fill).
void Cascade::clear_temp_tables() {
    for (size_t t = 0; t < tmp_.size(); ++t) {
        if (tmp_[t].empty() || collected_[t] == 0)
            continue;
        if (collected_[t] > 1000) {
            // Large: give the space back now (a new file, no dead rows).
            exec_once("TRUNCATE " + tmp_[t], SPI_OK_UTILITY);
            last_fill[tmp_name_[t]] = Fill{1};
        } else
            last_fill[tmp_name_[t]] = Fill{collected_[t]};
    }
}

// Statistics for a key table that holds many rows, so that the statements
// joining it are planned from its real size (a new temp table has none).
void Cascade::analyze_if_large(int t) {
    if (!ephemeral_ && !tmp_[t].empty() && collected_[t] >= 1000)
        exec_once("ANALYZE " + tmp_[t], SPI_OK_UTILITY);
}

// Memory mode is for cascades without cycles (their fixpoint needs key
// tables); whether the keys are few enough shows while collecting them.
bool Cascade::memory_mode_possible() const {
    if (memory_keys <= 0)
        return false;
    for (size_t c = 0; c < plan_.components.size(); ++c)
        if (plan_.cyclic[c])
            return false;
    return true;
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
    for (const auto &comp : plan_.components) {
        int t = comp[0]; // no cycles: one table per component
        if (virtual_edge_[t] >= 0)
            continue;
        std::string body;
        if (t == root_ && req_.where) {
            // The condition sees the table under its own name, as in DELETE
            // ... WHERE; as the first CTE it cannot see the others.
            std::string cols;
            for (size_t i = 0; i < tmp_cols_[t].size(); ++i)
                cols += r.sql() + "." + sql::ident(tmp_cols_[t][i]) + " AS c" + std::to_string(i) + ", ";
            body = "SELECT " + cols + r.sql() + ".xmin AS x, " + r.sql() + ".ctid AS r FROM " + r.from() + " WHERE (" +
                   req_.condition + ")" + lim;
        } else if (t == root_) {
            int n = static_cast<int>(r.id_cols.size());
            std::vector<Oid> pktypes(r.id_types.begin(), r.id_types.end());
            std::vector<Oid> types = array_types(pktypes);
            std::string table = r.display;
            std::vector<Datum> arrays(n);
            pg_call([&] {
                key_arrays(req_.key, req_.key_type, req_.many, n, pktypes.data(), table.c_str(),
                           arrays.data());
            });
            for (int i = 0; i < n; ++i)
                p.add(arrays[i], false, types[i]); // $1..$n
            // A semi-join: a key given twice still names one row (= ANY too).
            if (n == 1)
                body = "SELECT " + aliased(t) + " FROM " + r.from() + " t WHERE t." + sql::ident(r.id_cols[0]) +
                       " " + r.id_eqops[0] + " ANY ($1)" + lim;
            else
                body = "SELECT " + aliased(t) + " FROM " + r.from() + " t WHERE EXISTS (SELECT 1 FROM " +
                       sql::param_rows(n) + " WHERE " + identity(t, "k", "k") + ")" + lim;
        } else {
            // UNION: a row reached through two edges is collected once.
            for (int ei : relevant_) {
                const Edge &e = m_.edges[ei];
                if (e.action != Action::Cascade || e.child != t)
                    continue;
                body += std::string(body.empty() ? "" : " UNION ") + "(SELECT " + aliased(t) + " FROM " +
                        T(t).from() + " t JOIN k" + std::to_string(e.parent) + " p ON " +
                        parent_match(e, "p", "t") + lim + ")";
            }
        }
        with += std::string(with.empty() ? "WITH " : ", ") + "k" + std::to_string(t) + " AS MATERIALIZED (" + body + ")";
        // ARRAY() of a column per sublink: each reads the CTE's stored rows
        // in the same order, so the arrays line up (cheaper to start than
        // array_agg()s).
        for (size_t i = 0; i <= tmp_cols_[t].size() + 1; ++i)
            aggs += std::string(aggs.empty() ? "" : ", ") + "ARRAY(SELECT " +
                    (i < tmp_cols_[t].size() ? "c" + std::to_string(i)
                     : i == tmp_cols_[t].size() ? std::string("x")
                                                : std::string("r")) +
                    " FROM k" + std::to_string(t) + ")";
        order.push_back(t);
    }
    std::string sql = with + " SELECT " + aggs;
    if (req_.where) {
        // Holds the caller's text: planned once, not kept.
        check_condition();
        pg_call([&] {
            pg::exec(sql.c_str(), 0, nullptr, nullptr, nullptr, SPI_OK_SELECT);
        });
    } else
        exec(sql, SPI_OK_SELECT, p, true);
    size_t n = m_.tables.size();
    arr_.assign(n, {});
    arr_type_.assign(n, {});
    bool fits = true;
    int col = 0;
    for (int t : order) {
        size_t ncols = tmp_cols_[t].size() + 2; // key columns, x, r
        arr_[t].resize(ncols);
        arr_type_[t].resize(ncols);
        uint64 count = 0;
        pg_call([&] {
            for (size_t i = 0; i < ncols; ++i) {
                bool isnull;
                Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col + 1 + static_cast<int>(i), &isnull);
                if (isnull) // ARRAY() of no rows is an empty array
                    elog(ERROR, "cascade_delete: NULL key array");
                arr_type_[t][i] = SPI_gettypeid(SPI_tuptable->tupdesc, col + 1 + static_cast<int>(i));
                // copied out of the result, which the next statement may free
                arr_[t][i] = datumCopy(d, false, -1);
                if (i == 0) {
                    ArrayType *a = DatumGetArrayTypeP(arr_[t][i]);
                    count = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
                }
            }
        });
        col += static_cast<int>(ncols);
        collected_[t] = count;
        if (count > limit)
            fits = false;
    }
    pg_call([] { SPI_freetuptable(SPI_tuptable); });
    if (!fits) {
        collected_.assign(n, 0);
        return false;
    }
    if (req_.dry_run || max_rows > 0)
        for (int ei : relevant_) {
            const Edge &e = m_.edges[ei];
            if (e.action == Action::Cascade && virtual_edge_[e.child] == ei)
                collected_[e.child] = count_referencing(e, false);
        }
    return true;
}

// The caller's condition parsed on its own first, so that its errors quote
// the condition and not the statement it becomes part of.
void Cascade::check_condition() const {
    std::string check = "SELECT FROM " + T(root_).from() + " WHERE (" + req_.condition + ")";
    pg_call([&] { SPI_freeplan(pg::prepare(check.c_str(), 0, nullptr)); });
}

uint64 Cascade::store_keys(int t, const std::string &query, const Params &p, Run how) {
    if (!ephemeral_) {
        std::string sql = "INSERT INTO " + tmp_[t] + " (" + tmp_names(t) + ", gen) " + query + conflict(t);
        if (how == Run::Once)
            return exec_once(sql, SPI_OK_INSERT);
        return exec(sql, SPI_OK_INSERT, p, how == Run::KeptGeneric);
    }
    std::string names = tmp_names(t) + ", gen", sql = "SELECT * FROM (" + query + ") s(" + names + ")";
    if (dedup_[t]) {
        // what ON CONFLICT DO NOTHING does for a key table's primary key
        std::string on, same;
        for (size_t i = 0; i < T(t).id_cols.size(); ++i) {
            on += std::string(i ? ", " : "") + "s.c" + std::to_string(i);
            same += std::string(i ? " AND " : "") + "d.c" + std::to_string(i) + " " + T(t).id_eqops[i] +
                    " s.c" + std::to_string(i);
        }
        sql = "SELECT DISTINCT ON (" + on + ") s.* FROM (" + query + ") s(" + names +
              ") WHERE NOT EXISTS (SELECT 1 FROM " + tmp_[t] + " d WHERE " + same + ")";
    }
    Tuplestorestate *store = store_[t];
    EphemeralNamedRelation enr = enr_[t];
    const char *text = sql.c_str();
    return pg_call([&] {
        // Read into a tuplestore of its own first: the query may read t's set.
        SPIPlanPtr plan = pg::prepare(text, static_cast<int>(p.types.size()),
                                      const_cast<Oid *>(p.types.data()));
        Portal portal = SPI_cursor_open(nullptr, plan, const_cast<Datum *>(p.values.data()),
                                        p.nulls.data(), true);
        Tuplestorestate *added = tuplestore_begin_heap(false, false, work_mem);
        uint64 n = 0;
        for (;;) {
            SPI_cursor_fetch(portal, true, 1000);
            if (SPI_processed == 0)
                break;
            for (uint64 r = 0; r < SPI_processed; ++r)
                tuplestore_puttuple(added, SPI_tuptable->vals[r]);
            n += SPI_processed;
            SPI_freetuptable(SPI_tuptable);
        }
        SPI_cursor_close(portal);
        SPI_freeplan(plan);
        TupleTableSlot *slot = MakeSingleTupleTableSlot(enr->md.tupdesc, &TTSOpsMinimalTuple);
        while (tuplestore_gettupleslot(added, true, false, slot))
            tuplestore_puttupleslot(store, slot);
        ExecDropSingleTupleTableSlot(slot);
        tuplestore_end(added);
        enr->md.enrtuples += static_cast<double>(n); // the planner's row estimate
        return n;
    });
}

// One ephemeral named relation per table that needs keys, with a key table's
// columns (c0, c1, ..., x, gen), registered with this call's SPI connection
// and freed with it.
void Cascade::create_ephemeral_key_sets() {
    size_t n = m_.tables.size();
    store_.assign(n, nullptr);
    enr_.assign(n, nullptr);
    for (size_t t = 0; t < n; ++t) {
        if (!plan_.in_set[t] || virtual_edge_[t] >= 0)
            continue;
        std::string name = "cascade_delete_keys_" + std::to_string(t);
        tmp_[t] = sql::ident(name);
        std::string shape = "SELECT " + aliased(static_cast<int>(t)) + ", 0::pg_catalog.int4 AS gen FROM " +
                            T(t).from() + " t WHERE false";
        const char *text = shape.c_str(), *cname = name.c_str();
        EphemeralNamedRelation enr = nullptr;
        Tuplestorestate *store = pg_call([&] {
            pg::exec(text, 0, nullptr, nullptr, nullptr, SPI_OK_SELECT);
            enr = static_cast<EphemeralNamedRelation>(palloc0(sizeof(EphemeralNamedRelationData)));
            enr->md.name = pstrdup(cname);
            enr->md.reliddesc = InvalidOid;
            enr->md.tupdesc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
            enr->md.enrtype = ENR_NAMED_TUPLESTORE;
            enr->md.enrtuples = 0;
            Tuplestorestate *ts = tuplestore_begin_heap(true, false, work_mem);
            enr->reldata = ts;
            SPI_freetuptable(SPI_tuptable);
            int rc = SPI_register_relation(enr);
            if (rc != SPI_OK_REL_REGISTER)
                elog(ERROR, "cascade_delete: SPI_register_relation failed: %s", SPI_result_code_string(rc));
            return ts;
        });
        store_[t] = store;
        enr_[t] = enr;
    }
}

void Cascade::collect_roots() {
    const Table &r = T(root_);
    if (req_.where) {
        check_condition();
        // The condition sees the table under its own name, as in DELETE ... WHERE.
        collected_[root_] += store_keys(root_, "SELECT " + source(root_, r.sql()) + ", 0 FROM " +
                                                   r.from() + " WHERE (" + req_.condition + ")",
                                        Params(), Run::Once);
        return;
    }
    int n = static_cast<int>(r.id_cols.size());
    // A semi-join: a key given twice still names one row.
    std::string query = "SELECT " + source(root_, "t") + ", 0 FROM " + r.from() +
                        " t WHERE EXISTS (SELECT 1 FROM " + sql::param_rows(n) + " WHERE " +
                        identity(root_, "k", "k") + ")";
    std::vector<Oid> pktypes(r.id_types.begin(), r.id_types.end());
    std::vector<Oid> types = array_types(pktypes);
    std::string table = r.display;
    std::vector<Datum> arrays(n);
    pg_call([&] {
        key_arrays(req_.key, req_.key_type, req_.many, n, pktypes.data(), table.c_str(),
                   arrays.data());
    });
    Params p;
    for (int i = 0; i < n; ++i)
        p.add(arrays[i], false, types[i]);
    collected_[root_] += store_keys(root_, query, p, Run::KeptGeneric);
}

void Cascade::collect() {
    for (size_t ci = 0; ci < plan_.components.size(); ++ci) {
        const auto &comp = plan_.components[ci];
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
                    collected_[e.child] = count_referencing(e, false);
                continue;
            }
            std::string base = "SELECT " + source(e.child, "t") + ", ";
            if (!inside(e.parent))
                collected_[e.child] += store_keys(
                    e.child,
                    base + "0 FROM " + T(e.child).from() + " t JOIN " + keys(e.parent, "p", nullptr) +
                        " ON " + parent_match(e, "p", "t"),
                    Params(), Run::Kept);
            else {
                internal.push_back(base + "$1 FROM " + T(e.child).from() + " t JOIN " +
                                   tmp_[e.parent] + " p ON " + parent_match(e, "p", "t") +
                                   " WHERE p.gen OPERATOR(pg_catalog.=) $2");
                internal_child.push_back(e.child);
                internal_edges.push_back(ei);
            }
        }
        if (internal.empty()) {
            for (int t : comp)
                analyze_if_large(t);
            continue;
        }
        if (comp.size() == 1 && internal_edges.size() == 1) {
            // One table referencing itself through one edge: a single recursive
            // query (UNION, so cycles in the data end) follows it to the bottom.
            const Edge &e = m_.edges[internal_edges[0]];
            int t = e.child;
            std::string cols = tmp_names(t);
            // Each round has few rows; OFFSET 0 keeps the LATERAL subquery from
            // being flattened, so every parent row probes the child index
            // instead of a hash join rescanning the whole table per round.
            std::string csel;
            for (size_t i = 0; i < tmp_cols_[t].size(); ++i)
                csel += "s.c" + std::to_string(i) + ", ";
            csel += "s.x";
            collected_[t] += store_keys(
                t,
                "WITH RECURSIVE p(" + cols + ") AS (SELECT " + cols + " FROM " + tmp_[t] +
                    " UNION SELECT " + csel + " FROM p, LATERAL (SELECT " + aliased(t) + " FROM " +
                    T(t).from() + " t WHERE " + parent_match(e, "p", "t") + " OFFSET 0) s) SELECT " +
                    cols + ", 1 FROM p",
                Params(), Run::Kept);
            analyze_if_large(t);
            continue;
        }
        // Semi-naive fixpoint: each round follows the edges from the rows the
        // previous round added, until a round adds nothing.
        for (int gen = 0;; ++gen) {
            uint64 added = 0;
            for (size_t i = 0; i < internal.size(); ++i) {
                pg_call([] { CHECK_FOR_INTERRUPTS(); });
                Params p;
                p.add(Int32GetDatum(gen + 1), false, INT4OID);
                p.add(Int32GetDatum(gen), false, INT4OID);
                uint64 n = store_keys(internal_child[i], internal[i], p, Run::KeptGeneric);
                collected_[internal_child[i]] += n;
                added += n;
            }
            if (added == 0)
                break;
        }
        for (int t : comp)
            analyze_if_large(t);
    }
}

void Cascade::check_blockers() {
    // PROTECT first (Django raises it while collecting), then the survivor checks.
    for (int pass = 0; pass < 2; ++pass)
        for (int ei : relevant_) {
            const Edge &e = m_.edges[ei];
            bool protect = e.action == Action::Protect;
            bool survivor = e.action == Action::Restrict || e.action == Action::NoAction;
            if (pass == 0 ? !protect : !survivor)
                continue;
            load_table(m_, e.child);
            const Table &c = T(e.child);
            std::string key = c.id_cols.size() == 1 ? "t." + sql::ident(c.id_cols[0]) + "::pg_catalog.text"
                                                    : "ROW(";
            if (c.id_cols.size() > 1) {
                for (size_t i = 0; i < c.id_cols.size(); ++i)
                    key += std::string(i ? ", " : "") + "t." + sql::ident(c.id_cols[i]);
                key += ")::pg_catalog.text";
            }
            Params p;
            std::string parents = keys(e.parent, "p", &p);
            std::string where = " FROM " + c.from() + " t WHERE EXISTS (SELECT 1 FROM " + parents +
                                " WHERE " + parent_match(e, "p", "t") + ")" +
                                (survivor ? not_collected(e.child, "t", &p) : "");
            std::string order;
            for (size_t i = 0; i < c.id_cols.size(); ++i)
                order += std::string(i ? ", " : "") + "t." + sql::ident(c.id_cols[i]);
            // Counted first, planned for the whole join: usually nothing blocks,
            // and a LIMIT would invite a nested loop betting on an early match.
            exec("SELECT pg_catalog.count(*)" + where, SPI_OK_SELECT, p, mem_);
            uint64 count = std::stoull(pg_call([] { return pg::value(0, 1); }));
            if (count == 0)
                continue;
            uint64 n = exec("SELECT " + key + where + " ORDER BY " + order + " LIMIT 10", SPI_OK_SELECT, p, mem_);
            Blocker b{ei, count, {}};
            for (uint64 r = 0; r < n; ++r)
                b.keys.push_back(pg_call([&] { return pg::value(r, 1); }));
            if (!req_.dry_run) {
                std::string detail =
                    std::to_string(b.count) + (b.count == 1 ? " row" : " rows") + " of " + c.display +
                    (protect ? " reference" : " that would not be deleted reference") +
                    (b.count == 1 ? "s" : "") + " rows being deleted from " + T(e.parent).display +
                    "; " + (c.has_pk ? "key" : "ctid") + (n == 1 ? "" : "s") + ": " +
                    sql::join(b.keys, ", ") + (b.count > n ? ", ..." : "") + ".";
                throw make_error(
                    ERRCODE_FOREIGN_KEY_VIOLATION,
                    "delete from table " + T(e.parent).display + " is blocked by " + e.describe(m_.tables),
                    detail,
                    protect ? "PROTECT refuses the delete while any referencing row exists."
                            : "Delete or update the referencing rows first, or change the policy "
                              "with cascade_delete_set_policy().");
            }
            blocked_.push_back(std::move(b));
        }
    if (req_.dry_run)
        predict_update_refusals();
}

// A dry run predicts what the real call's updates make PostgreSQL refuse: a
// NULL written into a NOT NULL column (23502: SET_NULL, or SET_DEFAULT without
// a default), and a SET_DEFAULT or SET value of a real foreign key that finds
// no row of the referenced table that survives the cascade (23503, at the call
// or at COMMIT for a deferred key). Evaluates the column defaults (a volatile
// default, e.g. nextval(), runs once per row here too).
void Cascade::predict_update_refusals() {
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.action != Action::SetNull && e.action != Action::SetDefault && e.action != Action::SetValue)
            continue;
        load_table(m_, e.child);
        const Table &c = T(e.child);
        const auto &setcols = e.setcols.empty() ? e.cols : e.setcols;
        std::string any_null, found, not_null_violated;
        for (size_t i = 0; i < e.cols.size(); ++i) {
            std::string value = "t." + sql::ident(e.cols[i]);
            if (std::find(setcols.begin(), setcols.end(), e.cols[i]) != setcols.end()) {
                Oid rel = c.oid;
                const char *col = e.cols[i].c_str(), *set_value = e.value.c_str();
                Action action = e.action;
                bool not_null = false;
                value = pg_call([&] {
                    AttrNumber a = get_attnum(rel, col);
                    Oid typid, collation;
                    int32 typmod;
                    get_atttypetypmodcoll(rel, a, &typid, &typmod, &collation);
                    HeapTuple tup = SearchSysCacheAttNum(rel, a);
                    if (HeapTupleIsValid(tup)) {
                        not_null = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup))->attnotnull;
                        ReleaseSysCache(tup);
                    }
                    char *type = format_type_extended(typid, typmod,
                                                      FORMAT_TYPE_FORCE_QUALIFY | FORMAT_TYPE_TYPEMOD_GIVEN);
                    if (action == Action::SetValue)
                        return psprintf("CAST(%s AS %s)", quote_literal_cstr(set_value), type);
                    Node *def = nullptr;
                    if (action == Action::SetDefault) {
                        Relation r = relation_open(rel, AccessShareLock);
                        def = build_column_default(r, a);
                        relation_close(r, AccessShareLock);
                    }
                    if (def == nullptr)
                        return psprintf("CAST(NULL AS %s)", type);
                    return psprintf("CAST((%s) AS %s)", deparse_expression(def, NIL, false, false), type);
                });
                if (not_null)
                    not_null_violated += std::string(not_null_violated.empty() ? "" : " OR ") + "(" +
                                         value + ") IS NULL";
            }
            any_null += std::string(i ? " OR " : "") + "(" + value + ") IS NULL";
            found += std::string(i ? " AND " : "") + "q." + sql::ident(e.refcols[i]) + " " +
                     e.eqops[i] + " (" + value + ")";
        }
        Params p;
        std::vector<std::string> refused;
        if (!not_null_violated.empty())
            refused.push_back(not_null_violated);
        if (e.conoid != 0 && e.action != Action::SetNull)
            refused.push_back("NOT (" + any_null + ") AND NOT EXISTS (SELECT 1 FROM " +
                              T(e.parent).from() + " q WHERE " + found +
                              not_collected(e.parent, "q", &p) + ")");
        if (refused.empty())
            continue;
        std::string where = " FROM " + c.from() + " t WHERE EXISTS (SELECT 1 FROM " +
                            keys(e.parent, "p", &p) + " WHERE " + parent_match(e, "p", "t") + ")" +
                            not_collected(e.child, "t", &p) + " AND (" + sql::join(refused, " OR ") + ")";
        exec("SELECT pg_catalog.count(*)" + where, SPI_OK_SELECT, p, mem_);
        uint64 count = std::stoull(pg_call([] { return pg::value(0, 1); }));
        if (count == 0)
            continue;
        std::string key, order;
        for (size_t i = 0; i < c.id_cols.size(); ++i) {
            key += std::string(i ? ", " : "") + "t." + sql::ident(c.id_cols[i]);
            order += std::string(i ? ", " : "") + "t." + sql::ident(c.id_cols[i]);
        }
        key = c.id_cols.size() == 1 ? key + "::pg_catalog.text" : "ROW(" + key + ")::pg_catalog.text";
        uint64 n = exec("SELECT " + key + where + " ORDER BY " + order + " LIMIT 10", SPI_OK_SELECT, p, mem_);
        Blocker b{ei, count, {}};
        for (uint64 r = 0; r < n; ++r)
            b.keys.push_back(pg_call([&] { return pg::value(r, 1); }));
        blocked_.push_back(std::move(b));
    }
}

void Cascade::check_max_rows(bool *exceeded) {
    *exceeded = false;
    if (max_rows <= 0)
        return;
    uint64 total = 0;
    for (size_t t = 0; t < collected_.size(); ++t)
        if (deletes_from(static_cast<int>(t)))
            total += collected_[t];
    if (total <= static_cast<uint64>(max_rows))
        return;
    if (req_.dry_run) {
        *exceeded = true;
        return;
    }
    std::string detail;
    for (size_t t = 0; t < collected_.size(); ++t)
        if (collected_[t] && deletes_from(static_cast<int>(t)))
            detail += (detail.empty() ? "" : ", ") + T(t).display + ": " + std::to_string(collected_[t]);
    throw make_error(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                     "cascade_delete would delete " + std::to_string(total) +
                         " rows, more than cascade_delete.max_rows (" + std::to_string(max_rows) + ")",
                     "Rows per table: " + detail + ".",
                     "Check the policies, or raise cascade_delete.max_rows (0 turns the limit off).");
}

void Cascade::run_updates() {
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.action != Action::SetNull && e.action != Action::SetDefault &&
            e.action != Action::SetValue)
            continue;
        load_table(m_, e.child);
        const Table &c = T(e.child);
        if (req_.dry_run) {
            updated_[e.child] += count_referencing(e, true);
            continue;
        }
        const auto &setcols = e.setcols.empty() ? e.cols : e.setcols;
        int n = static_cast<int>(e.cols.size());
        // SET(value)'s parameter: after the key arrays of a batch; in memory
        // mode the first, before the keys.
        Params p;
        std::string value_ref = "$" + std::to_string(n + 1);
        if (mem_ && e.action == Action::SetValue) {
            Oid vtype = e.value_type;
            const std::string &value = e.value;
            Datum v = pg_call([&] { return text_to_datum(value.c_str(), vtype); });
            value_ref = p.add(v, false, vtype);
        }
        std::string set, match, cursor;
        for (size_t i = 0; i < setcols.size(); ++i)
            set += std::string(i ? ", " : "") + sql::ident(setcols[i]) + " = " +
                   (e.action == Action::SetNull      ? "NULL"
                    : e.action == Action::SetDefault ? "DEFAULT"
                                                     : value_ref);
        if (mem_) {
            // One statement with the keys as parameters (a batch at most).
            std::string from = keys(e.parent, "k", &p);
            std::string skip = not_collected(e.child, "t", &p);
            updated_[e.child] += exec("UPDATE " + c.from() + " t SET " + set + " FROM " + from + " WHERE " +
                                          parent_match(e, "k", "t") + skip,
                                      SPI_OK_UPDATE, p, true);
            continue;
        }
        for (int i = 0; i < n; ++i) {
            match += std::string(i ? " AND " : "") + e.match(i, "k.k" + std::to_string(i), "t");
            cursor += std::string(i ? ", " : "") + tcol(e.parent, e.refcols[i]);
        }
        std::string stmt = "UPDATE " + c.from() + " t SET " + set + " FROM " + sql::param_rows(n) +
                           " WHERE " + match + e.filter("t") + not_collected(e.child, "t", nullptr);
        std::string cur = "SELECT " + cursor + " FROM " + tmp_[e.parent];
        bool with_value = e.action == Action::SetValue;
        Oid vtype = e.value_type;
        const std::string &value = e.value;
        std::vector<Oid> types = array_types(column_types(T(e.parent).oid, e.refcols));
        if (with_value)
            types.push_back(vtype);
        SPIPlanPtr cursor_plan = plan_for(cur, {}), stmt_plan = plan_for(stmt, types);
        updated_[e.child] += pg_call([&] {
            Datum v = with_value ? text_to_datum(value.c_str(), vtype) : (Datum)0;
            BatchSpec spec{cursor_plan, stmt_plan,    stmt.c_str(), with_value ? 1 : 0, &v,
                           batch_size,  SPI_OK_UPDATE, 0,           nullptr,           nullptr};
            return run_batches(&spec);
        });
    }
}

// The fast path for deletes from t: the foreign keys referencing t whose
// referencing rows this call has handled (deleted, updated, or checked to be
// absent). Not for partitioned tables (their partitions carry cloned
// triggers) nor for referencing tables under row-level security (PostgreSQL's
// own check, run as the owner, sees rows the caller's statements cannot).
void Cascade::bypass_for(int t, std::vector<Oid> *rels, std::vector<Oid> *cons) {
    if (!fast_path || T(t).relkind != 'r')
        return;
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.parent != t || e.conoid == 0 || T(e.child).rls)
            continue;
        rels->push_back(T(t).oid);
        cons->push_back(e.conoid);
        if (std::find(bypassed_.begin(), bypassed_.end(), ei) == bypassed_.end())
            bypassed_.push_back(ei);
    }
}

// Deleting rows of t queues no after-trigger event, so that nothing grows
// with the rows of one statement and batches would only cost: t has no
// triggers or rules of its own, is a plain table, and the fast path leaves out
// the RI triggers of every foreign key referencing it (bypassed: how many
// bypass_for() found for t).
bool Cascade::queues_nothing(int t, size_t bypassed) const {
    if (!fast_path || T(t).relkind != 'r' || T(t).user_code)
        return false;
    return T(t).referenced_by == bypassed;
}

// What the skipped RI triggers would have guaranteed, set-based: no row of a
// bypassed foreign key's table references a deleted key. Read with the latest
// snapshot, as ri_triggers.c does, so rows committed concurrently are seen. A
// row written by this transaction (e.g. SET_DEFAULT to a deleted row) is a
// foreign key violation; one written by another transaction, a serialization
// failure to retry.
void Cascade::post_check() {
    std::vector<int> checked = bypassed_;
    checked.insert(checked.end(), rechecked_.begin(), rechecked_.end());
    if (checked.empty())
        return;
    // One statement for all keys: the first offending row, and its edge.
    std::string sql;
    Params p;
    for (size_t i = 0; i < checked.size(); ++i) {
        const Edge &e = m_.edges[checked[i]];
        load_table(m_, e.child);
        // No LIMIT: planned for the whole join (a hash semi-join), not for an
        // early match that stale statistics promise; tcount stops at one row.
        std::string cond = any_match(e, "t", &p);
        if (cond.empty())
            cond = "EXISTS (SELECT 1 FROM " + keys(e.parent, "p", &p) + " WHERE " +
                   parent_match(e, "p", "t") + ")";
        sql += std::string(i ? " UNION ALL " : "") + "SELECT " + std::to_string(i) +
               ", t.xmin FROM " + T(e.child).from() + " t WHERE " + cond;
    }
    SPIPlanPtr plan = plan_for(sql, p.types, mem_);
    int which = -1;
    int found = pg_call([&] {
        int rc = SPI_execute_snapshot(plan, const_cast<Datum *>(p.values.data()), p.nulls.data(),
                                      GetLatestSnapshot(), InvalidSnapshot, false, false, 1);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "cascade_delete: post-check failed: %s", SPI_result_code_string(rc));
        int result = 0;
        if (SPI_processed > 0) {
            bool isnull;
            which = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
            Datum xmin = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
            TransactionId x = DatumGetTransactionId(xmin);
            // this transaction's row; one committed after the call's statement
            // began (its snapshot does not see it); or an older row that was
            // not deleted (a BEFORE DELETE trigger kept it)
            result = TransactionIdIsCurrentTransactionId(x) ? 1
                     : XidInMVCCSnapshot(x, GetActiveSnapshot()) ? 2
                                                                  : 3;
        }
        return result;
    });
    if (found == 0)
        return;
    const Edge &e = m_.edges[checked[which]];
    if (found == 3)
        throw make_error(ERRCODE_FOREIGN_KEY_VIOLATION,
                         "rows of table " + T(e.child).display + " still reference rows deleted from " +
                             T(e.parent).display,
                         "Found after the cascade through " + e.describe(m_.tables) + ".",
                         "A BEFORE DELETE trigger that returns NULL keeps its row.");
    if (found == 1)
        throw make_error(ERRCODE_FOREIGN_KEY_VIOLATION,
                         "rows of table " + T(e.child).display + " still reference rows deleted from " +
                             T(e.parent).display,
                         "Found after the cascade through " + e.describe(m_.tables) + ".",
                         "A SET_DEFAULT or SET value may point to a row the cascade deletes.");
    throw make_error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                     "could not serialize access: a concurrent transaction inserted or updated rows of " +
                         T(e.child).display + " referencing rows deleted from " + T(e.parent).display,
                     "Found after the cascade through " + e.describe(m_.tables) + ".",
                     "Retry the transaction.");
}

// Foreign keys that exist only as policies have no trigger to stop a
// concurrent insert of a row referencing a row this call deletes. With
// cascade_delete.lock_policy_tables, their tables are locked against writers
// (SHARE ROW EXCLUSIVE, which also conflicts with itself, so two calls queue
// instead of deadlocking on an upgrade) before any row is collected, and
// post_check() looks at them again with the latest snapshot, for callers
// whose snapshot predates the lock (REPEATABLE READ).
void Cascade::lock_policy_children() {
    if (!lock_policy_tables || req_.dry_run)
        return;
    std::vector<int> tables;
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (!e.policy || e.conoid != 0 || e.parent_link)
            continue;
        rechecked_.push_back(ei);
        if (std::find(tables.begin(), tables.end(), e.child) == tables.end())
            tables.push_back(e.child);
    }
    // One order for every caller.
    std::sort(tables.begin(), tables.end(), [&](int a, int b) { return T(a).oid < T(b).oid; });
    for (int t : tables)
        exec_once("LOCK TABLE " + T(t).sql() + " IN SHARE ROW EXCLUSIVE MODE", SPI_OK_UTILITY);
}

// Deletes from several tables in one statement, a data-modifying CTE each
// (deletes[i]: "DELETE FROM <table> t ... WHERE ..." for tables[i]), with the
// fast path's RI triggers left out; then each table's count, and rows changed
// since they were collected (see changed_rows()).
void Cascade::delete_together(const std::vector<int> &tables, const std::vector<std::string> &deletes,
                              const Params &p, bool generic) {
    std::string with, select;
    std::vector<Oid> rels, cons;
    for (size_t i = 0; i < tables.size(); ++i) {
        with += std::string(i ? ", " : "") + "d" + std::to_string(i) + " AS (" + deletes[i] + " RETURNING 1)";
        select += std::string(i ? ", " : "") + "(SELECT pg_catalog.count(*) FROM d" + std::to_string(i) + ")";
        bypass_for(tables[i], &rels, &cons);
    }
    std::string sql = "WITH " + with + " SELECT " + select;
    exec_bypassing(plan_for(sql, p.types, generic), sql, p, rels, cons, SPI_OK_SELECT);
    for (size_t i = 0; i < tables.size(); ++i)
        deleted_[tables[i]] = std::stoull(pg_call([&] { return pg::value(0, static_cast<int>(i) + 1); }));
    for (int t : tables)
        if (virtual_edge_[t] < 0 && deleted_[t] < collected_[t])
            deleted_[t] += changed_rows(t);
}

// Memory mode, when no table of the set has triggers or rules of its own
// (they would see the other tables before their rows go), the fast path is on
// and no table is partitioned: every delete in one statement, one
// data-modifying CTE per table. Returns false when it does not apply.
bool Cascade::delete_in_one_statement() {
    if (!mem_ || req_.dry_run || !fast_path)
        return false;
    std::vector<int> tables;
    for (auto ci = plan_.components.size(); ci-- > 0;) {
        int t = plan_.components[ci][0];
        if (partition_only_[t])
            continue;
        if (T(t).relkind != 'r' || T(t).user_code)
            return false;
        if (virtual_edge_[t] >= 0 || collected_[t] > 0)
            tables.push_back(t);
    }
    Params p;
    std::vector<std::string> deletes;
    for (int t : tables) {
        int ve = virtual_edge_[t];
        std::string match;
        std::string from;
        if (ve >= 0) {
            const Edge &e = m_.edges[ve];
            match = any_match(e, "t", &p);
            if (match.empty()) {
                from = " USING " + keys(e.parent, "k", &p);
                match = parent_match(e, "k", "t");
            }
        } else {
            // By the collected versions' ctids: a TID scan; and their xmins,
            // which READ COMMITTED's re-check of a row updated while the
            // delete waited for it compares (a re-check of the TID condition
            // alone passes on some PostgreSQL 15 releases). Such a row is left
            // for changed_rows().
            size_t xi = tmp_cols_[t].size(), ri = xi + 1;
            match = "t.ctid OPERATOR(pg_catalog.=) ANY (" + arr_param(t, ri, &p) +
                    ") AND t.xmin OPERATOR(pg_catalog.=) ANY (" + arr_param(t, xi, &p) + ")";
        }
        deletes.push_back("DELETE FROM " + T(t).from() + " t" + from + " WHERE " + match);
    }
    if (!tables.empty())
        delete_together(tables, deletes, p, true);
    return true;
}

bool Cascade::same_tree(int a, int b) const {
    const auto &up_a = T(a).partition_ancestors, &up_b = T(b).partition_ancestors;
    return std::find(up_a.begin(), up_a.end(), T(b).oid) != up_a.end() ||
           std::find(up_b.begin(), up_b.end(), T(a).oid) != up_b.end();
}

// The deleting tables of t's partition tree that delete before t (in t's
// component only, when same_component_only) and have keys.
std::vector<int> Cascade::deleted_before(int t, bool same_component_only) const {
    std::vector<int> out;
    for (size_t u = 0; u < m_.tables.size(); ++u) {
        int v = static_cast<int>(u);
        if (v == t || !deletes_from(v) || collected_[v] == 0 || delete_rank_[v] >= delete_rank_[t] ||
            !same_tree(t, v) || tmp_cols_[v].empty())
            continue;
        if (same_component_only) {
            bool together = false;
            for (const auto &comp : plan_.components)
                if (std::find(comp.begin(), comp.end(), t) != comp.end())
                    together = std::find(comp.begin(), comp.end(), v) != comp.end();
            if (!together)
                continue;
        }
        out.push_back(v);
    }
    return out;
}

// Matched by the columns of t's identity (a partition's primary key has its
// partitioned ancestors' columns), compared with t's operators.
std::string Cascade::in_keys_of(int u, int t, const std::string &x, Params *p) const {
    std::string cond;
    for (size_t i = 0; i < T(t).id_cols.size(); ++i) {
        const auto &cols = tmp_cols_[u];
        size_t j = std::find(cols.begin(), cols.end(), T(t).id_cols[i]) - cols.begin();
        if (j == cols.size())
            return "false"; // no common identity: not the same rows
        cond += std::string(i ? " AND " : "") + "y.c" + std::to_string(j) + " " + T(t).id_eqops[i] +
                " " + x + ".c" + std::to_string(i);
    }
    return "EXISTS (SELECT 1 FROM " + keys(u, "y", p) + " WHERE " + cond + ")";
}

// A dry run counts what the deletes will: a table's rows that a table of its
// partition tree deleted earlier are not deleted (nor reported) again.
void Cascade::discount_rows_deleted_earlier() {
    for (size_t u = 0; u < m_.tables.size(); ++u) {
        int t = static_cast<int>(u);
        if (!deletes_from(t) || collected_[t] == 0 || tmp_cols_[t].empty())
            continue;
        std::vector<int> earlier = deleted_before(t, false);
        if (earlier.empty())
            continue;
        Params p;
        std::string any;
        for (int v : earlier)
            any += std::string(any.empty() ? "" : " OR ") + in_keys_of(v, t, "x", &p);
        exec("SELECT pg_catalog.count(*) FROM " + keys(t, "x", &p) + " WHERE " + any, SPI_OK_SELECT, p, mem_);
        deleted_[t] -= std::stoull(pg_call([] { return pg::value(0, 1); }));
    }
}

void Cascade::run_deletes() {
    if (delete_in_one_statement())
        return;
    // hash_mem: about 64 bytes per key in a hash table
    size_t hash_keys = pg_call([] { return get_hash_memory_limit(); }) / 64;
    for (auto ci = plan_.components.size(); ci-- > 0;) {
        const auto &comp = plan_.components[ci];
        if (req_.dry_run) {
            for (int t : comp)
                if (deletes_from(t))
                    deleted_[t] = collected_[t];
            if (ci == 0)
                discount_rows_deleted_earlier();
            continue;
        }
        if (!plan_.cyclic[ci]) {
            int t = comp[0];
            int ve = virtual_edge_[t];
            if ((ve < 0 && collected_[t] == 0) || partition_only_[t])
                continue;
            // Keys: t's own identity, or for a virtual table its parent's
            // referenced columns matched against t's foreign key.
            const Edge *e = ve >= 0 ? &m_.edges[ve] : nullptr;
            int src = e ? e->parent : t;
            size_t nk = e ? e->cols.size() : T(t).id_cols.size();
            // match(arrays): t's rows named by the key columns in k: k0, ... as
            // array parameters, else the key table's own columns
            // (for a virtual table, the columns are named after the parent's).
            auto match = [&](bool arrays) {
                if (!e)
                    return identity(t, "k", arrays ? "k" : "c") +
                           same_version(arrays ? "k" + std::to_string(nk) : "x");
                if (!arrays)
                    return parent_match(*e, "k", "t");
                std::string out;
                for (size_t i = 0; i < nk; ++i)
                    out += std::string(i ? " AND " : "") + e->match(i, "k.k" + std::to_string(i), "t");
                return out + e->filter("t");
            };
            std::vector<Oid> rels, cons;
            bypass_for(t, &rels, &cons);
            auto start = std::chrono::steady_clock::now();
            if (!mem_ && collected_[src] >= 1000 && collected_[src] <= hash_keys &&
                queues_nothing(t, rels.size())) {
                // Nothing to bound: one statement joining the (analyzed) key
                // table, planned for its real size, e.g. a hash join over a
                // sequential scan where most of the table goes. Only while the
                // keys fit one in-memory hash table (work_mem x
                // hash_mem_multiplier): a hash join that spills to disk was
                // measured slower than index probes in batches (1,000,000 keys:
                // 13.2 s against 8.5 s).
                std::string all = "DELETE FROM " + T(t).from() + " t USING " + tmp_[src] + " k WHERE " + match(false);
                deleted_[t] = exec_bypassing(plan_for(all, {}), all, Params(), rels, cons, SPI_OK_DELETE);
            } else if (mem_ || collected_[src] <= static_cast<uint64>(batch_size)) {
                // One batch: the keys go into arrays inside the statement itself,
                // no cursor (and unnest() is guessed small, see keys()); in
                // memory mode they are its parameters.
                Params p;
                std::string from = mem_ ? keys(src, "k", &p) : key_arrays_of(src, "k", !e);
                std::string one = "DELETE FROM " + T(t).from() + " t USING " + from + " WHERE " + match(false);
                deleted_[t] = exec_bypassing(plan_for(one, p.types, mem_), one, p, rels, cons, SPI_OK_DELETE);
            } else {
                std::string cursor;
                for (size_t i = 0; i < nk; ++i)
                    cursor += std::string(i ? ", " : "") +
                              (e ? tcol(src, e->refcols[i]) : "c" + std::to_string(i));
                if (!e)
                    cursor += ", x";
                std::string stmt = "DELETE FROM " + T(t).from() + " t USING " +
                                   sql::param_rows(e ? nk : nk + 1) + " WHERE " + match(true);
                std::string cur = "SELECT " + cursor + " FROM " + tmp_[src];
                std::vector<Oid> elem =
                    e ? column_types(T(src).oid, e->refcols)
                      : std::vector<Oid>(T(t).id_types.begin(), T(t).id_types.end());
                if (!e)
                    elem.push_back(XIDOID);
                SPIPlanPtr cursor_plan = plan_for(cur, {}),
                           stmt_plan = plan_for(stmt, array_types(elem));
                deleted_[t] = pg_call([&] {
                    BatchSpec spec{cursor_plan,   stmt_plan,
                                   stmt.c_str(),  0,
                                   nullptr,       batch_size,
                                   SPI_OK_DELETE, static_cast<int>(rels.size()),
                                   rels.data(),   cons.data()};
                    return run_batches(&spec);
                });
            }
            if (!e && deleted_[t] < collected_[t])
                deleted_[t] += changed_rows(t);
            double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
            pg_call([&] {
                elog(DEBUG1, "cascade_delete: deleted %llu rows of %s in %.3f ms",
                     static_cast<unsigned long long>(deleted_[t]), T(t).display.c_str(), ms);
            });
            continue;
        }
        // A cycle: all its rows go in one statement, so that the end-of-statement
        // checks of immediate constraints inside the cycle see them all gone.
        std::vector<std::string> deletes;
        std::vector<int> tables;
        for (int t : comp)
            if (!partition_only_[t]) {
                // a row in the keys of an earlier table of this statement is that one's
                std::string earlier;
                for (int u : deleted_before(t, true))
                    earlier += " AND NOT " + in_keys_of(u, t, "k", nullptr);
                tables.push_back(t);
                deletes.push_back("DELETE FROM " + T(t).from() + " t USING " + tmp_[t] + " k WHERE " +
                                  identity(t, "k", "c") + same_version("x") + earlier);
            }
        if (!tables.empty())
            delete_together(tables, deletes, Params(), false);
    }
}

// Deletes take a collected row only in the version that was collected: in READ
// COMMITTED, PostgreSQL re-checks a row changed while the delete waited for it
// against the statement's conditions, and a match on its key alone would
// delete a row that a concurrent transaction moved out of the cascade (and its
// subtree, already deleted). Called when fewer rows of t were deleted than
// collected: rows deleted concurrently, or kept by a BEFORE trigger, are fine;
// a row another transaction changed fails the call with 40001 (nothing is
// deleted; retry); rows this transaction's own triggers changed are deleted now.
uint64 Cascade::changed_rows(int t) {
    std::string where = " WHERE " + identity(t, "k", "c") + " AND NOT (t.xmin OPERATOR(pg_catalog.=) k.x)";
    Params p;
    std::string k = mem_ ? keys(t, "k", &p) : collected_[t] >= 1000 ? tmp_[t] + " k" : key_arrays_of(t, "k", true);
    uint64 n = exec("SELECT t.xmin FROM " + T(t).from() + " t, " + k + where, SPI_OK_SELECT, p);
    if (n == 0)
        return 0;
    bool others = pg_call([&] {
        for (uint64 r = 0; r < n; ++r) {
            bool isnull;
            Datum x = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
            if (!TransactionIdIsCurrentTransactionId(DatumGetTransactionId(x)))
                return true;
        }
        return false;
    });
    if (others)
        throw make_error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                         "could not serialize access: rows of table " + T(t).display +
                             " changed after cascade_delete collected them",
                         "A concurrent transaction updated " + std::to_string(n) +
                             (n == 1 ? " row" : " rows") + " that the cascade was about to delete.",
                         "Retry the transaction.");
    std::vector<Oid> rels, cons;
    bypass_for(t, &rels, &cons);
    std::string sql = "DELETE FROM " + T(t).from() + " t USING " + k + where;
    return pg_call([&] {
        ri::arm(static_cast<int>(rels.size()), rels.data(), cons.data());
        uint64 d = pg::exec(sql.c_str(), static_cast<int>(p.values.size()),
                            const_cast<Oid *>(p.types.data()), const_cast<Datum *>(p.values.data()),
                            p.nulls.data(), SPI_OK_DELETE);
        ri::disarm();
        return d;
    });
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
        std::vector<Oid> pktypes(r.id_types.begin(), r.id_types.end());
        std::string sql = "SELECT t.tableoid::pg_catalog.oid::pg_catalog.text FROM " + r.sql() +
                          " t WHERE " + other + " AND EXISTS (SELECT 1 FROM " + sql::param_rows(nk) +
                          " WHERE " + identity(root_, "k", "k") + ") LIMIT 1";
        std::string table = r.display;
        Params p;
        std::vector<Oid> types = array_types(pktypes);
        std::vector<Datum> arrays(nk);
        pg_call([&] {
            key_arrays(req_.key, req_.key_type, req_.many, nk, pktypes.data(), table.c_str(),
                       arrays.data());
        });
        for (int i = 0; i < nk; ++i)
            p.add(arrays[i], false, types[i]);
        n = exec(sql, SPI_OK_SELECT, p);
    }
    if (n == 0)
        return;
    Oid child_oid = static_cast<Oid>(std::stoul(pg_call([] { return pg::value(0, 1); })));
    const char *nsp = nullptr, *rel = nullptr;
    pg_call([&] {
        rel = get_rel_name(child_oid);
        nsp = get_namespace_name(get_rel_namespace(child_oid));
    });
    std::string child = display_name(nsp ? nsp : "", rel ? rel : "");
    throw make_error(ERRCODE_FEATURE_NOT_SUPPORTED,
                     "cascade_delete: rows to delete from " + r.display +
                         " are in its inheritance child " + child,
                     "cascade_delete follows the foreign keys and policies of the table it is "
                     "given; a row of an inheritance child is under the child's own.",
                     "Call cascade_delete on " + child + " for its rows.");
}

std::string Cascade::report(bool max_rows_exceeded) const {
    uint64 total = 0;
    std::map<std::string, uint64> del, upd;
    // deleted_.size(): a nested call (from a trigger) may have added tables
    // to the shared model since this call sized its counters
    for (size_t t = 0; t < deleted_.size(); ++t) {
        if (deleted_[t]) {
            del[T(t).display] += deleted_[t];
            total += deleted_[t];
        }
        if (updated_[t])
            upd[T(t).display] += updated_[t];
    }
    auto object = [](const std::map<std::string, uint64> &m) {
        std::string out = "{";
        for (const auto &[k, v] : m)
            out += (out.size() > 1 ? ", " : "") + json_string(k) + ": " + std::to_string(v);
        return out + "}";
    };
    std::string out = "{\"total\": " + std::to_string(total) + ", \"deleted\": " + object(del) +
                      ", \"updated\": " + object(upd);
    if (req_.dry_run) {
        out += ", \"dry_run\": true, \"blocked\": [";
        for (size_t i = 0; i < blocked_.size(); ++i) {
            const Blocker &b = blocked_[i];
            const Edge &e = m_.edges[b.edge];
            std::string keys;
            for (const auto &k : b.keys)
                keys += (keys.empty() ? "" : ", ") + json_string(k);
            std::string cols;
            for (const auto &c : e.cols)
                cols += (cols.empty() ? "" : ", ") + json_string(c);
            out += std::string(i ? ", " : "") + "{\"table\": " + json_string(T(e.child).display) +
                   ", \"columns\": [" + cols + "], \"referenced_table\": " +
                   json_string(T(e.parent).display) + ", \"action\": " +
                   json_string(action_name(e.action)) + ", \"constraint\": " +
                   (e.conname.empty() ? "null" : json_string(e.conname)) +
                   ", \"policy\": " + (e.policy ? "true" : "false") +
                   ", \"count\": " + std::to_string(b.count) + ", \"keys\": [" + keys + "]}";
        }
        out += "]";
        if (max_rows_exceeded)
            out += ", \"max_rows_exceeded\": true";
    }
    return out + "}";
}

std::string Cascade::run() {
    // Before any statement: PostgreSQL's own message would name one of ours.
    if (!req_.dry_run && pg_call([] { return XactReadOnly || RecoveryInProgress(); }))
        throw make_error(ERRCODE_READ_ONLY_SQL_TRANSACTION,
                         "cannot execute cascade_delete in a read-only transaction",
                         "", "A dry run (dry_run => true) works in a read-only transaction and on a "
                             "hot standby.");
    root_ = m_.table(req_.target);
    load_table(m_, root_);
    if (!T(root_).has_pk && !req_.where)
        throw make_error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                         "table " + T(root_).display + " has no primary key",
                         "Keys name rows by the primary key.",
                         "Use cascade_delete_where() to choose the rows by a condition.");
    auto cached = m_.plans.find(root_);
    if (cached == m_.plans.end()) {
        std::vector<PlanEdge> pe;
        for (const auto &e : m_.edges)
            pe.push_back({e.parent, e.child, e.action});
        cached = m_.plans.emplace(root_, make_plan(static_cast<int>(m_.tables.size()), pe, root_)).first;
    }
    plan_ = cached->second;
    for (size_t i = 0; i < m_.edges.size(); ++i)
        if (plan_.in_set[m_.edges[i].parent] && m_.edges[i].action != Action::DoNothing)
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
        partition_only_[t] = plan_.in_set[t] && static_cast<int>(t) != root_;
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.action == Action::Cascade && !e.partition)
            partition_only_[e.child] = 0;
    }
    delete_rank_.assign(m_.tables.size(), -1);
    int rank = 0;
    for (auto ci = plan_.components.size(); ci-- > 0;)
        for (int t : plan_.components[ci])
            delete_rank_[t] = rank++;
    for (size_t t = 0; t < m_.tables.size(); ++t)
        if (plan_.in_set[t])
            load_table(m_, static_cast<int>(t));

    // Phase timings at DEBUG1 (SET client_min_messages = debug1 to see them).
    auto t0 = std::chrono::steady_clock::now();
    auto phase = [&t0](const char *name) {
        auto t1 = std::chrono::steady_clock::now();
        double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
        t0 = t1;
        pg_call([&] { elog(DEBUG1, "cascade_delete: %s %.3f ms", name, ms); });
    };
    check_inheritance_children();
    phase("setup");
    lock_policy_children();
    find_virtual_tables();
    prepare_keys();
    // Memory mode while every table has at most this many keys: one batch each.
    uint64 limit = static_cast<uint64>(std::min(memory_keys, batch_size));
    mem_ = memory_mode_possible();
    if (mem_ && !collect_in_memory(limit))
        mem_ = false;
    if (!mem_) {
        ephemeral_ = req_.dry_run;
        if (ephemeral_) {
            one_shot_plans(true); // plans naming this call's ephemeral relations are not kept
            create_ephemeral_key_sets();
        } else
            create_temp_tables();
        phase("key tables");
        collect();
    }
    phase("collect");
    bool exceeded;
    // Refusals first (README "How it works"), then the row limit.
    check_blockers();
    check_max_rows(&exceeded);
    phase("checks");
    run_updates();
    phase("updates");
    run_deletes();
    phase("deletes");
    post_check();
    phase("post-check");
    if (ephemeral_)
        one_shot_plans(false);
    else
        clear_temp_tables();
    return report(exceeded);
}

// Key tables whose table is gone (the name carries its OID), dropped when the
// model has been read again, which a dropped table of the model causes: a
// session that creates and drops tables would otherwise keep one key table
// per dropped table until it ends.
unsigned long last_generation = 0;
void drop_orphan_key_tables(unsigned long generation) {
    if (generation == last_generation || call_depth != 1 || pg_call([] { return XactReadOnly; }))
        return;
    last_generation = generation;
    uint64 n = exec_once("SELECT c.relname::pg_catalog.text FROM pg_catalog.pg_class c"
                         " WHERE c.relnamespace OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema()"
                         " AND c.relkind OPERATOR(pg_catalog.=) 'r'"
                         // made under another role (a SECURITY DEFINER caller): not ours to drop now
                         " AND c.relowner OPERATOR(pg_catalog.=) (SELECT u.oid FROM pg_catalog.pg_roles u"
                         "   WHERE u.rolname OPERATOR(pg_catalog.=) CURRENT_USER)"
                         " AND c.relname OPERATOR(pg_catalog.~~) 'cascade\\_delete\\_%'",
                         SPI_OK_SELECT);
    std::vector<std::string> names;
    for (uint64 r = 0; r < n; ++r)
        names.push_back(pg_call([&] { return pg::value(r, 1); }));
    for (const auto &name : names) {
        // cascade_delete_<depth>_<table oid>_<shape hash>
        size_t a = name.find('_', std::string("cascade_delete_").size());
        size_t b = a == std::string::npos ? a : name.find('_', a + 1);
        if (b == std::string::npos || b == a + 1 || b - a - 1 > 10)
            continue;
        std::string digits = name.substr(a + 1, b - a - 1);
        std::string depth = name.substr(std::string("cascade_delete_").size(),
                                        a - std::string("cascade_delete_").size());
        std::string hash = name.substr(b + 1);
        // exactly our names: a table of the caller's that happens to share the prefix stays
        if (digits.find_first_not_of("0123456789") != std::string::npos || depth.empty() ||
            depth.find_first_not_of("0123456789") != std::string::npos || hash.size() != 16 ||
            hash.find_first_not_of("0123456789abcdef") != std::string::npos)
            continue;
        unsigned long oid = std::stoul(digits);
        if (oid > 0xFFFFFFFFUL)
            continue;
        Oid rel = static_cast<Oid>(oid);
        bool gone = pg_call([&] { return get_rel_name(rel) == nullptr; });
        if (!gone)
            continue;
        exec_once("DROP TABLE pg_temp." + sql::ident(name), SPI_OK_UTILITY);
        last_fill[name] = Fill{1}; // the DROP rolls back with the transaction
    }
}

} // namespace

std::string run_cascade(const Request &req) {
    pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "cascade_delete: SPI_connect failed");
    });
    std::string json;
    ++call_depth;
    // On an error, the (sub)transaction's abort restores the setting.
    int nest = pg_call([] { return pg::no_jit(); });
    try {
        if (call_depth == 1)
            trim_plan_cache();
        std::shared_ptr<Model> model = cached_model();
        drop_orphan_key_tables(model->generation);
        Cascade cascade(req, model);
        json = cascade.run();
    } catch (...) {
        --call_depth;
        one_shot_plans(false);
        throw;
    }
    --call_depth;
    pg_call([&] { pg::restore_search_path(nest); });
    pg_call([] { SPI_finish(); });
    return json;
}

} // namespace cd
