// The three kinds of key set (key_sets.hpp), and the Cascade's helpers that
// name a key set's columns in statements.
#include "key_sets.hpp"
#include "cascade_call.hpp"
#include "limits.hpp"
#include "session.hpp"
#include "sql.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/lsyscache.h"
}

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cd {

std::string KeySet::column_array(size_t, Oid, Params *) const { return ""; }
std::string KeySet::by_address(const std::string &, Params *, std::string *) const { return ""; }

namespace {

// Memory mode: the keys are parameters of every statement that reads them.
class ArrayKeys : public KeySet {
  public:
    ArrayKeys(const Table &table, std::vector<std::string> cols, std::vector<Datum> arrays,
              std::vector<Oid> types, uint64 rows)
        : KeySet(table, std::move(cols)), arrays_(std::move(arrays)), types_(std::move(types)) {
        rows_ = rows;
    }
    uint64 add(const std::string &, const Params &, Run) override {
        throw make_error(ERRCODE_INTERNAL_ERROR, "cascade_delete: keys in memory mode are collected at once");
    }
    std::string from(const std::string &alias, Params *p, bool) const override {
        std::vector<std::string> params;
        for (size_t i = 0; i <= cols_.size(); ++i) // key columns, then x
            params.push_back(param(i, p));
        return sql::params_as_keys(params, alias);
    }
    std::string column_array(size_t j, Oid array_type, Params *p) const override {
        return j < cols_.size() && types_[j] == array_type ? param(j, p) : "";
    }
    // By the collected versions' ctids: a TID scan; and their xmins, which
    // READ COMMITTED's re-check of a row updated while the delete waited for
    // it compares (a re-check of the TID condition alone passes on some
    // PostgreSQL 15 releases). "xmin = ANY (all xmins)" may compare each row
    // with every key: beyond limits::kAddressList keys the pairs are joined
    // instead, a TID scan per row.
    std::string by_address(const std::string &row, Params *p, std::string *from) const override {
        size_t x = cols_.size(), r = x + 1;
        if (rows_ <= limits::kAddressList)
            return row + ".ctid OPERATOR(pg_catalog.=) ANY (" + param(r, p) + ") AND " + row +
                   ".xmin OPERATOR(pg_catalog.=) ANY (" + param(x, p) + ")";
        *from = sql::rows_from({sql::unnest(param(r, p)), sql::unnest(param(x, p))}, "a", {"r", "x"});
        return row + ".ctid OPERATOR(pg_catalog.=) a.r AND " + row + ".xmin OPERATOR(pg_catalog.=) a.x";
    }

  private:
    std::string param(size_t i, Params *p) const { return p->add(arrays_[i], false, types_[i], true); }
    std::vector<Datum> arrays_; // key columns, x, r
    std::vector<Oid> types_;
};

// Key tables and ephemeral relations: the keys are rows of a relation.
class StoredKeys : public KeySet {
  public:
    StoredKeys(const Table &table, std::vector<std::string> cols, bool dedup)
        : KeySet(table, std::move(cols)), dedup_(dedup) {}
    // A small key set has no statistics, and the planner would guess it at
    // ten pages (over a thousand rows) and hash-join the whole referencing
    // table; as unnest() of arrays it is guessed small and probed through
    // indexes. A large one has been analyzed and is joined as it is.
    std::string from(const std::string &alias, Params *, bool with_version) const override {
        if (rows_ >= limits::kAnalyzedKeySet)
            return relation_ + " " + alias;
        return sql::key_set_as_arrays(relation_, cols_.size(), table_.id_cols.size(), alias, with_version);
    }
    std::string relation() const override { return relation_; }

  protected:
    std::string columns() const { return sql::key_col_list(cols_.size()) + ", " + sql::kGeneration; }
    std::string relation_; // as SQL names it
    bool dedup_;
};

class KeyTable : public StoredKeys {
  public:
    KeyTable(const Table &table, std::vector<std::string> cols, bool dedup, bool cyclic);
    uint64 add(const std::string &query, const Params &p, Run how) override {
        std::string insert = "INSERT INTO " + relation_ + " (" + columns() + ") " + query +
                             (dedup_ ? " ON CONFLICT DO NOTHING" : "");
        uint64 n = how == Run::Once ? exec_once(insert, SPI_OK_INSERT)
                                    : exec(insert, SPI_OK_INSERT, p, how == Run::KeptGeneric);
        rows_ += n;
        return n;
    }
    // Statistics for many rows, so that the statements joining the table are
    // planned from its real size (a new key table has none).
    void collected() override {
        if (rows_ >= limits::kAnalyzedKeySet)
            exec_once("ANALYZE " + relation_, SPI_OK_UTILITY);
    }
    // A temporary table is the creating role's: others read it by a grant,
    // made once (it stays with the table; rolled back with a failed call).
    void let_read(Oid role) override {
        if (!pg_guard(pg::temp_table_readable_by, name_.c_str(), role))
            exec_once("GRANT SELECT ON " + relation_ + " TO " + sql::ident(pg_guard(GetUserNameFromId, role, false)),
                      SPI_OK_UTILITY);
    }
    // Remembers that this call filled it (Session::key_table_rows); a large
    // one gives its space back now (a new file, no dead rows).
    void release() override {
        if (rows_ == 0)
            return;
        if (rows_ > limits::kTruncateAfterCall) {
            exec_once("TRUNCATE " + relation_, SPI_OK_UTILITY);
            session.key_table_rows[name_] = 1;
        } else
            session.key_table_rows[name_] = rows_;
    }

  private:
    std::string name_; // unqualified
};

// Key tables live for the session and are reused (empty at the start of
// every call): creating and dropping them per call would churn the catalog.
// The name carries the call depth, the table's OID and a hash of what the
// shape depends on (drop_orphan_key_tables() parses it).
KeyTable::KeyTable(const Table &table, std::vector<std::string> cols, bool dedup, bool cyclic)
    : StoredKeys(table, std::move(cols), dedup) {
    std::string select = sql::key_cols_as(cols_, false) + ", ";
    std::vector<std::string> pk;
    for (size_t i = 0; i < table_.id_cols.size(); ++i)
        pk.push_back(sql::key_col(i));
    std::vector<const char *> colptrs;
    for (const auto &c : cols_)
        colptrs.push_back(c.c_str());
    Oid reloid = table_.oid;
    // The role too: a table made under one role (a job runs each chunk as its
    // owner) is not another role's to fill.
    std::string shape = select + sql::join(pk, ", ") + (dedup_ ? "u" : "") + (cyclic ? "g" : "") +
                        pg_guard(column_signature, reloid, static_cast<int>(colptrs.size()),
                                 static_cast<const char *const *>(colptrs.data())) +
                        "r" + std::to_string(pg_guard(GetUserId));
    char hash[17];
    snprintf(hash, sizeof(hash), "%016zx", std::hash<std::string>{}(shape));
    name_ = "cascade_delete_" + std::to_string(session.call_depth) + "_" + std::to_string(table_.oid) + "_" + hash;
    relation_ = "pg_temp." + sql::ident(name_);
    // Its size in pages, or -1 if it does not exist (yet, or after DISCARD TEMP).
    long pages = pg_guard(pg::temp_table_pages, name_.c_str());
    if (pages >= 0) {
        // Over 1 MB (a large set, or dead rows of failed calls, which nothing
        // vacuums): TRUNCATE, a new file. Else DELETE what an earlier call left.
        auto it = session.key_table_rows.find(name_);
        if (pages > limits::kTruncatePages)
            exec_once("TRUNCATE " + relation_, SPI_OK_UTILITY);
        else if (it != session.key_table_rows.end() && it->second > 0)
            exec("DELETE FROM " + relation_, SPI_OK_DELETE);
        return;
    }
    // Declared by its columns' types, reading nothing of the table: a job's
    // chunk creates it outside its restricted context (exec_unrestricted).
    std::vector<std::string> types = to_vector(pg_guard(column_types_sql, reloid, static_cast<int>(colptrs.size()),
                                                        static_cast<const char *const *>(colptrs.data())));
    std::vector<std::string> defs;
    for (size_t i = 0; i < types.size(); ++i)
        defs.push_back(sql::key_col(i) + " " + types[i]);
    defs.push_back(std::string(sql::kVersion) + " pg_catalog.xid");
    defs.push_back(std::string(sql::kGeneration) + " pg_catalog.int4");
    std::string create = "CREATE TEMP TABLE " + sql::ident(name_) + " (" + sql::join(defs, ", ") + ")";
    pg_guard(exec_unrestricted, create.c_str());
    if (dedup_)
        exec_once("ALTER TABLE " + relation_ + " ADD PRIMARY KEY (" + sql::join(pk, ", ") + ")", SPI_OK_UTILITY);
    if (cyclic)
        exec_once("CREATE INDEX ON " + relation_ + " (" + sql::kGeneration + ")", SPI_OK_UTILITY);
}

class EphemeralKeys : public StoredKeys {
  public:
    EphemeralKeys(const Table &table, std::vector<std::string> cols, bool dedup, int table_index)
        : StoredKeys(table, std::move(cols), dedup) {
        one_shot_plans(true); // plans naming this call's ephemeral relations are not kept
        std::string name = "cascade_delete_keys_" + std::to_string(table_index);
        relation_ = sql::ident(name);
        std::string shape = "SELECT " + sql::key_cols_as(cols_, false) + ", 0::pg_catalog.int4 AS " +
                            sql::kGeneration + " FROM " + table_.from() + " t WHERE false";
        enr_ = pg_guard(register_key_set, name.c_str(), shape.c_str());
    }
    uint64 add(const std::string &query, const Params &p, Run) override {
        std::string names = columns(), select = "SELECT * FROM (" + query + ") s(" + names + ")";
        if (dedup_) {
            // what ON CONFLICT DO NOTHING does for a key table's primary key
            std::vector<std::string> on, same;
            for (size_t i = 0; i < table_.id_cols.size(); ++i) {
                on.push_back("s." + sql::key_col(i));
                same.push_back("d." + sql::key_col(i) + " " + table_.id_eqops[i] + " s." + sql::key_col(i));
            }
            select = "SELECT DISTINCT ON (" + sql::join(on, ", ") + ") s.* FROM (" + query + ") s(" + names +
                     ") WHERE NOT EXISTS (SELECT 1 FROM " + relation_ + " d WHERE " + sql::join(same, " AND ") +
                     ")";
        }
        uint64 n = pg_guard(append_to_key_set, enr_, select.c_str(), static_cast<int>(p.types.size()),
                            const_cast<Oid *>(p.types.data()), const_cast<Datum *>(p.values.data()),
                            p.nulls.data());
        rows_ += n;
        return n;
    }
    // The relation goes with the SPI connection; its tuplestore's
    // temporary files must be closed before the transaction commits. (After
    // an error, the abort closes them.)
    void release() override {
        pg_guard(end_key_set, enr_);
        one_shot_plans(false);
    }

  private:
    EphemeralNamedRelation enr_;
};

} // namespace

std::unique_ptr<KeySet> array_keys(const Table &table, std::vector<std::string> cols, std::vector<Datum> arrays,
                                   std::vector<Oid> array_types, uint64 rows) {
    return std::make_unique<ArrayKeys>(table, std::move(cols), std::move(arrays), std::move(array_types), rows);
}

std::unique_ptr<KeySet> key_table(const Table &table, std::vector<std::string> cols, bool dedup, bool cyclic) {
    return std::make_unique<KeyTable>(table, std::move(cols), dedup, cyclic);
}

std::unique_ptr<KeySet> ephemeral_keys(const Table &table, std::vector<std::string> cols, bool dedup,
                                       int table_index) {
    return std::make_unique<EphemeralKeys>(table, std::move(cols), dedup, table_index);
}

// ---- The call's key sets, as its statements name them.

std::string Cascade::key_col_list(int t) const { return sql::key_col_list(key_cols_[t].size()); }

std::string Cascade::source(int t, const std::string &q) const { return sql::source_cols(key_cols_[t], q); }

std::string Cascade::same_version(const std::string &x) const { return sql::same_version(x); }

std::string Cascade::identity(int t, const std::string &k, const std::string &prefix) const {
    return sql::identity(T(t), k, prefix);
}

std::string Cascade::keys(int t, const std::string &alias, Params *p, bool with_version) const {
    return key_sets_[t]->from(alias, p, with_version);
}

// A scalar-array comparison is one index scan (or a filter) where a join with
// unnest() is a nested loop over a hashed function scan: the cheaper plan to
// start for the few keys held as parameters. Only for one column compared
// with the same type, so that the operator read parent-to-child also reads
// child-to-parent.
std::string Cascade::any_match(const Edge &e, const std::string &c, Params *p) const {
    if (e.cols.size() != 1 || (!e.casts.empty() && !e.casts[0].empty()))
        return "";
    const auto &cols = key_cols_[e.parent];
    size_t j = std::find(cols.begin(), cols.end(), e.refcols[0]) - cols.begin();
    if (j >= cols.size())
        return "";
    Oid child_array = array_types(column_types(T(e.child).oid, e.cols))[0];
    std::string keys = key_sets_[e.parent]->column_array(j, child_array, p);
    if (keys.empty())
        return "";
    return c + "." + sql::ident(e.cols[0]) + " " + e.eqops[0] + " ANY (" + keys + ")" + e.filter(c);
}

std::string Cascade::tcol(int t, const std::string &src) const {
    const auto &cols = key_cols_[t];
    return sql::key_col(std::find(cols.begin(), cols.end(), src) - cols.begin());
}

// "p.c0 OP c.fk0 AND ...": parent keys (alias p) matched by child rows (alias c).
std::string Cascade::parent_match(const Edge &e, const std::string &p, const std::string &c) const {
    return sql::parent_match(e, key_cols_[e.parent], p, c);
}

// " AND NOT EXISTS (keys of t with the identity of row alias)", or "" when
// the cascade reaches no row of t. A table without keys of its own is deleted
// through its parent's: its rows matching them.
std::string Cascade::not_collected(int t, const std::string &alias, Params *p) const {
    if (!plan_->in_set[t])
        return "";
    if (!has_key_set(t)) {
        const Edge &e = m_.edges[virtual_edge_[t]];
        return " AND NOT EXISTS (SELECT 1 FROM " + keys(e.parent, sql::kCollected, p) + " WHERE " +
               parent_match(e, sql::kCollected, alias) + ")";
    }
    return sql::not_in_keys(T(t), keys(t, sql::kCollected, p), alias);
}

// " AND ...": row alias of t is not one the cascade deletes: not among its
// collected keys, or on Citus not matching its predicate (distributed.cpp;
// its parameters, the roots' keys, come first in p).
std::string Cascade::not_deleted(int t, const std::string &alias, Params *p) const {
    if (citus_)
        return plan_->in_set[t] ? " AND (" + citus_member(t, alias, 1) + ") IS NOT TRUE" : "";
    return not_collected(t, alias, p);
}

// Matched by the columns of t's identity (a partition's primary key has its
// partitioned ancestors' columns), compared with t's operators.
std::string Cascade::in_keys_of(int u, int t, const std::string &x, Params *p) const {
    return sql::in_other_keys(T(t), key_cols_[u], keys(u, sql::kOtherKeys, p), x);
}

// The key columns of each table of the set (identity first, then the columns
// its referencing tables' foreign keys point to), whichever kind keeps them.
void Cascade::prepare_keys() {
    size_t n = m_.tables.size();
    key_sets_.clear();
    key_sets_.resize(n);
    key_cols_.assign(n, {});
    collected_.assign(n, 0);
    deleted_.assign(n, 0);
    updated_.assign(n, 0);
    for (size_t t = 0; t < n; ++t) {
        if (!has_key_set(static_cast<int>(t)))
            continue;
        if (T(t).relkind == 'p' && !T(t).has_pk)
            throw make_error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                             "cascade_delete: partitioned table " + T(t).display +
                                 " has no primary key",
                             "Rows of a partitioned table are identified by its primary key.");
        key_cols_[t] = T(t).id_cols;
        for (int e : relevant_)
            if (m_.edges[e].parent == static_cast<int>(t))
                for (const auto &c : m_.edges[e].refcols)
                    if (std::find(key_cols_[t].begin(), key_cols_[t].end(), c) == key_cols_[t].end())
                        key_cols_[t].push_back(c);
    }
}

// Rows of t can be reached more than once (a cycle, or several CASCADE edges
// into t): its key set skips keys it holds. Elsewhere each row is reached
// once, and plain inserts into an unindexed table are about four times
// cheaper.
bool Cascade::reached_twice(int t) const { return in_cycle(t) || incoming_[t] > 1; }

// Key tables for a call that writes (a job's plan included: analyzed key
// tables plan far better than ephemeral relations at millions of keys),
// ephemeral relations for a dry run: one per table of the set that has keys
// of its own.
void Cascade::create_stored_key_sets() {
    for (size_t u = 0; u < m_.tables.size(); ++u) {
        int t = static_cast<int>(u);
        if (!has_key_set(t))
            continue;
        if (req_.dry_run && !req_.key_tables)
            key_sets_[t] = ephemeral_keys(T(t), key_cols_[t], reached_twice(t), t);
        else
            key_sets_[t] = key_table(T(t), key_cols_[t], reached_twice(t), in_cycle(t));
    }
}

void Cascade::release_key_sets() {
    for (auto &ks : key_sets_)
        if (ks)
            ks->release();
}

// Key tables whose table is gone (the name carries its OID), dropped when the
// model has been read again, which a dropped table of the model causes: a
// session that creates and drops tables would otherwise keep one key table
// per dropped table until it ends.
void drop_orphan_key_tables(unsigned long generation) {
    if (generation == session.orphans_checked || session.call_depth != 1 || pg_guard(pg::read_only))
        return;
    session.orphans_checked = generation;
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
        names.push_back(pg_guard(pg::value, r, 1));
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
        bool gone = pg_guard(get_rel_name, rel) == nullptr;
        if (!gone)
            continue;
        exec_once("DROP TABLE pg_temp." + sql::ident(name), SPI_OK_UTILITY);
        session.key_table_rows[name] = 1; // the DROP rolls back with the transaction
    }
}

} // namespace cd
