// Statement text: quoting, lists, and the aliases and column names every
// statement cascade_delete generates follows. PostgreSQL-free, so that
// test/unit checks it without a server; the statements themselves are built
// by the phases (collect, check, mutate, verify) from these pieces.
#pragma once

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

} // namespace cd::sql
