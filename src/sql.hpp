// Statement text: quoting, lists, and the aliases and column names every
// statement cascade_delete generates follows. PostgreSQL-free, so that
// test/unit checks it without a server; the statements themselves are built
// by the phases (collect, check, mutate, verify) from these pieces.
#pragma once

#include "model.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace cd::sql {

// Aliases, the same in every statement.
inline constexpr const char *kRow = "t";         // the row read, changed or deleted
inline constexpr const char *kParentKeys = "p";  // the referenced table's keys, matched by an edge
inline constexpr const char *kKeys = "k";        // the keys a statement changes or deletes rows by
inline constexpr const char *kCollected = "d";   // a table's own keys, in NOT EXISTS
inline constexpr const char *kReferenced = "q";  // a referenced table's row (a dry run's checks)
inline constexpr const char *kOtherKeys = "y";   // another table's keys
inline constexpr const char *kKeySetRow = "x";   // a key set's row, counted on its own

// Columns of a key set (key table, ephemeral relation, or arrays in memory mode).
std::string key_col(std::size_t i);                 // "c<i>": key column i, the identity first
inline constexpr const char *kVersion = "x";        // the collected row version's xmin
inline constexpr const char *kTid = "r";            // its ctid (memory mode)
inline constexpr const char *kGeneration = "gen";   // the fixpoint round that added the row
// Columns of keys passed as array parameters and unnested.
std::string param_col(std::size_t i);               // "k<i>"

std::string ident(const std::string &name);         // always quoted: "na""me"
std::string qualified(const std::string &nsp, const std::string &rel); // "nsp"."rel"
std::string join(const std::vector<std::string> &items, const std::string &sep);
std::string param(std::size_t n);                   // "$n"

// "ROWS FROM (arrays[0], ...) AS alias(names[0], ...)": arrays unnested side
// by side, so that their i-th elements make one row.
std::string rows_from(const std::vector<std::string> &arrays, const std::string &alias,
                      const std::vector<std::string> &names);
// "pg_catalog.unnest(expr)"
std::string unnest(const std::string &expr);
// n key columns passed as array parameters $first.. :
// "ROWS FROM (pg_catalog.unnest($first), ...) AS k(k0, ...)".
std::string param_rows(std::size_t n, std::size_t first = 1);

// ---- The statements' parts that involve tables, edges and key sets.

// Key set columns: "c0, c1, ..., x" for n key columns.
std::string key_col_list(std::size_t n);
// A row's key set columns as read from it: "row."a", row."b", row.xmin".
std::string source_cols(const std::vector<std::string> &cols, const std::string &row);
// The same, named as a key set names them: "t."a" AS c0, ..., t.xmin AS x"
// (and ", t.ctid AS r" with_tid, memory mode).
std::string key_cols_as(const std::vector<std::string> &cols, bool with_tid);
// " AND t.xmin OPERATOR(pg_catalog.=) k.<version>": the row is still the version
// that was collected.
std::string same_version(const std::string &version);
// t's identity columns as read from a row: "row."id", row."b"".
std::vector<std::string> identity_cols(const Table &t, const std::string &row);
// "SELECT <key>::pg_catalog.text<from_where> ORDER BY <cols>": the keys cols name (one
// column, or a ROW of them for a composite key) as text, in key order.
std::string select_keys_as_text(const std::vector<std::string> &cols, const std::string &from_where);
// "t."id" OP keys.<prefix>0 AND ...": t's rows whose identity is in keys.
std::string identity(const Table &t, const std::string &keys, const std::string &prefix);
// "p.c<j> OP row."fk" AND ...": rows of e's child (alias row) referencing the
// parent keys (alias parent_keys, whose columns are parent_key_cols), with a
// generic relation's condition.
std::string parent_match(const Edge &e, const std::vector<std::string> &parent_key_cols,
                         const std::string &parent_keys, const std::string &row);
// "p.\"id\" OP row.\"fk\" AND ...": rows of e's child (alias row) referencing the
// row parent_row of e's parent table itself (not a key set), with a generic
// relation's condition.
std::string row_match(const Edge &e, const std::string &parent_row, const std::string &row);
// "EXISTS (SELECT 1 FROM <keys> WHERE d.c0 OP row."id" ...)": row is among
// t's keys, which keys (a FROM item aliased d) reads.
std::string in_keys(const Table &t, const std::string &keys, const std::string &row);
// " AND NOT EXISTS (SELECT 1 FROM <keys> WHERE d.c0 OP row."id" ...)": row is not
// among t's keys, which keys (a FROM item aliased d) reads.
std::string not_in_keys(const Table &t, const std::string &keys, const std::string &row);
// "EXISTS (SELECT 1 FROM <keys> WHERE y.c<j> OP row.c<i> ...)": t's key-set
// row (alias row) is among the rows of another key set (a FROM item aliased
// y, whose columns are key_cols), matched by the columns of t's identity;
// "false" when that key set lacks one of them.
std::string in_other_keys(const Table &t, const std::vector<std::string> &key_cols, const std::string &keys,
                          const std::string &row);
// A key set read as unnest() of arrays aggregated from it (each ordered by the
// identity, so that they line up): columns c0.., and x when with_version.
std::string key_set_as_arrays(const std::string &key_set, std::size_t ncols, std::size_t nid,
                              const std::string &alias, bool with_version);
// Key columns passed as array parameters (params[i] for c<i>, the last for x).
std::string params_as_keys(const std::vector<std::string> &params, const std::string &alias);

} // namespace cd::sql
