// The thresholds of the executor, each named once, with the reason for its
// value. The settings users change are GUCs (entry.cpp, README "Settings").
#pragma once

#include <cstddef>
#include <cstdint>

namespace cd::limits {

// A key set of at least this many rows is analyzed and joined as a table; a
// smaller one enters statements as unnest() of arrays, which the planner
// guesses small (it would guess an unanalyzed table at ten pages, over a
// thousand rows, and hash-join the whole referencing table).
inline constexpr std::uint64_t kAnalyzedKeySet = 1000;
// A key table filled with more rows than this is truncated at the end of the
// call (a new file, no dead rows); a smaller one is left for the next call's
// DELETE, which measured cheaper than ON COMMIT truncation.
inline constexpr std::uint64_t kTruncateAfterCall = 1000;
// A key table of more pages than this at the start of a call (a large set, or
// dead rows of failed calls, which nothing vacuums) is truncated, not emptied
// by DELETE: 1 MB.
inline constexpr long kTruncatePages = 128;
// Bytes one key takes in an in-memory hash table: a one-statement delete
// joins a key table only while its keys fit hash_mem (a spilling hash join
// measured slower than batches: 13.2 s against 8.6 s at 1,000,000 keys).
inline constexpr std::size_t kHashBytesPerKey = 64;
// Memory mode deletes up to this many rows of a table by "ctid = ANY (r)
// AND xmin = ANY (x)": one TID scan, but each row's xmin is compared with
// the keys' until one matches, all of them when every row was written by a
// transaction of its own (deleting 1,000 such rows took 5.7 ms, 2,000 took
// 19.7, 5,000 took 112); more by joining the (ctid, xmin) pairs, a TID scan
// per row (1.5 ms a 1,000 rows, 10 ms the 5,000). Bulk-loaded rows share an
// xmin, and the list is faster for them (0.8 ms a 1,000).
inline constexpr std::uint64_t kAddressList = 250;
// A job's chunk keeps its keys in memory (collect_keys) up to the most keys
// its runner gives a chunk (cascade_delete_run: 100,000).
inline constexpr std::uint64_t kChunkMemoryKeys = 100000;
// A job's plan estimates a leaf table's rows (count_leaf) below a parent
// with at least this many keys, from the rows below a sample of about
// kLeafSampleKeys of them: an index probe each, against reading the leaf.
inline constexpr std::uint64_t kEstimatedLeafKeys = 10000;
inline constexpr std::uint64_t kLeafSampleKeys = 1000;
// Keys of blocking rows named in an error's DETAIL and in a dry run's report.
inline constexpr int kBlockerSampleKeys = 10;
// Rows fetched per cursor round when a dry run fills an ephemeral key set.
inline constexpr long kEphemeralFetchRows = 1000;
// Prepared plans kept per backend before the cache is emptied (statements.cpp).
inline constexpr std::size_t kMaxKeptPlans = 2000;
// Deepest path the explain follows: each level is one more nested EXISTS in
// its statements, and PostgreSQL's parser and planner recurse on them
// (max_stack_depth); a deeper path ends with a note.
inline constexpr int kExplainMaxDepth = 50;

// On Citus (distributed.cpp) a table's rows are a predicate nested once per
// level of the longest path from the root, and repeated once per path: a
// deeper or larger one is refused up front rather than meeting PostgreSQL's
// stack depth limit, or a statement of gigabytes, halfway.
inline constexpr int kCitusMaxDepth = 50;
inline constexpr std::size_t kCitusMaxPredicateBytes = 1 << 20;
// A cascade with a cycle runs its statements once per tenant of the roots
// (router queries): more tenants than this in one call are refused.
inline constexpr std::uint64_t kCitusMaxTenantsPerCall = 1000;
// A cycle's rows are locked again until a pass finds no new row
// (lock_citus_rows): other transactions that keep adding rows under them
// for this many passes make the call fail with 40001 instead.
inline constexpr int kCitusMaxLockPasses = 20;

// Columns memory mode's collecting statement may return (every table's key
// columns, xmin and ctid, in one row): PostgreSQL allows 1,664 entries in a
// target list (MaxTupleAttributeNumber); a cascade over more tables (about
// 550 with one-column keys) uses key tables.
inline constexpr std::size_t kMemoryModeColumns = 1600;

} // namespace cd::limits
