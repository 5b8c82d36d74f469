// PostgreSQL-side helpers: SPI with result checks, catalog lookups, quoting.
#include "pgutil.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_attribute.h"
#include "utils/datum.h"
#include "utils/ruleutils.h"
#include "rewrite/rewriteHandler.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "access/stratnum.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "parser/parse_coerce.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/rls.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace cd {

Error make_error(int sqlstate, const std::string &message, const std::string &detail,
                 const std::string &hint) {
    Error e{};
    e.sqlstate = sqlstate;
    e.message = pg_guard(pstrdup, message.c_str());
    e.detail = detail.empty() ? nullptr : pg_guard(pstrdup, detail.c_str());
    e.hint = hint.empty() ? nullptr : pg_guard(pstrdup, hint.c_str());
    return e;
}

namespace pg {

static void check_rc(int rc, int expected, const char *sql) {
    if (rc != expected)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("cascade_delete: SPI returned %s, expected %s",
                               SPI_result_code_string(rc), SPI_result_code_string(expected)),
                        errdetail("Statement: %s", sql)));
}

Oid statement_role = InvalidOid;

int security_context() {
    Oid user;
    int sec;
    GetUserIdAndSecContext(&user, &sec);
    return sec;
}

// run()'s result, as statement_role (see pgutil.hpp) when it is set and not
// the current user already.
template <typename F> static int as_statement_role(F run) {
    if (!OidIsValid(statement_role) || statement_role == GetUserId())
        return run();
    return as_user(statement_role, security_context() | kAsTableOwner, run);
}

uint64 exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
            int expected_rc) {
    int rc = as_statement_role([&] {
        return nargs > 0 ? SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0)
                         : SPI_execute(sql, false, 0);
    });
    check_rc(rc, expected_rc, sql);
    return SPI_processed;
}

uint64 exec_latest(const char *sql, int expected_rc) {
    SPIPlanPtr plan = prepare(sql, 0, nullptr);
    int rc = SPI_execute_snapshot(plan, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot,
                                  true, false, 0);
    check_rc(rc, expected_rc, sql);
    SPI_freeplan(plan);
    return SPI_processed;
}

SPIPlanPtr prepare(const char *sql, int nargs, Oid *types, int cursor_options) {
    SPIPlanPtr plan = SPI_prepare_cursor(sql, nargs, types, cursor_options);
    if (plan == nullptr)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("cascade_delete: SPI_prepare failed: %s",
                               SPI_result_code_string(SPI_result)),
                        errdetail("Statement: %s", sql)));
    return plan;
}

uint64 exec_with_oid(const char *sql, Oid oid) {
    Oid type = OIDOID;
    Datum v = ObjectIdGetDatum(oid);
    return exec(sql, 1, &type, &v, nullptr, SPI_OK_SELECT);
}

uint64 exec_with_oids(const char *sql, const char *oids_text) {
    Oid type = OIDARRAYOID;
    Datum v = OidInputFunctionCall(F_ARRAY_IN, const_cast<char *>(oids_text), OIDOID, -1);
    return exec(sql, 1, &type, &v, nullptr, SPI_OK_SELECT);
}

Oid column_type_or_none(Oid rel, const char *attname) {
    AttrNumber a = get_attnum(rel, attname);
    return a == InvalidAttrNumber ? InvalidOid : get_atttype(rel, a);
}

char *columns_equality(Oid child, const char *ccol, Oid parent, const char *pcol, bool cast_if_none,
                       char **cast) {
    Oid ct = column_type_or_none(child, ccol), pt = column_type_or_none(parent, pcol);
    if (!OidIsValid(ct) || !OidIsValid(pt))
        return nullptr;
    char *op = equality_operator(pt, ct);
    if (op == nullptr && cast_if_none) {
        *cast = format_type_be_qualified(ct);
        op = equality_operator(ct, ct);
    }
    return op;
}

void typed_literal(Oid rel, const char *col, const char *value, char **op, char **literal) {
    *op = *literal = nullptr;
    Oid t = column_type_or_none(rel, col);
    if (!OidIsValid(t))
        return;
    *op = equality_operator(t, t);
    *literal = psprintf("%s::%s", quote_literal_cstr(value), format_type_be_qualified(t));
}

void check_parses(const char *sql) { SPI_freeplan(prepare(sql, 0, nullptr)); }

void check_for_interrupts() { CHECK_FOR_INTERRUPTS(); }

// A call's progress: a NOTICE (cascade_delete.progress on), else at DEBUG1.
void progress(const char *message, bool as_notice) {
    ereport(as_notice ? NOTICE : DEBUG1, (errmsg_internal("%s", message)));
}

long temp_table_pages(const char *name) {
    Oid rel = get_relname_relid(name, LookupCreationNamespace("pg_temp"));
    if (!OidIsValid(rel))
        return -1L;
    Relation r = relation_open(rel, AccessShareLock);
    long n = static_cast<long>(RelationGetNumberOfBlocks(r));
    relation_close(r, AccessShareLock);
    return n;
}

bool rls_applies(Oid rel) { return check_enable_rls(rel, InvalidOid, true) == RLS_ENABLED; }

bool may_delete(Oid rel, Oid role) { return pg_class_aclcheck(rel, role, ACL_DELETE) == ACLCHECK_OK; }

bool temp_table_readable_by(const char *name, Oid role) {
    Oid rel = get_relname_relid(name, LookupCreationNamespace("pg_temp"));
    return OidIsValid(rel) && pg_class_aclcheck(rel, role, ACL_SELECT) == ACLCHECK_OK;
}

char *quoted_qualified(const char *nsp, const char *rel) {
    return psprintf("%s.%s", quote_identifier(nsp), quote_identifier(rel));
}

char *written_value_sql(Oid rel, const char *col, char set_kind, const char *value, bool *not_null) {
    AttrNumber a = get_attnum(rel, col);
    Oid typid, collation;
    int32 typmod;
    get_atttypetypmodcoll(rel, a, &typid, &typmod, &collation);
    *not_null = false;
    HeapTuple tup = SearchSysCacheAttNum(rel, a);
    if (HeapTupleIsValid(tup)) {
        *not_null = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup))->attnotnull;
        ReleaseSysCache(tup);
    }
    char *type = format_type_extended(typid, typmod, FORMAT_TYPE_FORCE_QUALIFY | FORMAT_TYPE_TYPEMOD_GIVEN);
    if (set_kind == 'v')
        return psprintf("CAST(%s AS %s)", quote_literal_cstr(value), type);
    Node *def = nullptr;
    if (set_kind == 'd') {
        Relation r = relation_open(rel, AccessShareLock);
        def = build_column_default(r, a);
        relation_close(r, AccessShareLock);
    }
    if (def == nullptr)
        return psprintf("CAST(NULL AS %s)", type);
    return psprintf("CAST((%s) AS %s)", deparse_expression(def, NIL, false, false), type);
}

void copy_result_arrays(int first, int n, Datum *values, Oid *types, uint64 *count) {
    for (int i = 0; i < n; ++i) {
        bool isnull;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, first + i, &isnull);
        if (isnull) // ARRAY() of no rows is an empty array
            elog(ERROR, "cascade_delete: NULL key array");
        types[i] = SPI_gettypeid(SPI_tuptable->tupdesc, first + i);
        // copied out of the result, which the next statement may free
        values[i] = datumCopy(d, false, -1);
        if (i == 0) {
            ArrayType *arr = DatumGetArrayTypeP(values[i]);
            *count = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
        }
    }
}

void spi_connect() {
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "cascade_delete: SPI_connect failed");
}

bool read_only() { return XactReadOnly || RecoveryInProgress(); }

bool uses_transaction_snapshot() { return IsolationUsesXactSnapshot(); }

bool may_lock_rows(Oid rel) {
    Oid user = GetUserId();
    return pg_class_aclcheck(rel, user, ACL_UPDATE) == ACLCHECK_OK ||
           pg_attribute_aclcheck_all(rel, user, ACL_UPDATE, ACLMASK_ANY) == ACLCHECK_OK;
}

SPIPlanPtr prepare_kept(const char *sql, int nargs, Oid *types, int cursor_options) {
    SPIPlanPtr plan = prepare(sql, nargs, types, cursor_options);
    SPI_keepplan(plan);
    return plan;
}

Oid array_type(Oid elem) {
    Oid t = get_array_type(elem);
    if (!OidIsValid(t))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cascade_delete: key type %s has no array type", format_type_be(elem))));
    return t;
}

char *type_name(Oid type) { return format_type_be_qualified(type); }

Oid column_type(Oid rel, const char *column) {
    if (strcmp(column, "ctid") == 0)
        return TIDOID;
    return get_atttype(rel, get_attnum(rel, column));
}

uint64 exec_plan(SPIPlanPtr plan, const char *sql, Datum *values, const char *nulls,
                 int expected_rc) {
    int rc = as_statement_role([&] { return SPI_execute_plan(plan, values, nulls, false, 0); });
    check_rc(rc, expected_rc, sql);
    return SPI_processed;
}

char *value(uint64 row, int col) {
    return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

Datum copied_datum(uint64 row, int col) {
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
    if (isnull)
        elog(ERROR, "cascade_delete: unexpected NULL in column %d", col);
    Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, col - 1);
    return datumCopy(d, att->attbyval, att->attlen);
}

CStrings text_array(uint64 row, int col) {
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
    CStrings out{0, nullptr};
    if (isnull)
        return out;
    ArrayType *arr = DatumGetArrayTypeP(d);
    Oid elemtype = ARR_ELEMTYPE(arr);
    int16 typlen;
    bool typbyval;
    char typalign;
    get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
    Datum *elems;
    bool *nulls;
    int n;
    deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
    out.n = n;
    out.items = static_cast<char **>(palloc0(sizeof(char *) * (n + 1)));
    for (int i = 0; i < n; ++i) {
        if (nulls[i])
            continue;
        if (elemtype == NAMEOID)
            out.items[i] = pstrdup(NameStr(*DatumGetName(elems[i])));
        else
            out.items[i] = TextDatumGetCString(elems[i]);
    }
    return out;
}

static char *operator_sql(Oid opr) {
    HeapTuple tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opr));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "cache lookup failed for operator %u", opr);
    Form_pg_operator form = (Form_pg_operator)GETSTRUCT(tup);
    char *nsp = get_namespace_name(form->oprnamespace);
    char *sql = psprintf("OPERATOR(%s.%s)", quote_identifier(nsp), NameStr(form->oprname));
    ReleaseSysCache(tup);
    return sql;
}

char *equality_operator(Oid left, Oid right) {
    Oid opclass = GetDefaultOpClass(right, BTREE_AM_OID);
    if (!OidIsValid(opclass))
        opclass = GetDefaultOpClass(left, BTREE_AM_OID);
    if (!OidIsValid(opclass))
        return nullptr;
    Oid family = get_opclass_family(opclass);
    Oid intype = get_opclass_input_type(opclass);
    Oid opr = get_opfamily_member(family, left, right, BTEqualStrategyNumber);
    if (!OidIsValid(opr) && IsBinaryCoercible(left, intype) && IsBinaryCoercible(right, intype))
        opr = get_opfamily_member(family, intype, intype, BTEqualStrategyNumber);
    return OidIsValid(opr) ? operator_sql(opr) : nullptr;
}

int safe_search_path() {
    int nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    return nest;
}

int citus_sequential_modifications() {
    int nest = NewGUCNestLevel();
    (void)set_config_option("citus.multi_shard_modify_mode", "sequential", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    return nest;
}

// Output formats every session reads back the same: a job's keys are written
// as text by the plan and read by runners with other settings (DateStyle
// 'SQL, DMY' would write 02/01/2024, which 'ISO, MDY' reads as February 1).
// Returns the GUC nest level to hand to restore_settings().
int portable_text_formats() {
    int nest = NewGUCNestLevel();
    (void)set_config_option("datestyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    (void)set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                            false);
    (void)set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                            false);
    (void)set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    return nest;
}

void check_is_table(Oid rel) {
    char relkind = get_rel_relkind(rel);
    if (relkind == '\0')
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation with OID %u does not exist", rel)));
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not a table", get_rel_name(rel))));
}

bool extension_has_column(const char *table, const char *column) {
    Oid rel = get_relname_relid(table, extension_schema());
    return OidIsValid(rel) && get_attnum(rel, column) != InvalidAttrNumber;
}

void extension_identity(Oid *schema, Oid *owner) {
    Oid ext = get_extension_oid("cascade_delete", false);
    Relation rel = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
    SysScanDesc scan = systable_beginscan(rel, ExtensionOidIndexId, true, nullptr, 1, &key);
    HeapTuple tup = systable_getnext(scan);
    *schema = HeapTupleIsValid(tup) ? ((Form_pg_extension)GETSTRUCT(tup))->extnamespace : InvalidOid;
    *owner = HeapTupleIsValid(tup) ? ((Form_pg_extension)GETSTRUCT(tup))->extowner : InvalidOid;
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
}

Oid extension_schema() {
    Oid schema, owner;
    extension_identity(&schema, &owner);
    return schema;
}

Oid extension_owner() {
    Oid schema, owner;
    extension_identity(&schema, &owner);
    return owner;
}

uint64 exec_as_extension_owner(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
                               int expected_rc) {
    return as_user(extension_owner(), security_context() | kRestricted,
                   [&] { return exec(sql, nargs, types, values, nulls, expected_rc); });
}


void restore_settings(int nest_level) { AtEOXact_GUC(true, nest_level); }

} // namespace pg

std::vector<std::string> to_vector(CStrings s) {
    std::vector<std::string> out;
    for (int i = 0; i < s.n; ++i)
        out.emplace_back(s.items[i] ? s.items[i] : "");
    return out;
}

std::string display_name(const std::string &nsp, const std::string &rel) {
    return pg_guard(pg::quoted_qualified, nsp.c_str(), rel.c_str());
}


} // namespace cd
