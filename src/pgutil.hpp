// Small PostgreSQL-side helpers shared by the catalog reader, the executor and
// the policy functions. Every function here may raise a PostgreSQL error, so
// C++ code calls them only through cd::pg_guard().
#pragma once

#include "boundary.hpp"

extern "C" {
#include "executor/spi.h"
#include "miscadmin.h"
}

#include <string>
#include <vector>

namespace cd {

// A palloc'd array of C strings (plain data, so it can leave pg_call).
struct CStrings {
    int n;
    char **items;
};

namespace pg {

// The role the statements that exec() and exec_plan() run go as, when valid:
// the owner of the referencing table they change, as PostgreSQL's RI triggers
// run their actions (user id switched with SECURITY_LOCAL_USERID_CHANGE and
// SECURITY_NOFORCE_RLS, so the triggers they fire run as that owner and
// cannot SET ROLE). Set by StatementRole (cascade_call.hpp) only.
extern Oid statement_role;

// Runs sql through SPI (one-shot plan) and checks the result code; on an
// unexpected code raises an error that names the statement. Returns SPI_processed.
uint64 exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
            int expected_rc);
// Runs a query with the latest snapshot, not the transaction's: what is
// cached beyond the transaction (the table graph) must not come from a
// REPEATABLE READ snapshot older than the last committed change.
uint64 exec_latest(const char *sql, int expected_rc);
// Prepares sql; the plan lives until SPI_finish (or the transaction's abort).
SPIPlanPtr prepare(const char *sql, int nargs, Oid *types, int cursor_options = 0);
// Prepares sql and keeps the plan for the backend's life (SPI_keepplan).
SPIPlanPtr prepare_kept(const char *sql, int nargs, Oid *types, int cursor_options);
// The array type of elem; raises 0A000 for a type without one.
Oid array_type(Oid elem);
// The type of a column of rel (tid for "ctid").
Oid column_type(Oid rel, const char *column);
// The type's name, schema-qualified ("pg_catalog.int4").
char *type_name(Oid type);
// Runs sql with one parameter, an oid ($1), or an oid[] read from its text form.
uint64 exec_with_oid(const char *sql, Oid oid);
uint64 exec_with_oids(const char *sql, const char *oids_text);
// The type of column attname of rel, or InvalidOid when there is none.
Oid column_type_or_none(Oid rel, const char *attname);
// "OPERATOR(nsp.=)" comparing parent.pcol with child.ccol, or NULL (a column is
// missing, or the types have no operator). With cast_if_none (a generic
// relation's key), when there is no operator, the child column's type
// (qualified) goes to *cast and its own operator is returned.
char *columns_equality(Oid child, const char *ccol, Oid parent, const char *pcol, bool cast_if_none,
                       char **cast);
// The equality operator of rel.col's type and value as a literal of that type
// (a generic relation's condition); both NULL when the column is missing.
void typed_literal(Oid rel, const char *col, const char *value, char **op, char **literal);
// Raises sql's parse or analysis error, if any (its text quoted in the error).
void check_parses(const char *sql);
// Serves a pending cancel or timeout.
void check_for_interrupts();
// A DEBUG1 message.
void progress(const char *message, bool as_notice);
// ISO dates, postgres intervals, exact floats, hex bytea until
// restore_settings(returned GUC nest level).
int portable_text_formats();
// Pages of this session's temporary table name, or -1 when there is none.
long temp_table_pages(const char *name);
// Whether row-level security filters what the current user reads of rel.
bool rls_applies(Oid rel);
// Whether role has DELETE privilege on rel.
bool may_delete(Oid rel, Oid role);
// Whether role may read this session's temporary table name.
bool temp_table_readable_by(const char *name, Oid role);
// "nsp.rel", each part quoted only where needed, as regclass::text would.
char *quoted_qualified(const char *nsp, const char *rel);
// The value a SET_NULL (set_kind 'n'), SET_DEFAULT ('d') or SET value ('v',
// value) writes into rel.col, as SQL: "CAST(... AS type)"; *not_null tells
// whether the column is NOT NULL. The default is deparsed from the catalog.
char *written_value_sql(Oid rel, const char *col, char set_kind, const char *value, bool *not_null);
// Copies columns first..first+n-1 (1-based) of row 0 of SPI_tuptable, arrays,
// out of the result into the current context, with their types; *count: the
// number of elements of the first.
void copy_result_arrays(int first, int n, Datum *values, Oid *types, uint64 *count);
// SPI_connect, raising an error when it fails.
void spi_connect();
// Whether this transaction cannot write: read-only, or on a hot standby.
bool read_only();
// Whether the transaction keeps one snapshot (REPEATABLE READ, SERIALIZABLE).
bool uses_transaction_snapshot();
// Whether the current user may lock rel's rows FOR UPDATE: UPDATE privilege
// on the table or on any of its columns, as PostgreSQL asks.
bool may_lock_rows(Oid rel);
// Executes a prepared plan and checks the result code.
uint64 exec_plan(SPIPlanPtr plan, const char *sql, Datum *values, const char *nulls,
                 int expected_rc);

// Column col (1-based) of row row of SPI_tuptable as C strings (NULL if null).
char *value(uint64 row, int col);
// ... as a value of its type, copied into the current memory context (not NULL).
Datum copied_datum(uint64 row, int col);
// Column col of row row of SPI_tuptable, a text[] (or name[]), as C strings.
CStrings text_array(uint64 row, int col);
// "OPERATOR(schema.op)" for the btree equality operator between left and right
// (searched in the default btree operator family of right), or NULL if none.
char *equality_operator(Oid left, Oid right);
// citus.multi_shard_modify_mode = sequential until restore_settings(returned
// GUC nest level).
int citus_sequential_modifications();
// Switches search_path to "pg_catalog, pg_temp" for catalog queries; returns
// the GUC nest level to hand to restore_settings().
int safe_search_path();
// Raises 42P01 / 42809 unless rel exists and is a plain or partitioned table.
void check_is_table(Oid rel);
// The schema cascade_delete is installed in, and the role that owns it (and
// its job tables); extension_identity() reads both at once.
Oid extension_schema();
Oid extension_owner();
void extension_identity(Oid *schema, Oid *owner);

// The security context flags of a role switch. As PostgreSQL runs a
// referencing table's RI action as its owner (no SET ROLE inside, none of
// its row-level security forced), and as it runs maintenance commands as a
// table's owner (also no temporary objects, deferred triggers or SET ROLE
// that could outlive the switch: SECURITY_RESTRICTED_OPERATION).
constexpr int kAsTableOwner = SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS;
constexpr int kRestricted = SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION;

// The current security context (its flags), to add to or take from.
int security_context();

// f()'s result, run as user in security context sec (SetUserIdAndSecContext),
// the caller's user and context restored after it, error or not: every role
// switch of the extension goes through here. f returns a plain value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
template <typename F> auto as_user(Oid user, int sec, F f) -> decltype(f()) {
    Oid saved_user;
    int saved_sec;
    GetUserIdAndSecContext(&saved_user, &saved_sec);
    SetUserIdAndSecContext(user, sec);
    decltype(f()) result{};
    PG_TRY();
    { result = f(); }
    PG_CATCH();
    {
        SetUserIdAndSecContext(saved_user, saved_sec);
        PG_RE_THROW();
    }
    PG_END_TRY();
    SetUserIdAndSecContext(saved_user, saved_sec);
    return result;
}
#pragma GCC diagnostic pop

// Runs one of the extension's own statements on its own tables as the
// extension's owner, restricted (see exec()).
uint64 exec_as_extension_owner(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
                               int expected_rc);
// Raises unless job is the current user's own job on target, not planned
// yet (job_state.cpp).
void check_job_to_plan(int64 job, Oid target);
// Whether the extension's table has the column: the library serves every
// version, and a database not yet updated (ALTER EXTENSION UPDATE) lacks
// what later versions added.
bool extension_has_column(const char *table, const char *column);
// Settings back to what they were before the GUC nest level began (the
// (sub)transaction's abort does it on an error).
void restore_settings(int nest_level);

} // namespace pg

// C++ side conveniences (they call pg_call themselves).
std::vector<std::string> to_vector(CStrings s);
std::string display_name(const std::string &nsp, const std::string &rel); // like regclass::text, but always schema-qualified

} // namespace cd
