// The cascade run: one call of cascade_delete / _many / _where.
#pragma once

#include "boundary.hpp"

#include <string>
#include <vector>

namespace cd {

struct Request {
    unsigned target = 0;
    bool dry_run = false;
    bool where = false;        // roots chosen by a WHERE condition
    std::string condition;     // the condition, when where
    bool many = false;         // key is an array of keys
    bool refuse_blocked = false; // a dry run that raises a blocker's error as the delete would
    bool key_tables = false;     // a dry run that may keep keys in key tables (a job's plan: it writes)
    bool job_chunk = false;      // a job's chunk: leaves may go after their parents (leaves_after_parents)
    Datum key = 0;             // the key(s), when !where
    unsigned key_type = 0;     // type of key
};

// Settings (GUCs, defined in entry.cpp).
extern int batch_size;
extern int max_rows;
extern bool fast_path;
extern bool lock_policy_tables;
extern int memory_keys;
extern int probe_rows;
extern int background_runners_per_role;
extern bool progress;

// Runs the cascade (or its dry run) and returns the report, a jsonb Datum in
// the caller's memory context.
Datum run_cascade(const Request &req);

// One row of cascade_delete_explain: a path from the roots (see explain.cpp).
struct ExplainRow {
    int path = 0, parent_path = 0; // numbered from 1; parent_path 0: none (the roots)
    int depth = 0;
    unsigned table = 0;            // 0: none (the row saying the tree was cut short)
    std::string via;               // the constraint's name, or "" (a policy, the roots)
    std::vector<std::string> columns;
    std::string action, kind;      // "" for the roots' action
    bool has_rows = false;
    uint64 rows = 0, table_rows = 0;
    bool has_table_rows = false;
    std::vector<std::string> sample_keys;
    std::string note;
    std::string tree;              // the row as a line of an indented tree
};

// One row of cascade_delete_keys: a row the delete would delete.
struct DeletedKey {
    unsigned table = 0;
    std::string key;     // its primary key as text (a ROW(...) for a composite key)
    int delete_order = 0; // its table's place in the deletion order, children first
};

// The rows req would delete, per table (only those of *tables; all when tables
// is null); refuses as the delete would (req.dry_run and req.refuse_blocked set).
std::vector<DeletedKey> run_deleted_keys(const Request &req, const std::vector<unsigned> *tables);
// A chunked job's plan: saves the keys the job deletes by under job and
// returns the dry run's report (job_plan.cpp).
Datum run_plan_job(const Request &req, int64 job);

struct ExplainOptions {
    int samples = 3;               // sample keys per path
    int max_paths = 1000;          // paths at most; then one row says what was left out
};

// The dry run of req, then the paths of its cascade (req.dry_run must be set).
std::vector<ExplainRow> run_explain(const Request &req, const ExplainOptions &options);

// cascade_delete_graph: the edges from target (0: all), as DOT or Mermaid
// text (format "dot" or "mermaid"), with the counts of a dry run's report
// (counts: a jsonb Datum, or 0).
std::string run_graph(unsigned target, const std::string &format, Datum counts);

} // namespace cd
