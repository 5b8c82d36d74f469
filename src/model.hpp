// The table graph one cascade works on: tables, and edges read from the
// catalog's foreign keys and from the policy table.
#pragma once

#include "plan.hpp"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace cd {

struct Table {
    unsigned oid = 0;
    bool loaded = false;
    std::string nsp, rel;
    char relkind = 'r';
    // Row identity: the primary key columns, or {"ctid"} for a table without one.
    std::vector<std::string> id_cols;
    std::vector<unsigned> id_types;
    std::vector<std::string> id_eqops; // "OPERATOR(nsp.=)" per identity column
    bool has_pk = false;
    bool rls = false;            // row-level security enabled
    unsigned owner = 0;          // its owner's role: a referencing table's rows change as it (pg::statement_role)
    bool user_code = false;      // has rules or triggers of its own (not RI triggers)
    // Foreign keys whose PK-side RI triggers sit on this table (clones of a key
    // referencing a partitioned ancestor included): see Cascade::queues_nothing.
    unsigned referenced_by = 0;
    bool inheritance_children = false; // a plain table with INHERITS children
    std::vector<unsigned> partition_ancestors; // of a partition: its partitioned ancestors
    // Citus (distributed PostgreSQL; see distributed.cpp): 'h' a table
    // distributed by hash, 'r' a reference table, 'l' a coordinator-local
    // table in Citus's metadata, 's' a single-shard table (schema-based
    // sharding), 'o' one distributed by range or append; 0 for a table Citus
    // does not manage.
    char citus = 0;
    std::string citus_column;  // a distributed table's distribution column
    unsigned citus_group = 0;  // its co-location group

    std::string sql() const;     // "nsp"."rel"
    std::string from() const;    // ONLY "nsp"."rel" (no ONLY for partitioned tables)
    std::string display;         // nsp.rel quoted as regclass::text would
};

struct Edge {
    int parent = -1, child = -1;
    Action action = Action::NoAction;
    std::vector<std::string> cols;    // referencing columns (child)
    std::vector<std::string> refcols; // referenced columns (parent)
    std::vector<std::string> eqops;   // "parent_col OP child_col" operators
    std::vector<std::string> setcols; // columns SET_* changes (all cols if empty)
    std::string conname;              // the real constraint, if any
    unsigned conoid = 0;              // its OID
    Action own_action = Action::NoAction; // its own ON DELETE action (its RI trigger's), whatever a policy says
    bool policy = false;              // the action comes from a policy
    std::string value;                // SET(value), as text
    unsigned value_type = 0;          // type of the single column SET(value) sets
    // Per column: the type a parent value is cast to (through text) before
    // comparing, when the types have no operator (generic relations); or "".
    std::vector<std::string> casts;
    // A generic relation: " AND <alias>.col OPERATOR(..) 'value'::type" on the child.
    std::string filter_col, filter_op, filter_literal;
    bool parent_link = false;         // reversed edge of a parent_link policy
    // A partition-tree edge: rows deleted from parent (an ancestor or a
    // descendant of child in one partition tree) that are also rows of child.
    // Collected like a CASCADE, never deleted through child (see
    // add_partition_edges in catalog.cpp).
    bool partition = false;
    std::string stale;                // a policy whose columns are gone: the error to raise
    std::string stale_detail;         // and its DETAIL

    // "<p> OP <c>.col" for column i, p an expression for the parent's value.
    std::string match(size_t i, const std::string &p, const std::string &c) const;
    // The generic relation's condition on child alias c, or "".
    std::string filter(const std::string &c) const;

    std::string describe(const std::vector<Table> &tables) const; // for messages
};


// How the index probes (probe.cpp) reach a foreign key's referencing rows:
// the referencing table's btree index and, per index key, the referenced
// column and the comparison. Looked up on a key's first probe and kept with
// the graph, which is read again when an index is created or dropped.
struct ProbeIndex {
    static constexpr int kMaxKeys = 32; // PostgreSQL's INDEX_MAX_KEYS
    bool looked_up = false;
    unsigned index = 0; // 0: none is usable
    int nkeys = 0;
    struct Key {
        short parent_att;                 // the referenced column's number
        unsigned subtype, collation, proc; // the scan key's comparison
    } keys[kMaxKeys];
};

struct Model {
    std::vector<Table> tables;
    std::vector<Edge> edges;
    std::unordered_map<unsigned, int> index; // table oid -> position
    unsigned policy_table = 0;
    unsigned long generation = 0;        // counts the models this backend has read
    // By root table: the plan depends only on the edges. Shared: a call keeps
    // its plan while a nested call (from a trigger) may add a table, which
    // empties this map.
    std::unordered_map<int, std::shared_ptr<const Plan>> plans;
    std::unordered_map<unsigned, ProbeIndex> probe_indexes; // by foreign key (constraint oid)


    int table(unsigned oid); // position, adding an unloaded table if new
    // The plan of a cascade from table root, made once and kept in plans.
    std::shared_ptr<const Plan> plan_from(int root);
};

// Reads every foreign key and policy into a model. Must run inside an SPI
// connection. extschema is the extension's schema (holds the policy table).
Model load_model(const std::string &extschema);
// The model of this backend, read again after any change to the tables in it,
// their constraints, schemas or operators, or the policies (see
// register_model_invalidation). Tables' details are filled in as calls need
// them. A call keeps its shared_ptr, so a rebuild never frees a model in use.
std::shared_ptr<Model> cached_model();
// From _PG_init: the callbacks that mark the cached model stale.
void register_model_invalidation();
// Fills in names and the row identity of table t.
void load_table(Model &m, int t);

} // namespace cd

