// A chunked job's runs outside a client: cascade_delete_run_in_background()
// starts a dynamic background worker (no shared_preload_libraries needed)
// connected to the caller's database as the job's owner (whoever starts it,
// as pg_cron's workers connect as the job's user), which executes
// CALL cascade_delete_run(job) as a client would; the procedure records its
// errors on the job. Each role has at most
// cascade_delete.background_runners_per_role of them at once. Also the
// runner's check that CALL can commit.
//
// PostgreSQL code only (no C++ objects): these functions run in PostgreSQL's
// error handling, as the worker's main loop must.
#include "cascade.hpp"
#include "pgutil.hpp"

extern "C" {
#include "access/xact.h"
#include "tcop/pquery.h"
#include "utils/portal.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/backend_status.h"

PGDLLEXPORT Datum cascade_delete_job_start_worker(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_job_start_worker_as(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_job_refuse_in_block(PG_FUNCTION_ARGS);
PGDLLEXPORT void cascade_delete_job_worker(Datum main_arg);
PG_FUNCTION_INFO_V1(cascade_delete_job_start_worker);
PG_FUNCTION_INFO_V1(cascade_delete_job_start_worker_as);
PG_FUNCTION_INFO_V1(cascade_delete_job_refuse_in_block);
}

namespace {
// What the worker needs besides the job's number (bgw_main_arg).
struct WorkerArgs {
    Oid database;
    Oid role;
    Oid schema; // the extension's
};
static_assert(sizeof(WorkerArgs) <= BGW_EXTRALEN, "worker arguments fit bgw_extra");
} // namespace

constexpr const char *kWorkerType = "cascade_delete job";

// The background runners role has now (each runner's bgw_type is kWorkerType).
static int runners_of(Oid role) {
    pgstat_clear_snapshot(); // this transaction may have read an older list
    int n = pgstat_fetch_stat_numbackends(), runners = 0;
    for (int i = 1; i <= n; ++i) {
        LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
        if (local == nullptr || local->backendStatus.st_backendType != B_BG_WORKER ||
            local->backendStatus.st_userid != role)
            continue;
        const char *type = GetBackgroundWorkerTypeByPid(local->backendStatus.st_procpid);
        if (type != nullptr && strcmp(type, kWorkerType) == 0)
            ++runners;
    }
    return runners;
}

// The worker of job, connected as role; returns its pid (NULL if it is done already).
static Datum start_worker(FunctionCallInfo fcinfo, int64 job, Oid role) {
    if (runners_of(role) >= cd::background_runners_per_role)
        ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                        errmsg("role \"%s\" has %d background runners of cascade_delete jobs already",
                               GetUserNameFromId(role, false), cd::background_runners_per_role),
                        errdetail("cascade_delete.background_runners_per_role is %d.",
                                  cd::background_runners_per_role),
                        errhint("Wait for one to finish, or run the job with CALL cascade_delete_run(%lld).",
                                static_cast<long long>(job))));
    WorkerArgs args{MyDatabaseId, role, cd::pg::extension_schema()};
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART; // cascade_delete_resume_jobs() restarts
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "cascade_delete");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "cascade_delete_job_worker");
    snprintf(worker.bgw_name, BGW_MAXLEN, "cascade_delete job %lld", static_cast<long long>(job));
    snprintf(worker.bgw_type, BGW_MAXLEN, "%s", kWorkerType);
    worker.bgw_main_arg = Int64GetDatum(job);
    memcpy(worker.bgw_extra, &args, sizeof(args));
    worker.bgw_notify_pid = MyProcPid;
    BackgroundWorkerHandle *handle;
    if (!RegisterDynamicBackgroundWorker(&worker, &handle))
        ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                        errmsg("could not start a background worker for cascade_delete job %lld",
                               static_cast<long long>(job)),
                        errhint("All max_worker_processes (%d) are in use; raise it, or run the "
                                "job with CALL cascade_delete_run(%lld).",
                                max_worker_processes, static_cast<long long>(job))));
    pid_t pid;
    BgwHandleStatus status = WaitForBackgroundWorkerStartup(handle, &pid);
    if (status == BGWH_STOPPED) // started and already done (or failed: the job records it)
        PG_RETURN_NULL();
    if (status != BGWH_STARTED)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_RESOURCES),
                        errmsg("the background worker for cascade_delete job %lld did not start",
                               static_cast<long long>(job)),
                        errhint("The server log says why.")));
    PG_RETURN_INT32(pid);
}

// cascade_delete_job_start_worker(job bigint) RETURNS integer: the worker's
// pid, connected as the caller (declared by 0.3.0 to 0.5.0 only).
Datum cascade_delete_job_start_worker(PG_FUNCTION_ARGS) { return start_worker(fcinfo, PG_GETARG_INT64(0), GetUserId()); }

// cascade_delete_job_start_worker_as(job bigint, owner oid) RETURNS integer:
// the worker's pid, connected as the job's owner. Not executable by PUBLIC:
// only the writer that checked the caller may run the job calls it.
Datum cascade_delete_job_start_worker_as(PG_FUNCTION_ARGS) {
    return start_worker(fcinfo, PG_GETARG_INT64(0), PG_GETARG_OID(1));
}

// The worker: connects, then runs CALL cascade_delete_run(job) non-atomically,
// so that the procedure's COMMITs commit (as they do for a client's CALL).
void cascade_delete_job_worker(Datum main_arg) {
    int64 job = DatumGetInt64(main_arg);
    WorkerArgs args;
    memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnectionByOid(args.database, args.role, 0);
    // The run is one long statement: no timeout of the role's settings cuts it.
    SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("application_name", MyBgworkerEntry->bgw_name, PGC_USERSET, PGC_S_SESSION);
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    // The statement's text and plan outlive the procedure's commits, which
    // reset the transaction's memory (exec_simple_query's MessageContext).
    MemoryContextSwitchTo(AllocSetContextCreate(TopMemoryContext, "cascade_delete job",
                                                ALLOCSET_DEFAULT_SIZES));
    char *schema = get_namespace_name(args.schema);
    if (schema == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_SCHEMA),
                        errmsg("cascade_delete job %lld: the extension's schema is gone", static_cast<long long>(job))));
    char *sql = psprintf("CALL %s.cascade_delete_run(%lld)", quote_identifier(schema), static_cast<long long>(job));
    pgstat_report_activity(STATE_RUNNING, sql);
    // As exec_simple_query runs a client's CALL: a top-level portal, so that
    // the procedure may commit (SPI would run it atomically).
    RawStmt *parsed = linitial_node(RawStmt, pg_parse_query(sql));
    PushActiveSnapshot(GetTransactionSnapshot());
    List *queries = pg_analyze_and_rewrite_fixedparams(parsed, sql, nullptr, 0, nullptr);
    List *plans = pg_plan_queries(queries, sql, 0, nullptr);
    PopActiveSnapshot();
    Portal portal = CreatePortal("", true, true);
    portal->visible = false;
    PortalDefineQuery(portal, nullptr, sql, CMDTAG_CALL, plans, nullptr);
    PortalStart(portal, nullptr, 0, InvalidSnapshot);
    DestReceiver *receiver = CreateDestReceiver(DestNone);
    QueryCompletion qc;
    PortalRun(portal, FETCH_ALL, true, true, receiver, receiver, &qc);
    receiver->rDestroy(receiver);
    PortalDrop(portal, false);
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
    proc_exit(0);
}

// Raised by CALL cascade_delete_run() inside a transaction block, where its
// COMMITs could not commit: PostgreSQL's own error for such commands (25001).
Datum cascade_delete_job_refuse_in_block(PG_FUNCTION_ARGS) {
    PreventInTransactionBlock(true, "CALL cascade_delete_run()");
    PG_RETURN_VOID();
}
