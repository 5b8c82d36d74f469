// Where a call keeps the keys of the rows it collects: one KeySet per table
// that has keys of its own, of one kind chosen once per call (collect_keys()):
//
//   memory mode   arrays (one per key column, then x and r), passed to
//                 statements as parameters; nothing is written
//   key table     a temporary table kept for the session, emptied per call
//   ephemeral     a dry run's tuplestore, read by name like a trigger's
//                 transition table (works in a read-only transaction)
//
// A table without keys of its own (Cascade::virtual_edge_: a leaf reached by
// one CASCADE edge) has none: its rows are deleted through its parent's keys.
// The phases ask a KeySet for FROM items, parameters and relation names; none
// asks which kind it is. Every key set has the columns c0, c1, ... (the
// table's identity first, then the columns referencing keys point to), x (the
// collected row version's xmin) and, where stored, gen (the fixpoint round).
#pragma once

#include "model.hpp"
#include "statements.hpp"

#include <memory>
#include <string>
#include <vector>

namespace cd {

// How add() runs its statement: a kept plan (custom or generic), or once.
enum class Run { Kept, KeptGeneric, Once };

class KeySet {
  public:
    KeySet(const Table &table, std::vector<std::string> cols) : table_(table), cols_(std::move(cols)) {}
    virtual ~KeySet() = default;
    KeySet(const KeySet &) = delete;
    KeySet &operator=(const KeySet &) = delete;

    const std::vector<std::string> &cols() const { return cols_; }
    uint64 rows() const { return rows_; }

    // Adds the rows of query (columns c0.., x, gen); returns how many were new.
    virtual uint64 add(const std::string &query, const Params &p, Run how) = 0;
    // The keys as a FROM item aliased alias, with columns c0, c1, ... and x
    // (x may be left out unless with_version). Parameters go to p.
    virtual std::string from(const std::string &alias, Params *p, bool with_version = false) const = 0;
    // The relation holding the keys, for statements that read it by name
    // (fixpoint rounds, cursors over batches, a join planned from its
    // statistics); "" when the keys are parameters.
    virtual std::string relation() const { return ""; }
    // Key column j as one array parameter of type array_type ("$n", for
    // "col = ANY ($n)"); "" when the keys are not parameters of that type.
    virtual std::string column_array(size_t j, Oid array_type, Params *p) const;
    // The collected row versions by address: a condition on row, and in
    // *from a FROM item it joins ("" when none); "" when their addresses are
    // not kept.
    virtual std::string by_address(const std::string &row, Params *p, std::string *from) const;
    // All rows of its component are in: statistics, when there are many.
    virtual void collected() {}
    // The call succeeded; what the next call of the session needs to know.
    virtual void release() {}
    // Lets role read the keys: a statement that changes a referencing
    // table's rows runs as its owner (pg::statement_role) and reads them.
    virtual void let_read(Oid role) {}

  protected:
    const Table &table_;
    std::vector<std::string> cols_;
    uint64 rows_ = 0;
};

// Memory mode's key set: the arrays of one row of a collecting statement's
// result (key columns, x, r), allocated in the SPI procedure context.
std::unique_ptr<KeySet> array_keys(const Table &table, std::vector<std::string> cols, std::vector<Datum> arrays,
                                   std::vector<Oid> array_types, uint64 rows);
// A key table: created once per session and shape, emptied for the call.
// dedup: rows can be reached more than once, so it has a primary key and adds
// skip keys it holds; cyclic: gen is indexed for the fixpoint rounds.
std::unique_ptr<KeySet> key_table(const Table &table, std::vector<std::string> cols, bool dedup, bool cyclic);
// A dry run's key set: an ephemeral named relation registered with the call's
// SPI connection (plans naming it are not kept; see one_shot_plans()).
std::unique_ptr<KeySet> ephemeral_keys(const Table &table, std::vector<std::string> cols, bool dedup,
                                       int table_index);

// Drops the key tables of tables dropped since the model was last read.
void drop_orphan_key_tables(unsigned long generation);

} // namespace cd
