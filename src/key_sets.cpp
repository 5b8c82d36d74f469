// Where a call keeps the keys of the rows it collects: the columns of each
// table's key set, key tables (temporary tables kept for the session),
// ephemeral named relations (dry runs), arrays in memory mode; and the
// FROM items and conditions that read them.
#include "cascade_call.hpp"
#include "session.hpp"
#include "limits.hpp"
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

// Every key set also keeps x, the collected row version's xmin: a delete
// takes only that version (see changed_rows()).
std::string Cascade::key_col_list(int t) const { return sql::key_col_list(key_cols_[t].size()); }

std::string Cascade::source(int t, const std::string &q) const { return sql::source_cols(key_cols_[t], q); }

std::string Cascade::same_version(const std::string &x) const { return sql::same_version(x); }

std::string Cascade::identity(int t, const std::string &k, const std::string &prefix) const {
    return sql::identity(T(t), k, prefix);
}

// Memory mode also keeps r, the version's ctid, for deletes by TID scan.
std::string Cascade::aliased(int t) const { return sql::key_cols_as(key_cols_[t], mem_); }

// t's collected keys as unnest() of arrays, a FROM item with columns c0, c1,
// ...; with x only where a delete needs the row versions (one array less).
std::string Cascade::key_arrays_of(int t, const std::string &alias, bool with_x) const {
    return sql::key_set_as_arrays(key_set_[t], key_cols_[t].size(), T(t).id_cols.size(), alias, with_x);
}

// t's collected keys as a FROM item with columns c0, c1, ... A small key
// table has no statistics, and the planner would guess it at ten pages (over a
// thousand rows) and hash-join the whole referencing table; as unnest() of
// arrays it is guessed small and probed through indexes. A large one has been
// analyzed and is joined as it is.
std::string Cascade::keys(int t, const std::string &alias, Params *p) const {
    if (!mem_)
        return collected_[t] >= limits::kAnalyzedKeySet ? key_set_[t] + " " + alias : key_arrays_of(t, alias);
    std::vector<std::string> params;
    for (size_t i = 0; i <= key_cols_[t].size(); ++i) // key columns, then x
        params.push_back(arr_param(t, i, p));
    return sql::params_as_keys(params, alias);
}

// A scalar-array comparison is one index scan (or a filter) where a join with
// unnest() is a nested loop over a hashed function scan: the cheaper plan to
// start for the few keys memory mode holds. Only for one column compared with
// the same type, so that the operator read parent-to-child also reads
// child-to-parent.
std::string Cascade::any_match(const Edge &e, const std::string &c, Params *p) const {
    if (!mem_ || e.cols.size() != 1 || (!e.casts.empty() && !e.casts[0].empty()))
        return "";
    const auto &cols = key_cols_[e.parent];
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
    const auto &cols = key_cols_[t];
    auto it = std::find(cols.begin(), cols.end(), src);
    return "c" + std::to_string(it - cols.begin());
}

// "p.c0 OP c.fk0 AND ...": parent keys (alias p) matched by child rows (alias c).
std::string Cascade::parent_match(const Edge &e, const std::string &p, const std::string &c) const {
    return sql::parent_match(e, key_cols_[e.parent], p, c);
}

// " AND NOT EXISTS (keys of t with the identity of row alias)", or "" when t
// has no keys.
std::string Cascade::not_collected(int t, const std::string &alias, Params *p) const {
    if (!plan_.in_set[t])
        return "";
    return sql::not_in_keys(T(t), keys(t, sql::kCollected, p), alias);
}

// Matched by the columns of t's identity (a partition's primary key has its
// partitioned ancestors' columns), compared with t's operators.
std::string Cascade::in_keys_of(int u, int t, const std::string &x, Params *p) const {
    return sql::in_other_keys(T(t), key_cols_[u], keys(u, sql::kOtherKeys, p), x);
}

// The key columns of each table of the set (identity first, then the columns
// its referencing tables' foreign keys point to), whichever mode keeps them.
void Cascade::prepare_keys() {
    size_t n = m_.tables.size();
    key_set_.assign(n, "");
    key_table_name_.assign(n, "");
    key_cols_.assign(n, {});
    collected_.assign(n, 0);
    deleted_.assign(n, 0);
    updated_.assign(n, 0);
    dedup_.assign(n, 0);
    for (size_t t = 0; t < n; ++t)
        dedup_[t] = in_cycle(static_cast<int>(t)) || incoming_[t] > 1;
    for (size_t t = 0; t < n; ++t) {
        if (!plan_.in_set[t] || virtual_edge_[t] >= 0)
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

// Key tables: one per table of the set that needs its keys, created once per
// session and emptied for each call that uses it.
void Cascade::create_key_tables() {
    size_t n = m_.tables.size();
    for (size_t t = 0; t < n; ++t) {
        if (!plan_.in_set[t] || virtual_edge_[t] >= 0)
            continue;
        bool cyclic = in_cycle(static_cast<int>(t));
        std::string select = aliased(static_cast<int>(t)) + ", ", pk;
        for (size_t i = 0; i < T(t).id_cols.size(); ++i)
            pk += std::string(i ? ", " : "") + "c" + std::to_string(i);
        // Key tables live for the session and are reused (empty at the start
        // of every call): creating and dropping them per call would churn the
        // catalog. The name carries what the table's shape depends on.
        std::vector<const char *> colptrs;
        for (const auto &c : key_cols_[t])
            colptrs.push_back(c.c_str());
        Oid reloid = T(t).oid;
        std::string shape = select + pk + (dedup_[t] ? "u" : "") + (cyclic ? "g" : "") +
                            pg_guard(column_signature, reloid, static_cast<int>(colptrs.size()),
                                     static_cast<const char *const *>(colptrs.data()));
        char hash[17];
        snprintf(hash, sizeof(hash), "%016zx", std::hash<std::string>{}(shape));
        std::string name = "cascade_delete_" + std::to_string(session.call_depth) + "_" +
                           std::to_string(T(t).oid) + "_" + hash;
        key_set_[t] = "pg_temp." + sql::ident(name);
        key_table_name_[t] = name;
        // Its size in pages, or -1 if it does not exist (yet, or after DISCARD TEMP).
        long pages = pg_guard(pg::temp_table_pages, name.c_str());
        if (pages >= 0) {
            // Over 1 MB (a large set, or dead rows of failed calls, which
            // nothing vacuums): TRUNCATE, a new file. Else DELETE what an
            // earlier call left.
            auto it = session.key_table_rows.find(name);
            if (pages > limits::kTruncatePages)
                exec_once("TRUNCATE " + key_set_[t], SPI_OK_UTILITY);
            else if (it != session.key_table_rows.end() && it->second > 0)
                exec("DELETE FROM " + key_set_[t], SPI_OK_DELETE);
            continue;
        }
        exec_once("CREATE TEMP TABLE " + sql::ident(name) + " AS SELECT " + select +
                 "0::pg_catalog.int4 AS gen FROM " + T(t).from() + " t WITH NO DATA",
             SPI_OK_UTILITY);
        if (dedup_[t])
            exec_once("ALTER TABLE " + key_set_[t] + " ADD PRIMARY KEY (" + pk + ")", SPI_OK_UTILITY);
        if (cyclic)
            exec_once("CREATE INDEX ON " + key_set_[t] + " (gen)", SPI_OK_UTILITY);
    }
}

// At the end of a successful call: ephemeral relations go with the SPI
// connection; key tables are left for the next call to clear (see Session).
void Cascade::release_key_sets() {
    if (ephemeral_)
        one_shot_plans(false);
    else if (!mem_)
        note_key_table_rows();
}

// Remembers which key tables this call filled (Session::key_table_rows).
void Cascade::note_key_table_rows() {
    for (size_t t = 0; t < key_set_.size(); ++t) {
        if (key_set_[t].empty() || collected_[t] == 0)
            continue;
        if (collected_[t] > limits::kTruncateAfterCall) {
            // Large: give the space back now (a new file, no dead rows).
            exec_once("TRUNCATE " + key_set_[t], SPI_OK_UTILITY);
            session.key_table_rows[key_table_name_[t]] = 1;
        } else
            session.key_table_rows[key_table_name_[t]] = collected_[t];
    }
}

// Statistics for a key table that holds many rows, so that the statements
// joining it are planned from its real size (a new key table has none).
void Cascade::analyze_if_large(int t) {
    if (!ephemeral_ && !key_set_[t].empty() && collected_[t] >= limits::kAnalyzedKeySet)
        exec_once("ANALYZE " + key_set_[t], SPI_OK_UTILITY);
}

uint64 Cascade::store_keys(int t, const std::string &query, const Params &p, Run how) {
    if (!ephemeral_) {
        std::string query_text = "INSERT INTO " + key_set_[t] + " (" + key_col_list(t) + ", gen) " + query + conflict(t);
        if (how == Run::Once)
            return exec_once(query_text, SPI_OK_INSERT);
        return exec(query_text, SPI_OK_INSERT, p, how == Run::KeptGeneric);
    }
    std::string names = key_col_list(t) + ", gen", query_text = "SELECT * FROM (" + query + ") s(" + names + ")";
    if (dedup_[t]) {
        // what ON CONFLICT DO NOTHING does for a key table's primary key
        std::string on, same;
        for (size_t i = 0; i < T(t).id_cols.size(); ++i) {
            on += std::string(i ? ", " : "") + "s.c" + std::to_string(i);
            same += std::string(i ? " AND " : "") + "d.c" + std::to_string(i) + " " + T(t).id_eqops[i] +
                    " s.c" + std::to_string(i);
        }
        query_text = "SELECT DISTINCT ON (" + on + ") s.* FROM (" + query + ") s(" + names +
              ") WHERE NOT EXISTS (SELECT 1 FROM " + key_set_[t] + " d WHERE " + same + ")";
    }
    return pg_guard(append_to_key_set, enr_[t], query_text.c_str(), static_cast<int>(p.types.size()),
                    const_cast<Oid *>(p.types.data()), const_cast<Datum *>(p.values.data()), p.nulls.data());
}

// One ephemeral named relation per table that needs keys, with a key table's
// columns (c0, c1, ..., x, gen), registered with this call's SPI connection
// and freed with it.
void Cascade::create_ephemeral_key_sets() {
    size_t n = m_.tables.size();
    enr_.assign(n, nullptr);
    for (size_t t = 0; t < n; ++t) {
        if (!plan_.in_set[t] || virtual_edge_[t] >= 0)
            continue;
        std::string name = "cascade_delete_keys_" + std::to_string(t);
        key_set_[t] = sql::ident(name);
        std::string shape = "SELECT " + aliased(static_cast<int>(t)) + ", 0::pg_catalog.int4 AS gen FROM " +
                            T(t).from() + " t WHERE false";
        enr_[t] = pg_guard(register_key_set, name.c_str(), shape.c_str());
    }
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
