// Mutate: SET_* updates, then deletes, referencing tables first, each
// delete strategy a function of its own; the fast path's choice of RI
// triggers to leave out.
#include "cascade_call.hpp"
#include "limits.hpp"
#include "sql.hpp"

extern "C" {
#include "miscadmin.h"
}

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace cd {

// Runs a kept plan with the RI triggers of rels / cons left out (see ri_bypass).
uint64 exec_bypassing(SPIPlanPtr plan, const std::string &query_text, const Params &p,
                      const std::vector<Oid> &rels, const std::vector<Oid> &cons, int rc) {
    return pg_guard(exec_bypassing_rows, plan, query_text.c_str(), 0, static_cast<Oid *>(nullptr),
                    const_cast<Datum *>(p.values.data()), p.nulls.data(), rc, static_cast<int>(rels.size()),
                    rels.data(), cons.data());
}

// The role that changes t's rows, as PostgreSQL's RI triggers have it: the
// caller the root's, the owner a referencing table's (InvalidOid: the caller
// is that role).
Oid Cascade::designated_role(int t) const {
    Oid role = t == root_ ? caller_ : T(t).owner;
    return role == caller_ ? InvalidOid : role;
}

// The one role a statement changing the rows of several tables runs as
// (InvalidOid: the caller): their one owner, when they have one (the caller's
// right to delete the roots is checked up front); else the caller, when no
// table owned by another role has triggers, rules or row-level security
// (their code would run with the caller's rights) and, if privileged_only, the
// caller may delete from each of them (else the statement checks it); else
// *refused.
Oid Cascade::statement_role(const std::vector<int> &tables, bool privileged_only, bool *refused) const {
    *refused = false;
    if (tables.size() <= 1)
        return tables.empty() ? InvalidOid : designated_role(tables[0]);
    bool one_owner = true;
    for (int t : tables)
        one_owner = one_owner && T(t).owner == T(tables[0]).owner;
    if (one_owner)
        return T(tables[0]).owner == caller_ ? InvalidOid : T(tables[0]).owner;
    for (int t : tables)
        *refused = *refused ||
                   (T(t).owner != caller_ && (T(t).user_code || T(t).rls ||
                                              (privileged_only && !pg_guard(pg::may_delete, T(t).oid, caller_))));
    return InvalidOid;
}

// role, now allowed to read this call's key tables, for a StatementRole.
Oid Cascade::changing_role(Oid role) {
    if (OidIsValid(role))
        for (auto &ks : key_sets_)
            if (ks)
                ks->let_read(role);
    return role;
}

// Before anything changes: the caller may delete the roots (checked here,
// since a statement that deletes them with referencing tables' rows runs as
// their owner); a parent link policy deletes rows of its parent only if the
// policy's owner may (nobody gains, through a policy, a right on another
// role's table that a foreign key would not give); a cycle's rows go in one
// statement, which runs as one role.
void Cascade::check_changing_rights() const {
    if (!req_.dry_run && !pg_guard(pg::may_delete, T(root_).oid, caller_))
        throw make_error(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied for table " + T(root_).rel);
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.parent_link && T(e.parent).owner != T(e.child).owner &&
            !pg_guard(pg::may_delete, T(e.child).oid, T(e.parent).owner))
            throw make_error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                             "the parent link policy of " + T(e.parent).display + " would delete rows of " +
                                 T(e.child).display + ", which the owner of " + T(e.parent).display +
                                 " may not delete",
                             "A policy deletes other tables' rows with its table owner's rights.",
                             "Grant DELETE on " + T(e.child).display + " to the owner of " + T(e.parent).display +
                                 ", or drop the policy.");
    }
    for (size_t ci = 0; ci < plan_->components.size(); ++ci) {
        if (!plan_->cyclic[ci] || plan_->components[ci].size() < 2)
            continue;
        bool refused;
        statement_role(cycle_tables(plan_->components[ci]), false, &refused);
        if (refused)
            throw make_error(ERRCODE_FEATURE_NOT_SUPPORTED,
                             "the tables of a cycle through " + T(plan_->components[ci][0]).display +
                                 " have different owners, and triggers, rules or row-level security",
                             "A cycle's rows are deleted in one statement, which runs as one role: its "
                             "tables' owner, or the caller when no table of another owner has triggers, "
                             "rules or row-level security (their code would run with the caller's rights).",
                             "Give the cycle's tables one owner.");
    }
}

void Cascade::run_updates() {
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (!sets_columns(e.action))
            continue;
        load_table(m_, e.child);
        const Table &c = T(e.child);
        if (req_.dry_run) {
            updated_[e.child] += count_referencing(e, true);
            continue;
        }
        StatementRole as(changing_role(designated_role(e.child)));
        const auto &setcols = e.setcols.empty() ? e.cols : e.setcols;
        bool with_value = e.action == Action::SetValue;
        Oid vtype = e.value_type;
        Datum v = with_value ? pg_guard(text_to_datum, e.value.c_str(), vtype) : (Datum)0;
        auto set = [&](const std::string &value_ref) {
            std::vector<std::string> parts;
            for (const auto &col : setcols)
                parts.push_back(sql::ident(col) + " = " +
                                (e.action == Action::SetNull      ? std::string("NULL")
                                 : e.action == Action::SetDefault ? std::string("DEFAULT")
                                                                  : value_ref));
            return sql::join(parts, ", ");
        };
        if (collected_[e.parent] <= static_cast<uint64>(batch_size)) {
            // The keys fit one batch: one statement.
            Params p;
            std::string value_ref = with_value ? p.add(v, false, vtype) : "";
            std::string from = keys(e.parent, sql::kKeys, &p);
            std::string skip = not_collected(e.child, sql::kRow, &p);
            updated_[e.child] += exec("UPDATE " + c.from() + " t SET " + set(value_ref) + " FROM " + from +
                                          " WHERE " + parent_match(e, sql::kKeys, sql::kRow) + skip,
                                      SPI_OK_UPDATE, p);
            continue;
        }
        // Batches of keys from a cursor over the key table, passed as arrays
        // $1..$n; SET(value)'s value after them.
        size_t n = e.cols.size();
        std::vector<std::string> match, cursor;
        for (size_t i = 0; i < n; ++i) {
            match.push_back(e.match(i, std::string(sql::kKeys) + "." + sql::param_col(i), sql::kRow));
            cursor.push_back(tcol(e.parent, e.refcols[i]));
        }
        std::string stmt = "UPDATE " + c.from() + " t SET " + set(sql::param(n + 1)) + " FROM " +
                           sql::param_rows(n) + " WHERE " + sql::join(match, " AND ") + e.filter(sql::kRow) +
                           not_collected(e.child, sql::kRow, nullptr);
        std::string cur = "SELECT " + sql::join(cursor, ", ") + " FROM " + key_sets_[e.parent]->relation();
        std::vector<Oid> types = array_types(column_types(T(e.parent).oid, e.refcols));
        if (with_value)
            types.push_back(vtype);
        SPIPlanPtr cursor_plan = plan_for(cur, {}), stmt_plan = plan_for(stmt, types);
        BatchSpec spec{cursor_plan, nullptr,       nullptr, stmt_plan, stmt.c_str(), with_value ? 1 : 0, &v,
                       batch_size,  SPI_OK_UPDATE, 0,       nullptr,   nullptr};
        updated_[e.child] += pg_guard(run_batches, static_cast<const BatchSpec *>(&spec));
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
    std::string query_text = "WITH " + with + " SELECT " + select;
    exec_bypassing(plan_for(query_text, p.types, generic), query_text, p, rels, cons, SPI_OK_SELECT);
    for (size_t i = 0; i < tables.size(); ++i)
        deleted_[tables[i]] = std::stoull(pg_guard(pg::value, 0, static_cast<int>(i) + 1));
    for (int t : tables)
        if (has_key_set(t) && deleted_[t] < collected_[t])
            deleted_[t] += changed_rows(t);
}

// When every key set keeps its rows' addresses (memory mode), no table of the
// set has triggers or rules of its own (they would see the other tables
// before their rows go), the fast path is on and no table is partitioned:
// every delete in one statement, one data-modifying CTE per table (a job's
// chunk: the leaves in a second one, see leaves_after_parents). Returns
// false when it does not apply.
bool Cascade::delete_in_one_statement() {
    if (req_.dry_run || !fast_path)
        return false;
    std::vector<int> tables;
    for (auto ci = plan_->components.size(); ci-- > 0;) {
        // Key sets that keep addresses (memory mode) come without cycles but
        // single self-references, whose rows go in one statement anyway;
        // by_address() below refuses the others.
        if (plan_->cyclic[ci] && plan_->components[ci].size() > 1)
            return false;
        int t = plan_->components[ci][0];
        if (partition_only_[t])
            continue;
        if (T(t).relkind != 'r' || T(t).user_code)
            return false;
        if (!has_key_set(t) || collected_[t] > 0)
            tables.push_back(t);
    }
    // One statement runs as one role (else a statement per table).
    bool refused;
    StatementRole as(changing_role(statement_role(tables, true, &refused)));
    if (refused)
        return false;
    // First the tables with keys and the leaves that go with them, then
    // the leaves that go after them.
    std::vector<int> statement_of(tables.size(), 0);
    for (size_t i = 0; i < tables.size(); ++i)
        statement_of[i] = leaves_after_parents(tables[i]) ? 1 : 0;
    for (int s = 0; s < 2; ++s) {
        Params p;
        std::vector<int> these;
        std::vector<std::string> deletes;
        for (size_t i = 0; i < tables.size(); ++i) {
            if (statement_of[i] != s)
                continue;
            int t = tables[i];
            these.push_back(t);
            if (virtual_edge_[t] >= 0) {
                deletes.push_back(leaf_delete(t, &p));
                continue;
            }
            // By the collected row versions' addresses; a row updated since
            // is left for changed_rows().
            std::string addresses;
            std::string match = key_sets_[t]->by_address(sql::kRow, &p, &addresses);
            if (match.empty())
                return false; // nothing has run yet
            deletes.push_back("DELETE FROM " + T(t).from() + " t" + (addresses.empty() ? "" : " USING " + addresses) +
                              " WHERE " + match);
        }
        if (!these.empty())
            delete_together(these, deletes, p, true);
    }
    for (size_t i = 0; i < tables.size(); ++i)
        if (statement_of[i] == 1)
            deleted_after_parent_.push_back(virtual_edge_[tables[i]]);
    return true;
}

// A job's chunk whose cascade is its own table and leaves that go after it
// (leaves_after_parents), no triggers, row-level security, partitions or
// row limit: its rows deleted by their keys as they are now, in one
// statement returning what the leaves need, then the leaves. No collecting
// first (an index probe and a row fetch a key, a tenth of such a chunk) and
// no post-check: a row changed meanwhile is deleted as it is if it still has
// its key, as a DELETE by key does, where the collected version's address
// would have failed the chunk with 40001 for its runner to retry. False when
// it does not apply, nothing done.
bool Cascade::delete_chunk_by_keys() {
    if (!req_.job_chunk || req_.where || req_.dry_run || !fast_path || max_rows > 0)
        return false;
    const Table &r = T(root_);
    if (r.relkind != 'r' || !r.has_pk || r.user_code || r.rls || r.inheritance_children ||
        !r.partition_ancestors.empty())
        return false;
    find_virtual_tables();
    std::vector<int> leaves;
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.parent != root_ || e.action != Action::Cascade || virtual_edge_[e.child] != ei ||
            !leaves_after_parents(e.child))
            return false;
        leaves.push_back(e.child);
    }
    bool refused;
    Oid leaves_role = statement_role(leaves, true, &refused);
    if (refused)
        return false;
    prepare_keys();
    Params p;
    std::string stmt = "WITH d AS (DELETE FROM " + r.from() + " t WHERE " + root_keys_match(&p) + " RETURNING " +
                       sql::key_cols_as(key_cols_[root_], true) + ") SELECT " + key_set_arrays(root_, "d");
    size_t ncols = key_cols_[root_].size() + 2; // key columns, x, r: as memory mode keeps them
    std::vector<Oid> rels, cons;
    bypass_for(root_, &rels, &cons);
    exec_bypassing(plan_for(stmt, p.types, true), stmt, p, rels, cons, SPI_OK_SELECT);
    std::vector<Datum> kept(ncols);
    std::vector<Oid> types(ncols);
    uint64 count = 0;
    pg_guard(pg::copy_result_arrays, 1, static_cast<int>(ncols), kept.data(), types.data(), &count);
    pg_guard(SPI_freetuptable, SPI_tuptable);
    collected_[root_] = deleted_[root_] = count;
    key_sets_[root_] = array_keys(r, key_cols_[root_], std::move(kept), std::move(types), count);
    Params q;
    std::vector<std::string> deletes;
    for (int t : leaves) {
        deletes.push_back(leaf_delete(t, &q));
        deleted_after_parent_.push_back(virtual_edge_[t]);
    }
    if (!leaves.empty()) {
        StatementRole as(changing_role(leaves_role));
        delete_together(leaves, deletes, q, true);
    }
    return true;
}

// The delete of a table without keys of its own (virtual_edge_), by its
// parent's keys: "= ANY" of an array of them, or joined.
std::string Cascade::leaf_delete(int t, Params *p) const {
    const Edge &e = m_.edges[virtual_edge_[t]];
    std::string from, match = any_match(e, "t", p);
    if (match.empty()) {
        from = " USING " + keys(e.parent, "k", p);
        match = parent_match(e, "k", "t");
    }
    return "DELETE FROM " + T(t).from() + " t" + from + " WHERE " + match;
}

// Whether a job's chunk deletes leaf t in a statement after its parent's,
// and leaves its foreign key unchecked. As PostgreSQL's own ON DELETE
// CASCADE does: a transaction that inserts (or updates) a row of t under a
// parent row locks that row FOR KEY SHARE to check its key, so it either did
// so before the parent's delete, which then waits for it to end, and its row
// is committed before the next statement's snapshot (READ COMMITTED: a new
// one) and deleted there; or it waits for this transaction and then fails
// with 23503. In one statement such a row stays unseen and the post-check
// must look for it: an index probe per key among the rows just deleted, a
// tenth of a chunk's time. Only for a real foreign key that the fast path
// left out (no row-level security on t) and a leaf deleted by its parent's
// keys; the one-transaction call keeps one statement, and its post-check's
// 40001, for every mode alike.
bool Cascade::leaves_after_parents(int t) const {
    int ve = virtual_edge_[t];
    if (!req_.job_chunk || ve < 0 || pg_guard(pg::uses_transaction_snapshot))
        return false;
    const Edge &e = m_.edges[ve];
    return e.conoid != 0 && !T(t).rls && !e.partition && !e.parent_link && !T(t).user_code &&
           !T(e.parent).user_code && T(t).relkind == 'r';
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
            !same_tree(t, v) || key_cols_[v].empty() ||
            (same_component_only && component_[v] != component_[t]))
            continue;
        out.push_back(v);
    }
    return out;
}

// A dry run counts what the deletes will: a table's rows that a table of its
// partition tree deleted earlier are not deleted (nor reported) again.
void Cascade::discount_rows_deleted_earlier() {
    for (size_t u = 0; u < m_.tables.size(); ++u) {
        int t = static_cast<int>(u);
        if (!deletes_from(t) || collected_[t] == 0 || key_cols_[t].empty())
            continue;
        std::vector<int> earlier = deleted_before(t, false);
        if (earlier.empty())
            continue;
        Params p;
        std::string any;
        for (int v : earlier)
            any += std::string(any.empty() ? "" : " OR ") + in_keys_of(v, t, "x", &p);
        exec("SELECT pg_catalog.count(*) FROM " + keys(t, "x", &p) + " WHERE " + any, SPI_OK_SELECT, p);
        deleted_[t] -= std::stoull(pg_guard(pg::value, 0, 1));
    }
}

// The rows of one table to delete and how they are named: t's own keys, or,
// for a table without a key set of its own (virtual_edge_), the keys of its
// parent matched against its foreign key.
struct Cascade::DeleteTarget {
    int t;
    const Edge *e; // the parent edge of a table without keys, else nullptr
    int src;       // whose key set names the rows
    size_t nk;     // key columns
    std::vector<Oid> rels, cons; // the fast path's RI triggers to leave out
};

// t's rows named by the key columns of alias k: as the key set's own columns
// (c0.., x; for a table without keys, its parent's), or as k0.. of array
// parameters (then x is k<nk>).
std::string Cascade::delete_match(const DeleteTarget &d, bool arrays) const {
    if (!d.e)
        return identity(d.t, sql::kKeys, arrays ? "k" : "c") +
               same_version(arrays ? sql::param_col(d.nk) : std::string(sql::kVersion));
    if (!arrays)
        return parent_match(*d.e, sql::kKeys, sql::kRow);
    std::vector<std::string> parts;
    for (size_t i = 0; i < d.nk; ++i)
        parts.push_back(d.e->match(i, std::string(sql::kKeys) + "." + sql::param_col(i), sql::kRow));
    return sql::join(parts, " AND ") + d.e->filter(sql::kRow);
}

// Nothing to bound: one statement joining the (analyzed) key table, planned for
// its real size, e.g. a hash join over a sequential scan where most of the
// table goes. Only while the keys fit one in-memory hash table (see
// limits::kHashBytesPerKey).
uint64 Cascade::delete_joining_key_table(const DeleteTarget &d) {
    std::string stmt = "DELETE FROM " + T(d.t).from() + " t USING " + key_sets_[d.src]->relation() +
                       " k WHERE " + delete_match(d, false);
    return exec_bypassing(plan_for(stmt, {}), stmt, Params(), d.rels, d.cons, SPI_OK_DELETE);
}

// One batch: one statement reading the keys as KeySet::from() gives them, no
// cursor.
uint64 Cascade::delete_in_one_batch(const DeleteTarget &d) {
    Params p;
    std::string from = keys(d.src, sql::kKeys, &p, !d.e);
    std::string stmt = "DELETE FROM " + T(d.t).from() + " t USING " + from + " WHERE " + delete_match(d, false);
    return exec_bypassing(plan_for(stmt, p.types, p.key_arrays), stmt, p, d.rels, d.cons, SPI_OK_DELETE);
}

// Batches of cascade_delete.batch_size keys from a cursor over the key table,
// passed as arrays: bounds the after-trigger queue and each statement.
uint64 Cascade::delete_in_batches(const DeleteTarget &d) {
    std::vector<std::string> cursor_cols;
    for (size_t i = 0; i < d.nk; ++i)
        cursor_cols.push_back(d.e ? tcol(d.src, d.e->refcols[i]) : sql::key_col(i));
    if (!d.e)
        cursor_cols.push_back(sql::kVersion);
    std::string stmt = "DELETE FROM " + T(d.t).from() + " t USING " +
                       sql::param_rows(d.e ? d.nk : d.nk + 1) + " WHERE " + delete_match(d, true);
    std::string cur = "SELECT " + sql::join(cursor_cols, ", ") + " FROM " + key_sets_[d.src]->relation();
    std::vector<Oid> elem = d.e ? column_types(T(d.src).oid, d.e->refcols)
                                : std::vector<Oid>(T(d.t).id_types.begin(), T(d.t).id_types.end());
    if (!d.e)
        elem.push_back(XIDOID);
    SPIPlanPtr cursor_plan = plan_for(cur, {}), stmt_plan = plan_for(stmt, array_types(elem));
    BatchSpec spec{cursor_plan,   nullptr,     nullptr, stmt_plan, stmt.c_str(),
                   0,             nullptr,     batch_size,
                   SPI_OK_DELETE, static_cast<int>(d.rels.size()),
                   d.rels.data(), d.cons.data()};
    return pg_guard(run_batches, static_cast<const BatchSpec *>(&spec));
}

// A cycle: all its rows go in one statement, so that the end-of-statement
// checks of immediate constraints inside the cycle see them all gone. A row in
// the keys of an earlier table of the statement is that one's.
std::vector<int> Cascade::cycle_tables(const std::vector<int> &comp) const {
    std::vector<int> tables;
    for (int t : comp)
        if (!partition_only_[t])
            tables.push_back(t);
    return tables;
}

void Cascade::delete_cycle(const std::vector<int> &comp) {
    std::vector<std::string> deletes;
    std::vector<int> tables;
    Params p;
    for (int t : cycle_tables(comp)) {
        std::string earlier;
        for (int u : deleted_before(t, true))
            earlier += " AND NOT " + in_keys_of(u, t, sql::kKeys, &p);
        tables.push_back(t);
        deletes.push_back("DELETE FROM " + T(t).from() + " t USING " + keys(t, sql::kKeys, &p, true) +
                          " WHERE " + identity(t, sql::kKeys, "c") + same_version(sql::kVersion) + earlier);
    }
    bool refused; // check_changing_rights() refused it first
    StatementRole as(changing_role(statement_role(tables, false, &refused)));
    if (!tables.empty())
        delete_together(tables, deletes, p, p.key_arrays);
}

// Deletes, referencing tables first (components in reverse collection order),
// each table with the strategy its keys call for; a dry run only counts.
void Cascade::run_deletes() {
    if (delete_in_one_statement())
        return;
    size_t hash_keys = pg_guard(get_hash_memory_limit) / limits::kHashBytesPerKey;
    std::vector<int> after; // leaves that go after every table with keys
    for (auto ci = plan_->components.size(); ci-- > 0;) {
        const auto &comp = plan_->components[ci];
        if (req_.dry_run) {
            for (int t : comp)
                if (deletes_from(t))
                    deleted_[t] = collected_[t];
            if (ci == 0)
                discount_rows_deleted_earlier();
            continue;
        }
        if (plan_->cyclic[ci]) {
            delete_cycle(comp);
            continue;
        }
        int t = comp[0];
        if (leaves_after_parents(t))
            after.push_back(t);
        else
            delete_table(t, hash_keys);
    }
    for (int t : after) {
        delete_table(t, hash_keys);
        deleted_after_parent_.push_back(virtual_edge_[t]);
    }
}

// The rows of t (not in a cycle): deleted with the strategy its keys call for.
void Cascade::delete_table(int t, size_t hash_keys) {
    int ve = virtual_edge_[t];
    if ((ve < 0 && collected_[t] == 0) || partition_only_[t])
        return;
    StatementRole as(changing_role(designated_role(t)));
    DeleteTarget d{t, ve >= 0 ? &m_.edges[ve] : nullptr, 0, 0, {}, {}};
    d.src = d.e ? d.e->parent : t;
    d.nk = d.e ? d.e->cols.size() : T(t).id_cols.size();
    bypass_for(t, &d.rels, &d.cons);
    auto start = std::chrono::steady_clock::now();
    uint64 nkeys = collected_[d.src];
    bool in_relation = !key_sets_[d.src]->relation().empty();
    if (in_relation && nkeys >= limits::kAnalyzedKeySet && nkeys <= hash_keys &&
        queues_nothing(t, d.rels.size()))
        deleted_[t] = delete_joining_key_table(d);
    else if (nkeys <= static_cast<uint64>(batch_size))
        deleted_[t] = delete_in_one_batch(d);
    else
        deleted_[t] = delete_in_batches(d);
    if (!d.e && deleted_[t] < collected_[t])
        deleted_[t] += changed_rows(t);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    char message[256];
    snprintf(message, sizeof(message), "cascade_delete: deleted %llu rows of %s in %.3f ms",
             static_cast<unsigned long long>(deleted_[t]), T(t).display.c_str(), ms);
    pg_guard(pg::progress, static_cast<const char *>(message), progress);
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
    std::string k = keys(t, sql::kKeys, &p, true);
    uint64 n = exec("SELECT t.xmin FROM " + T(t).from() + " t, " + k + where, SPI_OK_SELECT, p);
    if (n == 0)
        return 0;
    bool others = pg_guard(rows_of_other_transactions, n);
    if (others)
        throw make_error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                         "could not serialize access: rows of table " + T(t).display +
                             " changed after cascade_delete collected them",
                         "A concurrent transaction updated " + std::to_string(n) +
                             (n == 1 ? " row" : " rows") + " that the cascade was about to delete.",
                         "Retry the transaction.");
    std::vector<Oid> rels, cons;
    bypass_for(t, &rels, &cons);
    std::string query_text = "DELETE FROM " + T(t).from() + " t USING " + k + where;
    return pg_guard(exec_bypassing_rows, static_cast<SPIPlanPtr>(nullptr), query_text.c_str(),
                    static_cast<int>(p.values.size()), const_cast<Oid *>(p.types.data()),
                    const_cast<Datum *>(p.values.data()), p.nulls.data(), static_cast<int>(SPI_OK_DELETE),
                    static_cast<int>(rels.size()), rels.data(), cons.data());
}

} // namespace cd
