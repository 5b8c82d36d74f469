// The state of one cascade_delete call and its phases. Each phase is defined
// in its own file: key_sets.cpp (where keys live), collect.cpp, check.cpp,
// mutate.cpp, verify.cpp, report.cpp; executor.cpp runs them in order.
#pragma once

#include "cascade.hpp"
#include "key_sets.hpp"
#include "model.hpp"
#include "pgutil.hpp"
#include "statements.hpp"

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace cd {

// While alive, the statements cascade_delete runs (pg::exec, pg::exec_plan)
// go as role (InvalidOid: as the caller); see Cascade::changing_role.
class StatementRole {
  public:
    explicit StatementRole(Oid role) : saved_(pg::statement_role) { pg::statement_role = role; }
    ~StatementRole() { pg::statement_role = saved_; }
    StatementRole(const StatementRole &) = delete;
    StatementRole &operator=(const StatementRole &) = delete;

  private:
    Oid saved_;
};

struct Blocker {
    int edge;
    uint64 count;
    std::vector<std::string> keys;
};

class Cascade {
  public:
    Cascade(const Request &req, std::shared_ptr<Model> model) : req_(req), model_(model), m_(*model) {}
    // The call; its report (jsonb) is allocated in result_cxt.
    Datum run(MemoryContext result_cxt);
    // A dry run's phases, then the paths of the cascade (explain.cpp).
    std::vector<ExplainRow> explain(const ExplainOptions &options);
    // A dry run's phases, then the keys of the rows it would delete (explain.cpp).
    std::vector<DeletedKey> deleted_keys(const std::vector<unsigned> *tables);
    // A dry run's phases, then the keys a chunked job deletes by, saved under
    // job (job_plan.cpp); returns the dry run's report.
    Datum plan_job(int64 job, MemoryContext result_cxt);

  private:
    // The phases' entry points, in the order run() calls them.
    void refuse_in_read_only() const;
    void setup();
    void collect_keys();
    void release_key_sets();
    // The caller's keys: an array per primary key column, of its type.
    std::vector<Datum> root_key_arrays() const;
    void add_root_keys(Params *p) const; // root_key_arrays() as parameters
    const Request &req_;
    std::shared_ptr<Model> model_; // keeps the cached model alive during the call
    Model &m_;
    std::shared_ptr<const Plan> plan_; // the root's plan, as the model keeps it
    int root_ = -1;
    // Per table: its key set (key_sets.hpp; null for tables without keys of
    // their own), and the columns a key set keeps (its identity first, then
    // the columns referencing tables' keys point to).
    std::vector<std::unique_ptr<KeySet>> key_sets_;
    std::vector<std::vector<std::string>> key_cols_;
    // Rows per table: reached (the report's "collected"; a table without keys
    // of its own is counted where the count is needed), deleted, updated.
    std::vector<uint64> collected_, deleted_, updated_;
    std::vector<int> relevant_; // edges from a table of the set, other than DO_NOTHING
    // virtual_edge_[t] >= 0: t is a leaf reached by that one CASCADE edge and
    // nobody needs its keys, so it gets no key table and is deleted straight
    // from its parent's keys.
    std::vector<int> virtual_edge_;
    // estimated_[t]: a job's plan estimated t's rows from a sample
    // (count_leaf), and its report says so.
    std::vector<char> estimated_;
    bool has_key_set(int t) const { return plan_->in_set[t] && virtual_edge_[t] < 0; }
    std::vector<int> incoming_; // relevant CASCADE edges into each table
    // partition_only_[t]: t is reached only through partition-tree edges: its
    // keys are rows deleted through another table of its tree, collected for
    // the keys and policies that reference t, never deleted or counted as t's.
    std::vector<char> partition_only_;
    bool deletes_from(int t) const { return plan_->in_set[t] && !partition_only_[t]; }
    // Two tables of one partition tree, one an ancestor of the other, can hold
    // the same row in their key sets (the root's rows reached again through a
    // key to the tree): the one deleted first takes it.
    bool same_tree(int a, int b) const;
    std::vector<int> delete_rank_; // position of each table in the deletion order
    std::vector<int> component_;   // each table's component in plan_ (-1 outside the set)
    bool in_cycle(int t) const { return component_[t] >= 0 && plan_->cyclic[component_[t]]; }
    std::vector<int> deleted_before(int t, bool same_component_only) const;
    // "EXISTS (a row of u's keys with the identity of alias x, of t's keys)", or "".
    std::string in_keys_of(int u, int t, const std::string &x, Params *p) const;
    void discount_rows_deleted_earlier();
    void check_inheritance_children();
    bool reached_twice(int t) const;
    std::vector<Blocker> blocked_;
    const Table &T(int t) const { return m_.tables[t]; }
    // Who changes rows (PostgreSQL's RI model): the caller the root's, each
    // referencing table's owner its own. changing_role(t): the role the
    // statements changing t's rows run as (InvalidOid: the caller), allowed
    // to read this call's key tables; of several tables, their one role, or
    // *mixed when they have several.
    Oid caller_ = InvalidOid;
    Oid designated_role(int t) const;
    Oid statement_role(const std::vector<int> &tables, bool privileged_only, bool *refused) const;
    Oid changing_role(Oid role);
    void check_changing_rights() const;
    std::string tcol(int t, const std::string &src) const;
    // t's collected keys as a FROM item with columns c0, c1, ... (and x, see
    // KeySet::from); parameters go to p.
    std::string keys(int t, const std::string &alias, Params *p, bool with_version = false) const;
    std::string key_col_list(int t) const;                      // c0, c1, ...
    // " AND t.xmin = k.<x>": the row is still the version that was collected.
    std::string same_version(const std::string &x) const;
    // "t.col OP ANY ($n)" for e's child rows referencing keys held as array
    // parameters, when e has one column of the key's own type; else "".
    std::string any_match(const Edge &e, const std::string &c, Params *p) const;
    // "t.id0 OP k.<prefix>0 AND ...": t's rows whose identity is in k
    std::string identity(int t, const std::string &k, const std::string &prefix) const;
    std::string source(int t, const std::string &q) const;   // q.col0, q.col1, ...
    std::string parent_match(const Edge &e, const std::string &p, const std::string &c) const;
    std::string not_collected(int t, const std::string &alias, Params *p) const;
    std::string not_deleted(int t, const std::string &alias, Params *p) const;
    void find_virtual_tables();
    uint64 count_referencing(const Edge &e, bool survivors_only);
    uint64 count_leaf(const Edge &e);
    void prepare_keys();
    bool memory_mode_possible() const;
    int self_reference(int component) const;
    bool collect_in_memory(uint64 limit);
    void create_stored_key_sets();
    void collect_roots();
    void check_condition() const;
    void collect();
    void component_collected(const std::vector<int> &comp);
    void for_each_blocking_edge(const std::function<void(int, bool)> &check) const;
    void check_blockers();
    void check_hidden_rows();
    Blocker find_blocker(int ei, const std::string &where, const Params &p, bool once = false);
    uint64 count_rows(const std::string &from_where, const Params &p, bool once);
    std::vector<std::string> sample_keys(const Table &t, const std::string &from_where, const Params &p,
                                         size_t limit, bool once) const;
    void refuse_or_record(Blocker b, bool protect);
    void predict_update_refusals();
    void check_max_rows(bool *exceeded);
    void run_updates();
    void run_deletes();
    // The delete strategies (mutate.cpp), one function each.
    struct DeleteTarget;
    std::string delete_match(const DeleteTarget &d, bool arrays) const;
    uint64 delete_joining_key_table(const DeleteTarget &d);
    uint64 delete_in_one_batch(const DeleteTarget &d);
    uint64 delete_in_batches(const DeleteTarget &d);
    void delete_cycle(const std::vector<int> &comp);
    std::vector<int> cycle_tables(const std::vector<int> &comp) const; // the ones it deletes from
    bool delete_in_one_statement();
    void delete_together(const std::vector<int> &tables, const std::vector<std::string> &deletes,
                         const Params &p, bool generic);
    void bypass_for(int t, std::vector<Oid> *rels, std::vector<Oid> *cons);
    bool queues_nothing(int t, size_t bypassed) const;
    void post_check();
    // The error of a post-check that found a row of edge's child referencing
    // a deleted row: found 1 this transaction's row, 2 another's (40001), 3
    // an older row a BEFORE DELETE trigger kept.
    Error post_check_failure(int edge, int found) const;
    // The call by index probes (probe.cpp), when its cascade allows.
    bool probes_apply() const;
    bool delete_by_probes();
    // The call on Citus (distributed.cpp): statements pushed down to the
    // workers, when the cascade reaches a table Citus manages.
    std::vector<int> touched_tables() const;
    bool on_citus();
    void refuse_on_citus(const char *what) const; // what: an entry point not served on Citus
    std::string citus_shards(int t, const std::string &a) const;
    std::string citus_member(int t, const std::string &a, int depth) const;
    std::string citus_referencing(const Edge &e, const std::string &c, int depth) const;
    std::string citus_referencing_rows(const Edge &e, const std::string &c) const;
    std::vector<std::string> citus_entries(int t, const std::string &a, int depth) const;
    std::string citus_component(int t, const std::string &a, int depth) const;
    bool citus_recursive(int t) const;
    void find_citus_inner_edges();
    std::vector<std::vector<int>> citus_inner_; // per component: its CASCADE edges within it
    bool citus_cycle() const;
    void find_citus_tenant();
    void citus_root_keys();
    std::string citus_roots(const std::string &a) const;
    std::string citus_reached_through(const std::vector<int> &path, const std::string &a) const;
    Datum run_on_citus(MemoryContext result_cxt);
    bool citus_phases();
    bool citus_ = false;  // this call runs on Citus: the checks use its predicates
    Params citus_keys_;   // the roots' keys, $1..$n of every statement on Citus
    // "OP $m": the roots' one distribution value; with roots in several
    // tenants and no cycle "OP ANY ($m)", their values (a copy of the key
    // column's array, which lock_citus_rows swaps for one shard group's).
    std::string citus_tenant_;
    bool citus_tenant_array_ = false; // citus_tenant_ is "OP ANY ($m)"
    int citus_tenant_col_ = -1; // the root's key column that is its distribution column
    // Roots in several tenants with a cycle: each statement runs once per
    // tenant, its value as $m (for_each_tenant).
    std::vector<Datum> citus_tenants_;
    int citus_tenant_param_ = -1; // m - 1
    void for_each_tenant(const Params &p, const std::function<void(const Params &)> &f) const;
    void for_each_value_of_m(const Params &p, const std::vector<Datum> &values,
                             const std::function<void(const Params &)> &f) const;
    uint64 exec_each_tenant(const std::string &sql, int rc, const Params &p) const;
    bool citus_keys_in_order() const;
    void lock_policy_children(std::vector<int> also = {});
    void lock_tables(std::vector<int> tables);
    std::vector<char> citus_rows_to_lock(std::vector<int> *whole);
    void lock_citus_rows(const std::vector<char> &locked);
    std::vector<Datum> citus_shard_groups();
    uint64 changed_rows(int t);
    std::vector<int> bypassed_; // edges whose RI triggers the deletes left out
    // ... of which those whose child went in a statement after its parent
    // (leaves_after_parents): nothing is left to check
    std::vector<int> deleted_after_parent_;
    bool leaves_after_parents(int t) const;
    bool delete_chunk_by_keys();
    std::string root_keys_match(Params *p) const;
    std::string key_set_arrays(int t, const std::string &from) const;
    std::string leaf_delete(int t, Params *p) const;
    void save_keys(int t, int64 job, const std::string &schema, bool counted);
    void save_keys_on_citus(int t, int64 job, const std::string &schema, bool counted);
    void delete_table(int t, size_t hash_keys);
    std::vector<int> rechecked_; // policy-only edges checked again (lock_policy_tables)
    Datum report(bool max_rows_exceeded, MemoryContext result_cxt) const;
    // The explain's walk over the paths (explain.cpp).
    struct PathNode;
    std::string is_root(const std::string &row, Params *p) const;
    std::string reached_through(const std::vector<int> &path, Params *p) const;
    void count_path(PathNode *n, int samples);
    std::string path_note(const PathNode &n) const;
    std::string deleted_rows(int t, Params *p, std::vector<std::string> *cols) const;
};

// cascade_delete_graph's text from model m (explain.cpp; see run_graph).
std::string graph_text(Model &m, unsigned target, const std::string &format, Datum counts);

// Runs a kept plan with the RI triggers of rels / cons left out (see ri_bypass).
uint64 exec_bypassing(SPIPlanPtr plan, const std::string &sql, const Params &p,
                      const std::vector<Oid> &rels, const std::vector<Oid> &cons, int rc);

} // namespace cd
