// SQL-callable functions of cascade_delete and its settings. Each function
// reads its arguments, then hands over to C++ through cd::cpp_entry.
#include "cascade.hpp"
#include "pgutil.hpp"
#include "model.hpp"
#include "ri_bypass.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

PG_MODULE_MAGIC;

void _PG_init(void);
PGDLLEXPORT Datum cascade_delete_key(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_many(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_where(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_explain_key(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_explain_many(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_explain_where(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_graph(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_keys_key(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_keys_many(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_job_plan_key(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_job_plan_many(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_job_plan_where(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_job_delete(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_job_delete_as(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cascade_delete_key);
PG_FUNCTION_INFO_V1(cascade_delete_many);
PG_FUNCTION_INFO_V1(cascade_delete_where);
PG_FUNCTION_INFO_V1(cascade_delete_explain_key);
PG_FUNCTION_INFO_V1(cascade_delete_explain_many);
PG_FUNCTION_INFO_V1(cascade_delete_explain_where);
PG_FUNCTION_INFO_V1(cascade_delete_graph);
PG_FUNCTION_INFO_V1(cascade_delete_keys_key);
PG_FUNCTION_INFO_V1(cascade_delete_keys_many);
PG_FUNCTION_INFO_V1(cascade_delete_job_plan_key);
PG_FUNCTION_INFO_V1(cascade_delete_job_plan_many);
PG_FUNCTION_INFO_V1(cascade_delete_job_plan_where);
PG_FUNCTION_INFO_V1(cascade_delete_job_delete);
PG_FUNCTION_INFO_V1(cascade_delete_job_delete_as);
}

namespace cd {
int batch_size = 10000;
int max_rows = 0;
bool fast_path = true;
bool lock_policy_tables = false;
int memory_keys = 1000;
int probe_rows = 1000;
int background_runners_per_role = 2;
bool progress = false;
} // namespace cd

void _PG_init(void) {
    DefineCustomIntVariable("cascade_delete.batch_size",
                            "Keys per statement when cascade_delete deletes or updates rows.",
                            "Bounds the after-trigger queue and the parameters of each statement.",
                            &cd::batch_size, 10000, 1, 100000000, PGC_USERSET, 0, nullptr, nullptr,
                            nullptr);
    DefineCustomIntVariable("cascade_delete.max_rows",
                            "Largest number of rows one cascade_delete call may delete (0: no limit).",
                            "A call that would delete more raises an error and deletes nothing.",
                            &cd::max_rows, 0, 0, INT_MAX, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("cascade_delete.fast_path",
                             "Skips PostgreSQL's per-row RI triggers for the foreign keys "
                             "cascade_delete handles itself.",
                             "The keys are then checked set-based after the deletes.",
                             &cd::fast_path, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("cascade_delete.lock_policy_tables",
                             "Locks the tables cascade_delete reaches through foreign keys that "
                             "exist only as policies, and checks them again after the deletes.",
                             "SHARE ROW EXCLUSIVE until the transaction ends: concurrent writers "
                             "of those tables wait, so none can leave a row referencing a "
                             "deleted one.",
                             &cd::lock_policy_tables, false, PGC_USERSET, 0, nullptr, nullptr,
                             nullptr);
    DefineCustomIntVariable("cascade_delete.memory_keys",
                            "Most keys per table that cascade_delete keeps in memory instead of "
                            "in temporary key tables (0: always key tables).",
                            "A cascade without cycles whose every table has at most this many "
                            "keys (and at most cascade_delete.batch_size) runs without key tables.",
                            &cd::memory_keys, 1000, 0, 100000, PGC_USERSET, 0, nullptr, nullptr,
                            nullptr);
    DefineCustomIntVariable("cascade_delete.background_runners_per_role",
                            "Most background runners of chunked jobs that one role may have at once.",
                            "Each takes one of max_worker_processes, which parallel query and "
                            "logical replication share; only a superuser may change it.",
                            &cd::background_runners_per_role, 2, 0, 1000, PGC_SUSET, 0, nullptr, nullptr,
                            nullptr);
    DefineCustomIntVariable("cascade_delete.probe_rows",
                            "Most rows a cascade_delete call deletes by index probes, without "
                            "SQL statements (0: never).",
                            "A cascade of ON DELETE CASCADE foreign keys between plain tables "
                            "without triggers or row-level security; a larger one is given up, "
                            "unchanged, to set-based statements.",
                            &cd::probe_rows, 1000, 0, 100000, PGC_USERSET, 0, nullptr, nullptr,
                            nullptr);
    DefineCustomBoolVariable("cascade_delete.progress",
                             "Reports each phase of a cascade_delete call and each table it "
                             "deleted from as a NOTICE, with its time, while the call runs.",
                             "Off: the same lines at DEBUG1.",
                             &cd::progress, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("cascade_delete");
    cd::ri::install();
    cd::register_model_invalidation();
}

namespace {

// Checks the target and fills in the request fields common to all forms.
// The explain's functions have no dry_run argument (explain: they are one).
void start_request(FunctionCallInfo fcinfo, bool explain, cd::Request *req) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("cascade_delete: target table must not be NULL")));
    if (!explain && PG_ARGISNULL(2))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("cascade_delete: dry_run must not be NULL")));
    Oid target = PG_GETARG_OID(0);
    cd::pg::check_is_table(target);
    req->target = target;
    req->dry_run = explain || PG_GETARG_BOOL(2);
}

// Refuses a condition that is not one plain expression: it must turn
// "SELECT 1 WHERE (condition)" into a SELECT with a WHERE clause and nothing
// else, so it cannot close the parenthesis and add clauses or statements.
void condition_error_position(void *arg) {
    // A syntax error's position is in the text we parsed, not the caller's query.
    int pos = geterrposition();
    if (pos > 0) {
        errposition(0);
        internalerrposition(pos);
        internalerrquery(static_cast<const char *>(arg));
    }
}

void check_condition(const char *condition) {
    char *sql = psprintf("SELECT 1 WHERE (%s)", condition);
    ErrorContextCallback callback;
    callback.callback = condition_error_position;
    callback.arg = sql;
    callback.previous = error_context_stack;
    error_context_stack = &callback;
    List *stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
    error_context_stack = callback.previous;
    bool ok = list_length(stmts) == 1;
    if (ok) {
        Node *n = linitial_node(RawStmt, stmts)->stmt;
        SelectStmt *s = IsA(n, SelectStmt) ? (SelectStmt *)n : nullptr;
        ok = s && s->op == SETOP_NONE && s->whereClause && !s->fromClause && !s->intoClause &&
             !s->distinctClause && !s->groupClause && !s->havingClause && !s->windowClause &&
             !s->valuesLists && !s->sortClause && !s->limitOffset && !s->limitCount &&
             !s->lockingClause && !s->withClause && list_length(s->targetList) == 1;
    }
    if (!ok)
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR),
                        errmsg("cascade_delete_where: condition must be a single expression"),
                        errdetail("Condition: %s", condition)));
}

// The arguments of cascade_delete and cascade_delete_many: the key argument is
// one key (of any type, or untyped text) or an array of keys.
void read_key_arguments(FunctionCallInfo fcinfo, bool many, bool explain, cd::Request *req) {
    start_request(fcinfo, explain, req);
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s must not be NULL", many ? "cascade_delete_many: keys" : "cascade_delete: key")));
    req->many = many;
    req->key_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (req->key_type == UNKNOWNOID) {
        req->key = CStringGetTextDatum(DatumGetCString(PG_GETARG_DATUM(1)));
        req->key_type = TEXTOID;
    } else
        req->key = PG_GETARG_DATUM(1);
}

// The arguments of cascade_delete_where; returns the checked condition.
const char *read_where_arguments(FunctionCallInfo fcinfo, bool explain, cd::Request *req) {
    start_request(fcinfo, explain, req);
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("cascade_delete_where: condition must not be NULL")));
    char *c = text_to_cstring(PG_GETARG_TEXT_PP(1));
    check_condition(c);
    return c;
}

// The explain's samples and max_paths (arguments 2 and 3).
void read_explain_options(FunctionCallInfo fcinfo, int *samples, int *max_paths) {
    if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("cascade_delete_explain: samples and max_paths must not be NULL")));
    *samples = PG_GETARG_INT32(2);
    *max_paths = PG_GETARG_INT32(3);
    if (*samples < 0 || *samples > 1000)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cascade_delete_explain: samples must be between 0 and 1000")));
    if (*max_paths < 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cascade_delete_explain: max_paths must be at least 1")));
}

// One explain row as plain C data, for put_explain_rows().
struct ExplainRowData {
    int path, parent_path, depth;
    Oid table; // InvalidOid: NULL
    const char *via, *action, *kind, *note, *tree; // NULL: NULL
    int ncolumns;
    const char *const *columns; // NULL: NULL
    bool has_rows, has_table_rows;
    int64 rows, table_rows;
    int nsamples;
    const char *const *samples; // NULL: NULL
};

Datum text_array(int n, const char *const *items) {
    Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int i = 0; i < n; ++i)
        elems[i] = CStringGetTextDatum(items[i]);
    return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

// The explain's rows into the function's result (materialize mode).
void put_explain_rows(FunctionCallInfo fcinfo, int n, const ExplainRowData *rows) {
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
    for (int i = 0; i < n; ++i) {
        const ExplainRowData &r = rows[i];
        Datum values[13];
        bool nulls[13] = {false};
        values[0] = Int32GetDatum(r.path);
        values[1] = Int32GetDatum(r.parent_path);
        nulls[1] = r.parent_path == 0;
        values[2] = Int32GetDatum(r.depth);
        values[3] = ObjectIdGetDatum(r.table);
        nulls[3] = r.table == InvalidOid;
        auto text_or_null = [&](int col, const char *s) {
            nulls[col] = s == nullptr;
            values[col] = s ? CStringGetTextDatum(s) : (Datum)0;
        };
        text_or_null(4, r.via);
        nulls[5] = r.columns == nullptr;
        values[5] = r.columns ? text_array(r.ncolumns, r.columns) : (Datum)0;
        text_or_null(6, r.action);
        text_or_null(7, r.kind);
        values[8] = Int64GetDatum(r.rows);
        nulls[8] = !r.has_rows;
        values[9] = Int64GetDatum(r.table_rows);
        nulls[9] = !r.has_table_rows;
        nulls[10] = r.samples == nullptr;
        values[10] = r.samples ? text_array(r.nsamples, r.samples) : (Datum)0;
        text_or_null(11, r.note);
        text_or_null(12, r.tree);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    MemoryContextSwitchTo(old);
}

// The format argument of cascade_delete_graph.
const char *read_graph_format(FunctionCallInfo fcinfo) {
    const char *format = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
    if (strcmp(format, "dot") != 0 && strcmp(format, "mermaid") != 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cascade_delete_graph: format must be 'dot' or 'mermaid'")));
    if (!PG_ARGISNULL(0))
        cd::pg::check_is_table(PG_GETARG_OID(0));
    return format;
}

Datum cstring_to_text_datum(const char *s) { return CStringGetTextDatum(s); }

// cascade_delete_keys's tables argument (NULL: all): *n OIDs in a palloc'd array.
Oid *read_tables_argument(FunctionCallInfo fcinfo, int arg, int *n) {
    *n = 0;
    if (PG_ARGISNULL(arg))
        return nullptr;
    ArrayType *a = PG_GETARG_ARRAYTYPE_P(arg);
    Datum *elems;
    bool *nulls;
    deconstruct_array(a, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, n);
    Oid *out = static_cast<Oid *>(palloc(sizeof(Oid) * (*n > 0 ? *n : 1)));
    for (int i = 0; i < *n; ++i) {
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("cascade_delete_keys: tables must not contain NULL")));
        out[i] = DatumGetObjectId(elems[i]);
    }
    return out;
}

// The keys into the function's result (materialize mode).
void put_key_rows(FunctionCallInfo fcinfo, int n, const Oid *tables, const char *const *keys, const int *orders) {
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
    for (int i = 0; i < n; ++i) {
        Datum values[3] = {ObjectIdGetDatum(tables[i]), CStringGetTextDatum(keys[i]), Int32GetDatum(orders[i])};
        bool nulls[3] = {false, false, false};
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    MemoryContextSwitchTo(old);
}

} // namespace

// The explain: its rows as C data (the strings stay with rows), then the result.
static Datum explain_result(FunctionCallInfo fcinfo, const cd::Request &req) {
    int samples = 0, max_paths = 0;
    cd::pg_guard(read_explain_options, fcinfo, &samples, &max_paths);
    cd::ExplainOptions options;
    options.samples = samples;
    options.max_paths = max_paths;
    std::vector<cd::ExplainRow> rows = cd::run_explain(req, options);
    std::vector<std::vector<const char *>> columns(rows.size()), samples_of(rows.size());
    std::vector<ExplainRowData> data;
    for (size_t i = 0; i < rows.size(); ++i) {
        const cd::ExplainRow &r = rows[i];
        for (const auto &c : r.columns)
            columns[i].push_back(c.c_str());
        for (const auto &k : r.sample_keys)
            samples_of[i].push_back(k.c_str());
        auto or_null = [](const std::string &s) { return s.empty() ? nullptr : s.c_str(); };
        bool path_row = r.table != 0;
        data.push_back({r.path, r.parent_path, r.depth, r.table, or_null(r.via), or_null(r.action),
                        or_null(r.kind), or_null(r.note), r.tree.c_str(), static_cast<int>(columns[i].size()),
                        r.kind == "roots" || !path_row ? nullptr : columns[i].data(), r.has_rows,
                        r.has_table_rows, static_cast<int64>(r.rows), static_cast<int64>(r.table_rows),
                        static_cast<int>(samples_of[i].size()), path_row ? samples_of[i].data() : nullptr});
    }
    cd::pg_guard(put_explain_rows, fcinfo, static_cast<int>(data.size()),
                 static_cast<const ExplainRowData *>(data.data()));
    return (Datum)0;
}

// The body of cascade_delete and cascade_delete_many.
static Datum delete_by_key(FunctionCallInfo fcinfo, bool many) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        cd::pg_guard(read_key_arguments, fcinfo, many, false, &req);
        return cd::run_cascade(req);
    });
}

// cascade_delete(target regclass, key anyelement | text, dry_run boolean)
Datum cascade_delete_key(PG_FUNCTION_ARGS) { return delete_by_key(fcinfo, false); }

// cascade_delete_many(target regclass, keys anyarray, dry_run boolean)
Datum cascade_delete_many(PG_FUNCTION_ARGS) { return delete_by_key(fcinfo, true); }

// cascade_delete_where(target regclass, condition text, dry_run boolean)
Datum cascade_delete_where(PG_FUNCTION_ARGS) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        const char *condition = cd::pg_guard(read_where_arguments, fcinfo, false, &req);
        req.where = true;
        req.condition = condition;
        return cd::run_cascade(req);
    });
}

// cascade_delete_explain(target regclass, key anyelement | text, samples, max_paths)
Datum cascade_delete_explain_key(PG_FUNCTION_ARGS) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        cd::pg_guard(read_key_arguments, fcinfo, false, true, &req);
        return explain_result(fcinfo, req);
    });
}

// cascade_delete_explain_many(target regclass, keys anyarray | text, samples, max_paths)
Datum cascade_delete_explain_many(PG_FUNCTION_ARGS) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        cd::pg_guard(read_key_arguments, fcinfo, true, true, &req);
        return explain_result(fcinfo, req);
    });
}

// cascade_delete_explain_where(target regclass, condition text, samples, max_paths)
Datum cascade_delete_explain_where(PG_FUNCTION_ARGS) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        const char *condition = cd::pg_guard(read_where_arguments, fcinfo, true, &req);
        req.where = true;
        req.condition = condition;
        return explain_result(fcinfo, req);
    });
}

// cascade_delete_graph(target regclass, format text, counts jsonb)
Datum cascade_delete_graph(PG_FUNCTION_ARGS) {
    return cd::cpp_entry([&]() -> Datum {
        std::string format = cd::pg_guard(read_graph_format, fcinfo);
        unsigned target = PG_ARGISNULL(0) ? 0 : PG_GETARG_OID(0);
        Datum counts = PG_ARGISNULL(2) ? (Datum)0 : PG_GETARG_DATUM(2);
        std::string text = cd::run_graph(target, format, counts);
        return cd::pg_guard(cstring_to_text_datum, text.c_str());
    });
}

// The body of cascade_delete_keys and cascade_delete_keys_many.
static Datum deleted_keys(FunctionCallInfo fcinfo, bool many) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        cd::pg_guard(read_key_arguments, fcinfo, many, true, &req);
        req.refuse_blocked = true;
        int n = 0;
        Oid *oids = cd::pg_guard(read_tables_argument, fcinfo, 2, &n);
        std::vector<unsigned> tables(oids, oids + n);
        // NULL: every table; an empty array: none
        std::vector<cd::DeletedKey> keys = cd::run_deleted_keys(req, oids ? &tables : nullptr);
        std::vector<Oid> table_of;
        std::vector<const char *> key_of;
        std::vector<int> order_of;
        for (const auto &k : keys) {
            table_of.push_back(k.table);
            key_of.push_back(k.key.c_str());
            order_of.push_back(k.delete_order);
        }
        cd::pg_guard(put_key_rows, fcinfo, static_cast<int>(keys.size()), static_cast<const Oid *>(table_of.data()),
                     static_cast<const char *const *>(key_of.data()), static_cast<const int *>(order_of.data()));
        return (Datum)0;
    });
}

// cascade_delete_keys(target regclass, key anyelement | text, tables regclass[])
Datum cascade_delete_keys_key(PG_FUNCTION_ARGS) { return deleted_keys(fcinfo, false); }

// cascade_delete_keys_many(target regclass, keys anyarray | text, tables regclass[])
Datum cascade_delete_keys_many(PG_FUNCTION_ARGS) { return deleted_keys(fcinfo, true); }

// The job's number, the third argument of the _job_plan functions: the
// caller's own job on the target, not planned yet.
static int64 read_job_argument(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(2))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("cascade_delete: job must not be NULL")));
    cd::pg::check_job_to_plan(PG_GETARG_INT64(2), PG_GETARG_OID(0));
    return PG_GETARG_INT64(2);
}

// A job's plan: the dry run that raises what the delete would, with key
// tables (the plan writes anyway), then the keys saved under the job.
static Datum plan_job(FunctionCallInfo fcinfo, cd::Request &req) {
    req.refuse_blocked = true;
    req.key_tables = true;
    return cd::run_plan_job(req, cd::pg_guard(read_job_argument, fcinfo));
}

// The body of _job_plan and _job_plan_many (called by cascade_delete_start).
static Datum plan_job_by_key(FunctionCallInfo fcinfo, bool many) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        cd::pg_guard(read_key_arguments, fcinfo, many, true, &req);
        return plan_job(fcinfo, req);
    });
}

// _job_plan(target regclass, key anyelement | text, job bigint)
Datum cascade_delete_job_plan_key(PG_FUNCTION_ARGS) { return plan_job_by_key(fcinfo, false); }

// _job_plan_many(target regclass, keys anyarray | text, job bigint)
Datum cascade_delete_job_plan_many(PG_FUNCTION_ARGS) { return plan_job_by_key(fcinfo, true); }

// _job_plan_where(target regclass, condition text, job bigint)
Datum cascade_delete_job_plan_where(PG_FUNCTION_ARGS) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        const char *condition = cd::pg_guard(read_where_arguments, fcinfo, true, &req);
        req.where = true;
        req.condition = condition;
        return plan_job(fcinfo, req);
    });
}

// _job_delete(target regclass, keys text): a job's chunk, cascade_delete_many()
// with the leaves of its keys deleted after them (see leaves_after_parents).
// (Declared by 0.5.0 only; 0.6.0 runs chunks through _job_delete_as.)
Datum cascade_delete_job_delete(PG_FUNCTION_ARGS) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        cd::pg_guard(read_key_arguments, fcinfo, true, true, &req); // no dry_run argument ...
        req.dry_run = false;                                         // ... and none is one
        req.job_chunk = true;
        return cd::run_cascade(req);
    });
}

// _job_delete_as(target regclass, keys text, owner oid, search_path text):
// the same chunk, run as the job's owner under SECURITY_RESTRICTED_OPERATION,
// whoever runs the job: its statements, and every trigger they fire, have
// the owner's rights and cannot SET ROLE or RESET ROLE back to the runner's.
// The triggers see search_path (the session's: the writer that calls this
// pins its own). Not executable by PUBLIC: only the chunk's writer (as the
// extension's owner) calls it.
Datum cascade_delete_job_delete_as(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(2))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("cascade_delete: owner must not be NULL")));
    Oid owner = PG_GETARG_OID(2);
    // Deferred constraints checked, and deferred triggers fired, at the end
    // of each statement: queued for the chunk's COMMIT they would run outside
    // the restricted context, as the runner (PostgreSQL refuses to queue
    // them inside it). The chunk is its own transaction, deleting children
    // before parents: no check that its end would pass fails sooner.
    ConstraintsSetStmt *immediate = makeNode(ConstraintsSetStmt);
    immediate->constraints = NIL;
    immediate->deferred = false;
    AfterTriggerSetState(immediate);
    // An error's abort restores the settings (as_user the user). Key tables
    // are created outside the restriction (exec_unrestricted).
    int nest = NewGUCNestLevel();
    if (!PG_ARGISNULL(3))
        (void)set_config_option("search_path", text_to_cstring(PG_GETARG_TEXT_PP(3)), PGC_USERSET, PGC_S_SESSION,
                                GUC_ACTION_SAVE, true, 0, false);
    Datum report = cd::pg::as_user(owner, cd::pg::security_context() | cd::pg::kRestricted,
                                   [&] { return cascade_delete_job_delete(fcinfo); });
    // As PostgreSQL's maintenance commands do: whatever settings the chunk's
    // triggers changed go, with the search_path set above.
    AtEOXact_GUC(false, nest);
    return report;
}
