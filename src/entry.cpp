// SQL-callable functions of cascade_delete and its settings. Each function
// reads its arguments, then hands over to C++ through cd::cpp_entry.
#include "cascade.hpp"
#include "pgutil.hpp"
#include "model.hpp"
#include "ri_bypass.hpp"

extern "C" {
#include "catalog/pg_type.h"
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
PG_FUNCTION_INFO_V1(cascade_delete_key);
PG_FUNCTION_INFO_V1(cascade_delete_many);
PG_FUNCTION_INFO_V1(cascade_delete_where);
}

namespace cd {
int batch_size = 10000;
int max_rows = 0;
bool fast_path = true;
bool lock_policy_tables = false;
int memory_keys = 1000;
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
    MarkGUCPrefixReserved("cascade_delete");
    cd::ri::install();
    cd::register_model_invalidation();
}

namespace {

// Checks the target and fills in the request fields common to all forms.
void start_request(FunctionCallInfo fcinfo, int dry_run_arg, cd::Request *req) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("cascade_delete: target table must not be NULL")));
    if (PG_ARGISNULL(dry_run_arg))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("cascade_delete: dry_run must not be NULL")));
    Oid target = PG_GETARG_OID(0);
    cd::pg::check_is_table(target);
    req->target = target;
    req->dry_run = PG_GETARG_BOOL(dry_run_arg);
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
void read_key_arguments(FunctionCallInfo fcinfo, bool many, cd::Request *req) {
    start_request(fcinfo, 2, req);
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
const char *read_where_arguments(FunctionCallInfo fcinfo, cd::Request *req) {
    start_request(fcinfo, 2, req);
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("cascade_delete_where: condition must not be NULL")));
    char *c = text_to_cstring(PG_GETARG_TEXT_PP(1));
    check_condition(c);
    return c;
}

} // namespace

// The body of cascade_delete and cascade_delete_many.
static Datum delete_by_key(FunctionCallInfo fcinfo, bool many) {
    return cd::cpp_entry([&]() -> Datum {
        cd::Request req;
        cd::pg_guard(read_key_arguments, fcinfo, many, &req);
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
        const char *condition = cd::pg_guard(read_where_arguments, fcinfo, &req);
        req.where = true;
        req.condition = condition;
        return cd::run_cascade(req);
    });
}
