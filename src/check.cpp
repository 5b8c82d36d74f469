// Check: PROTECT, RESTRICT / NO ACTION, what a dry run predicts of the
// updates, cascade_delete.max_rows; and the locks of lock_policy_tables. Runs
// after collecting and before anything changes.
#include "cascade_call.hpp"
#include "limits.hpp"
#include "sql.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace cd {

// The rows of edge ei's child that "where" (a FROM clause with the child as
// t) finds: how many, and up to limits::kBlockerSampleKeys of their keys in
// key order. Counted first, planned for the whole join: usually nothing
// blocks, and a LIMIT would invite a nested loop betting on an early match.
// once: plans not kept (Citus plans a statement with its parameters' values).
Blocker Cascade::find_blocker(int ei, const std::string &where, const Params &p, bool once) {
    const Table &c = T(m_.edges[ei].child);
    Blocker b{ei, count_rows(where, p, once), {}};
    if (b.count == 0)
        return b;
    b.keys = sample_keys(c, where, p, limits::kBlockerSampleKeys, once);
    return b;
}

// Up to limit keys of table t's rows that from_where names, in key order (on
// Citus with statements per tenant, tenant after tenant: citus_keys_in_order).
std::vector<std::string> Cascade::sample_keys(const Table &t, const std::string &from_where, const Params &p,
                                              size_t limit, bool once) const {
    std::string sample = sql::select_keys_as_text(sql::identity_cols(t, sql::kRow), from_where) + " LIMIT " +
                         std::to_string(limit);
    std::vector<std::string> keys;
    for_each_tenant(p, [&](const Params &q) {
        uint64 n = once ? exec_once(sample, SPI_OK_SELECT, q) : exec(sample, SPI_OK_SELECT, q);
        for (uint64 r = 0; r < n && keys.size() < limit; ++r)
            keys.push_back(pg_guard(pg::value, r, 1));
    });
    return keys;
}

// The edges whose referencing rows block, in the order they are checked:
// PROTECT first (Django raises it while collecting), then the survivor checks
// (RESTRICT, NO ACTION: rows the cascade does not delete). check(ei, protect).
void Cascade::for_each_blocking_edge(const std::function<void(int, bool)> &check) const {
    for (int pass = 0; pass < 2; ++pass)
        for (int ei : relevant_) {
            Action a = m_.edges[ei].action;
            bool protect = a == Action::Protect;
            bool survivor = a == Action::Restrict || a == Action::NoAction;
            if (pass == 0 ? protect : survivor)
                check(ei, protect);
        }
}

void Cascade::check_blockers() {
    for_each_blocking_edge([&](int ei, bool protect) {
        const Edge &e = m_.edges[ei];
        load_table(m_, e.child);
        const Table &c = T(e.child);
        Params p;
        std::string parents = keys(e.parent, "p", &p);
        std::string where = " FROM " + c.from() + " t WHERE EXISTS (SELECT 1 FROM " + parents + " WHERE " +
                            parent_match(e, "p", "t") + ")" + (protect ? "" : not_collected(e.child, "t", &p));
        refuse_or_record(find_blocker(ei, where, p), protect);
    });
    if (req_.dry_run)
        predict_update_refusals(); // raises them when refuse_blocked
    check_hidden_rows();
}

// What the checks and the collection read, they read as the caller; a
// referencing row that row-level security hides from the caller would
// escape them. Under a real foreign key PostgreSQL's own check (as the
// table's owner) still sees it; under an application-only key it would stay
// behind, referencing a deleted row, or not block what it must. So for such
// a key on a table whose rows the caller does not all see, the table's owner
// counts them: a row the caller missed refuses the call (42501), naming no
// key. (A leaf deleted by its parent's keys, and SET_* updates, already go as
// the owner and take every row.)
void Cascade::check_hidden_rows() {
    if (citus_)
        return;
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        bool cascade_by_keys = e.action == Action::Cascade && virtual_edge_[e.child] != ei;
        bool blocks = e.action == Action::Protect || e.action == Action::Restrict;
        if (e.conoid != 0 || e.partition || !(cascade_by_keys || blocks) || !T(e.child).rls ||
            !pg_guard(pg::rls_applies, static_cast<Oid>(T(e.child).oid)))
            continue;
        StatementRole as(changing_role(designated_role(e.child)));
        if (count_referencing(e, e.action != Action::Protect) > 0)
            throw make_error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                             "row-level security hides rows of " + T(e.child).display +
                                 " that reference rows this call deletes",
                             std::string("Its key to ") + T(e.parent).display +
                                 " exists only as a policy, and the rows the caller cannot see would " +
                                 (blocks ? "block the delete." : "stay behind, referencing deleted rows."),
                             "Delete as a role that sees every row of " + T(e.child).display +
                                 " (its owner, or one with BYPASSRLS).");
    }
}

uint64 Cascade::count_rows(const std::string &from_where, const Params &p, bool once) {
    std::string count = "SELECT pg_catalog.count(*)" + from_where;
    uint64 total = 0;
    for_each_tenant(p, [&](const Params &q) {
        if (once)
            exec_once(count, SPI_OK_SELECT, q);
        else
            exec(count, SPI_OK_SELECT, q);
        total += std::stoull(pg_guard(pg::value, 0, 1));
    });
    return total;
}

// A blocker found (b.count > 0): the delete's error (23503), or in a dry run
// one more entry of its report's "blocked".
void Cascade::refuse_or_record(Blocker b, bool protect) {
    if (b.count == 0)
        return;
    const Edge &e = m_.edges[b.edge];
    const Table &c = T(e.child);
    size_t n = b.keys.size();
    if (!req_.dry_run || req_.refuse_blocked) {
        std::string detail = std::to_string(b.count) + (b.count == 1 ? " row" : " rows") + " of " + c.display +
                             (protect ? " reference" : " that would not be deleted reference") +
                             (b.count == 1 ? "s" : "") + " rows being deleted from " + T(e.parent).display + "; " +
                             (c.has_pk ? "key" : "ctid") + (n == 1 ? "" : "s") + ": " + sql::join(b.keys, ", ") +
                             (b.count > n ? ", ..." : "") + ".";
        throw make_error(ERRCODE_FOREIGN_KEY_VIOLATION,
                         "delete from table " + T(e.parent).display + " is blocked by " + e.describe(m_.tables),
                         detail,
                         protect ? "PROTECT refuses the delete while any referencing row exists."
                                 : "Delete or update the referencing rows first, or change the policy "
                                   "with cascade_delete_set_policy().");
    }
    blocked_.push_back(std::move(b));
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
        if (!sets_columns(e.action))
            continue;
        load_table(m_, e.child);
        const Table &c = T(e.child);
        const auto &setcols = e.setcols.empty() ? e.cols : e.setcols;
        std::string any_null, found, not_null_violated;
        for (size_t i = 0; i < e.cols.size(); ++i) {
            std::string value = "t." + sql::ident(e.cols[i]);
            if (std::find(setcols.begin(), setcols.end(), e.cols[i]) != setcols.end()) {
                char set_kind = e.action == Action::SetValue ? 'v' : e.action == Action::SetDefault ? 'd' : 'n';
                bool not_null = false;
                value = pg_guard(pg::written_value_sql, c.oid, e.cols[i].c_str(), set_kind, e.value.c_str(),
                                 &not_null);
                if (not_null)
                    not_null_violated += std::string(not_null_violated.empty() ? "" : " OR ") + "(" +
                                         value + ") IS NULL";
            }
            any_null += std::string(i ? " OR " : "") + "(" + value + ") IS NULL";
            found += std::string(i ? " AND " : "") + "q." + sql::ident(e.refcols[i]) + " " +
                     e.eqops[i] + " (" + value + ")";
        }
        // The refusals (23502, 23503) as conditions on the rows the update changes.
        std::vector<int> refusals;
        if (!not_null_violated.empty())
            refusals.push_back(ERRCODE_NOT_NULL_VIOLATION);
        if (e.conoid != 0 && e.action != Action::SetNull)
            refusals.push_back(ERRCODE_FOREIGN_KEY_VIOLATION);
        if (refusals.empty())
            continue;
        auto refused = [&](int sqlstate, Params *p) {
            if (sqlstate == ERRCODE_NOT_NULL_VIOLATION)
                return not_null_violated;
            return "NOT (" + any_null + ") AND NOT EXISTS (SELECT 1 FROM " + T(e.parent).from() +
                   " q WHERE " + found + not_deleted(e.parent, "q", p) + ")";
        };
        auto changed_rows_where = [&](const std::string &condition, Params *p) {
            std::string referencing = citus_ ? citus_referencing_rows(e, "t")
                                             : "EXISTS (SELECT 1 FROM " + keys(e.parent, "p", p) + " WHERE " +
                                                   parent_match(e, "p", "t") + ")";
            return " FROM " + c.from() + " t WHERE " + referencing + not_deleted(e.child, "t", p) + " AND (" +
                   condition + ")";
        };
        if (req_.refuse_blocked) {
            // Raised as the delete would fail (a job's plan, cascade_delete_keys).
            for (int sqlstate : refusals) {
                Params p = citus_ ? citus_keys_ : Params();
                Blocker b = find_blocker(ei, changed_rows_where(refused(sqlstate, &p), &p), p, citus_);
                if (b.count > 0)
                    throw make_error(
                        sqlstate,
                        "the " + std::string(action_name(e.action)) + " update of " + c.display + " through " +
                            e.describe(m_.tables) + " would be refused",
                        std::to_string(b.count) + (b.count == 1 ? " row" : " rows") + " of " + c.display +
                            (sqlstate == ERRCODE_NOT_NULL_VIOLATION
                                 ? " would get NULL in a NOT NULL column"
                                 : " would reference rows that do not exist or are deleted") +
                            "; keys: " + sql::join(b.keys, ", ") + (b.count > b.keys.size() ? ", ..." : "") + ".",
                        "cascade_delete() would fail at this update.");
            }
            continue;
        }
        Params p = citus_ ? citus_keys_ : Params();
        std::vector<std::string> conditions;
        for (int sqlstate : refusals)
            conditions.push_back(refused(sqlstate, &p));
        Blocker b = find_blocker(ei, changed_rows_where(sql::join(conditions, " OR "), &p), p, citus_);
        if (b.count == 0)
            continue;
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

// Foreign keys that exist only as policies have no trigger to stop a
// concurrent insert of a row referencing a row this call deletes. With
// cascade_delete.lock_policy_tables, their tables are locked against writers
// (lock_tables) before any row is collected, and
// post_check() looks at them again with the latest snapshot, for callers
// whose snapshot predates the lock (REPEATABLE READ).
// also: tables to lock with them in the same ordered pass (on Citus, those
// referencing rows that cannot be locked, see citus_rows_to_lock).
void Cascade::lock_policy_children(std::vector<int> also) {
    std::vector<int> tables = std::move(also);
    if (lock_policy_tables && !req_.dry_run)
        for (int ei : relevant_) {
            const Edge &e = m_.edges[ei];
            if (!e.policy || e.conoid != 0 || e.parent_link)
                continue;
            rechecked_.push_back(ei);
            tables.push_back(e.child);
        }
    lock_tables(tables);
}

// LOCK TABLE ... IN SHARE ROW EXCLUSIVE MODE, which holds every writer of the
// tables back until this transaction ends and, conflicting with itself, makes
// two callers wait for each other rather than deadlock (each holding a lock
// the other's deletes need). In one order (by OID) for every caller.
void Cascade::lock_tables(std::vector<int> tables) {
    std::sort(tables.begin(), tables.end(), [&](int a, int b) { return T(a).oid < T(b).oid; });
    tables.erase(std::unique(tables.begin(), tables.end()), tables.end());
    for (int t : tables)
        exec_once("LOCK TABLE " + T(t).sql() + " IN SHARE ROW EXCLUSIVE MODE", SPI_OK_UTILITY);
}

} // namespace cd
