// SPI-level building blocks of the executor (statements.cpp). Functions taking
// or returning PostgreSQL types only ("PostgreSQL code only") must run inside
// cd::pg_call; the others call pg_call themselves.
#pragma once

#include "pgutil.hpp"

extern "C" {
#include "utils/queryenvironment.h"
}

#include <string>
#include <vector>

namespace cd {

// One statement per batch of keys: the cursor yields key columns, the statement
// receives them as arrays $1..$n (then the extra parameters). Returns the rows
// the statement processed in all batches. PostgreSQL code only.
struct BatchSpec {
    SPIPlanPtr cursor_plan; // yields the key columns
    const Datum *cursor_values; // its parameters (nullptr: none)
    const char *cursor_nulls;
    SPIPlanPtr stmt_plan;   // takes them as arrays $1..$n, then the extra parameters
    const char *stmt_sql;   // for error messages
    int n_extra;
    Datum *extra_values;
    int batch_size;
    int expected_rc;
    // the fast path: RI triggers each statement leaves out (see ri_bypass)
    int n_bypass;
    const Oid *bypass_rels;
    const Oid *bypass_cons;
    // The statement runs as this role (restricted), the cursor as the
    // caller: a job's keys are read with the caller's rights and written
    // into the extension's own table as its owner. InvalidOid: the caller.
    Oid stmt_user = InvalidOid;
};

uint64 run_batches(const BatchSpec *spec); // PostgreSQL code only

// The post-check: runs plan with the latest snapshot for at most one row
// (column 1 an edge's number, written to *which; column 2 its xmin) and says
// whose the row is: 0 none, 1 this transaction's, 2 a transaction that
// committed after the call's snapshot, 3 older (a row a BEFORE DELETE
// trigger kept). PostgreSQL code only.
int run_post_check(SPIPlanPtr plan, Datum *values, const char *nulls, int *which);

// A dry run's key set: an ephemeral named relation (a tuplestore, spilling
// past work_mem) with the columns shape_sql returns, registered with the
// current SPI connection and freed with it. PostgreSQL code only.
EphemeralNamedRelation register_key_set(const char *name, const char *shape_sql);
// Frees a key set's tuplestore and closes its temporary files (a tuplestore
// that spilled keeps them open until freed: committing with them open warns
// of a temporary file leak). PostgreSQL code only.
void end_key_set(EphemeralNamedRelation enr);
// Appends the rows of sql (with parameters) to the key set, read into a
// tuplestore of their own first (sql may read the same set); updates the
// planner's row estimate. Returns the rows added. PostgreSQL code only.
uint64 append_to_key_set(EphemeralNamedRelation enr, const char *sql, int nargs, Oid *types,
                         Datum *values, const char *nulls);

// Runs a kept plan, or (plan NULL) sql once, with the fast path's RI triggers
// of (rels[i], cons[i]) left out (see ri_bypass). PostgreSQL code only.
uint64 exec_bypassing_rows(SPIPlanPtr plan, const char *sql, int nargs, Oid *types, Datum *values,
                           const char *nulls, int rc, int n_bypass, const Oid *rels, const Oid *cons);
// Whether any of the first n rows of SPI_tuptable has, in column 1, an xmin
// of another transaction than this one. PostgreSQL code only.
bool rows_of_other_transactions(uint64 n);

// A plan for sql with parameter types, prepared once per backend and kept.
// generic: always the generic plan (CURSOR_OPT_GENERIC_PLAN), for statements
// run once per call whose parameters do not change the best plan: the plan
// cache would otherwise keep choosing custom plans and plan them every time.
SPIPlanPtr plan_for(const std::string &sql, const std::vector<Oid> &types, bool generic = false);
// While on, plan_for() prepares plans that are neither kept nor cached (they
// name relations that live only for one call); freed at SPI_finish.
void one_shot_plans(bool on);
// Empties the plan cache when it has grown past its limit. Only where no plan
// of it can be in use: at the start of an outermost call.
void trim_plan_cache();
// Runs generated SQL through a kept plan; returns the rows processed.
uint64 exec(const std::string &sql, int rc);

// The parameters of one generated statement, numbered in the order added.
struct Params {
    std::vector<Datum> values;
    std::vector<char> nulls; // ' ' or 'n', as SPI wants them
    std::vector<Oid> types;
    // Some parameter is a key set's array (memory mode): statements are then
    // planned generic, since the arrays change with every call and the best
    // plan does not.
    bool key_arrays = false;
    std::string add(Datum value, bool isnull, Oid type, bool is_key_array = false) {
        key_arrays = key_arrays || is_key_array;
        values.push_back(value);
        nulls.push_back(isnull ? 'n' : ' ');
        types.push_back(type);
        return "$" + std::to_string(values.size());
    }
};
// Runs generated SQL with parameters through a kept plan (generic, or with
// key arrays among p: see plan_for).
uint64 exec(const std::string &sql, int rc, const Params &p, bool generic = false);
// Runs SQL once: utility statements, and statements holding the caller's text.
uint64 exec_once(const std::string &sql, int rc);
// Runs generated SQL with parameters once, its plan not kept (statements of
// which a call runs many different ones, e.g. the explain's paths).
uint64 exec_once(const std::string &sql, int rc, const Params &p);

// The caller's key argument as one array per identity column (types pktypes).
// PostgreSQL code only.
void key_arrays(Datum key, Oid keytype, bool many, int n, const Oid *pktypes, const char *table,
                Datum *out);
// text read as a value of type. PostgreSQL code only.
Datum text_to_datum(const char *text, Oid type);
// "typid:typmod:collation," for each column. PostgreSQL code only.
char *column_signature(Oid rel, int n, const char *const *cols);
// The SQL types of rel's columns cols ("pg_catalog.numeric(10,2)", with
// " COLLATE ..." for a column's own collation), to declare a key table by.
// PostgreSQL code only.
CStrings column_types_sql(Oid rel, int n, const char *const *cols);
// Runs sql (a statement of the extension's own, reading no user table)
// outside the security-restricted operation a job's chunk runs in, still as
// the current user: PostgreSQL refuses to create temporary tables inside one,
// and a chunk may need key tables. PostgreSQL code only.
void exec_unrestricted(const char *sql);

std::vector<Oid> array_types(const std::vector<Oid> &elems);
std::vector<Oid> column_types(Oid rel, const std::vector<std::string> &cols);

} // namespace cd
