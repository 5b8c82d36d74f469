// Who may write a chunked job's state, and as whom it runs. The job tables
// belong to the extension's owner; PUBLIC may only read them (row-level
// security shows each role its own jobs). Every write goes through
// cascade_delete_job_write(op, job, args), which calls the extension's own
// function cascade_delete_job_w_<op>(caller, job, args) as the extension's
// owner, handing it the caller's role OID: the one value a SECURITY DEFINER
// function could not know, and which no caller can forge. Each such writer
// checks that the caller may act on the job (pg_has_role) before it writes.
//
// PostgreSQL code only (no C++ objects): these functions run in PostgreSQL's
// error handling.
#include "pgutil.hpp"

extern "C" {
#include "catalog/dependency.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

PGDLLEXPORT Datum cascade_delete_job_write(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_job_runner_alive(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cascade_delete_job_write);
PG_FUNCTION_INFO_V1(cascade_delete_job_runner_alive);
}

// cascade_delete_job_write(op text, job bigint, args jsonb) RETURNS jsonb:
// calls the writer cascade_delete_job_w_<op>(caller oid, job bigint, args
// jsonb), which must be a member of the extension (a function of the same
// name that another role created in the extension's schema is refused), as
// the extension's owner, and returns what it returns.
Datum cascade_delete_job_write(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("cascade_delete_job_write: op must not be NULL")));
    char *op = text_to_cstring(PG_GETARG_TEXT_PP(0));
    for (const char *c = op; *c; ++c)
        if (!((*c >= 'a' && *c <= 'z') || *c == '_'))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("cascade_delete_job_write: no such operation \"%s\"", op)));
    Oid ext = get_extension_oid("cascade_delete", false);
    Oid schema, owner;
    cd::pg::extension_identity(&schema, &owner);
    Oid argtypes[3] = {OIDOID, INT8OID, JSONBOID};
    List *name = list_make2(makeString(get_namespace_name(schema)), makeString(psprintf("cascade_delete_job_w_%s", op)));
    Oid fn = LookupFuncName(name, 3, argtypes, true);
    if (!OidIsValid(fn) || getExtensionOfObject(ProcedureRelationId, fn) != ext)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cascade_delete_job_write: no such operation \"%s\"", op)));
    Oid caller = GetUserId();
    LOCAL_FCINFO(call, 3);
    FmgrInfo flinfo;
    fmgr_info(fn, &flinfo);
    InitFunctionCallInfoData(*call, &flinfo, 3, InvalidOid, nullptr, nullptr);
    call->args[0].value = ObjectIdGetDatum(caller);
    call->args[0].isnull = false;
    call->args[1].value = PG_ARGISNULL(1) ? (Datum)0 : PG_GETARG_DATUM(1);
    call->args[1].isnull = PG_ARGISNULL(1);
    call->args[2].value = PG_ARGISNULL(2) ? (Datum)0 : PG_GETARG_DATUM(2);
    call->args[2].isnull = PG_ARGISNULL(2);
    // As the owner, like a SECURITY DEFINER function (not restricted: the
    // writers' own code is all that runs, on the extension's tables).
    Datum result = cd::pg::as_user(owner, cd::pg::security_context() | SECURITY_LOCAL_USERID_CHANGE,
                                   [&] { return FunctionCallInvoke(call); });
    if (call->isnull)
        PG_RETURN_NULL();
    return result;
}

// cascade_delete_job_runner_alive(pid integer, started timestamptz) RETURNS
// boolean: whether the backend that recorded itself as a job's runner is
// still there (the same process id and start time: not a later process that
// reuses the id). Read from shared memory, so it answers the same for every
// role, whose pg_stat_activity hides other roles' sessions.
Datum cascade_delete_job_runner_alive(PG_FUNCTION_ARGS) {
    int32 pid = PG_GETARG_INT32(0);
    TimestampTz started = PG_GETARG_TIMESTAMPTZ(1);
    int n = pgstat_fetch_stat_numbackends();
    for (int i = 1; i <= n; ++i) {
        LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
        if (local && local->backendStatus.st_procpid == pid)
            PG_RETURN_BOOL(local->backendStatus.st_proc_start_timestamp == started);
    }
    PG_RETURN_BOOL(false);
}

namespace cd::pg {

// Raises unless job is the current user's own job, on target, not planned
// yet: its keys are about to be written with the caller's rights, and the
// job runs as its owner.
void check_job_to_plan(int64 job, Oid target) {
    spi_connect();
    Oid schema = extension_schema();
    char *sql = psprintf("SELECT owner::pg_catalog.oid, target::pg_catalog.oid, graph OPERATOR(pg_catalog.=) '' "
                         "FROM %s.cascade_delete_job WHERE job OPERATOR(pg_catalog.=) $1",
                         quote_identifier(get_namespace_name(schema)));
    Oid type = INT8OID;
    Datum value = Int64GetDatum(job);
    uint64 n = exec_as_extension_owner(sql, 1, &type, &value, nullptr, SPI_OK_SELECT);
    bool isnull;
    if (n == 0 ||
        DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) != GetUserId())
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("cascade_delete job %lld does not exist", static_cast<long long>(job)),
                        errhint("A job is planned by cascade_delete_start() for the role that starts it.")));
    if (DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)) != target ||
        !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("cascade_delete job %lld is planned already, or for another table",
                               static_cast<long long>(job))));
    SPI_finish();
}

} // namespace cd::pg
