// cascade_delete_set_policy / cascade_delete_drop_policy: validate a policy
// against the catalog, check that the caller owns the table, and write the
// policy table as its owner (the table itself is not writable by others).
#include "model.hpp"
#include "pgutil.hpp"
#include "sql.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "utils/rel.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PGDLLEXPORT Datum cascade_delete_set_policy(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_drop_policy(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cascade_delete_policy_changed(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cascade_delete_set_policy);
PG_FUNCTION_INFO_V1(cascade_delete_drop_policy);
PG_FUNCTION_INFO_V1(cascade_delete_policy_changed);
}

namespace {

using cd::Action;

// The table must exist, be a plain or partitioned table, and be the caller's.
// Not a temporary table: it vanishes at the end of its session (or by DISCARD,
// or ON COMMIT DROP) without the event that drops its policies, and its
// policies would bind other sessions' deletes to a table they cannot see.
void check_owned_table(Oid rel, bool must_own) {
    cd::pg::check_is_table(rel);
    if (get_rel_persistence(rel) == RELPERSISTENCE_TEMP)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cascade_delete: \"%s\" is a temporary table; policies are for "
                               "permanent tables only",
                               get_rel_name(rel)),
                        errdetail("A temporary table ends with its session without the event that "
                                  "drops its policies.")));
    if (must_own && !pg_class_ownercheck(rel, GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(rel));
}

// Attribute numbers of the names in a text[]; errors for missing or repeated columns.
AttrNumber *column_numbers(Oid rel, ArrayType *names, int *n, char ***out_names) {
    Datum *elems;
    bool *nulls;
    deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
    if (*n == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("column list must not be empty")));
    AttrNumber *nums = static_cast<AttrNumber *>(palloc(sizeof(AttrNumber) * *n));
    *out_names = static_cast<char **>(palloc(sizeof(char *) * *n));
    for (int i = 0; i < *n; ++i) {
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("column names must not be NULL")));
        char *name = TextDatumGetCString(elems[i]);
        AttrNumber a = get_attnum(rel, name);
        if (a <= 0)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" of relation \"%s\" does not exist", name,
                                   get_rel_name(rel))));
        for (int j = 0; j < i; ++j)
            if (nums[j] == a)
                ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                                errmsg("column \"%s\" appears twice in the column list", name)));
        nums[i] = a;
        (*out_names)[i] = name;
    }
    return nums;
}

// The catalog row of a column (NOT NULL flag and type modifier).
Form_pg_attribute attribute(Oid rel, AttrNumber num, HeapTuple *tup) {
    *tup = SearchSysCacheAttNum(rel, num);
    if (!HeapTupleIsValid(*tup))
        elog(ERROR, "cache lookup failed for attribute %d of relation %u", num, rel);
    return (Form_pg_attribute)GETSTRUCT(*tup);
}

bool same_columns(int n, const AttrNumber *a, ArrayType *arr) {
    Datum *elems;
    bool *nulls;
    int m;
    deconstruct_array(arr, INT2OID, 2, true, TYPALIGN_SHORT, &elems, &nulls, &m);
    if (m != n)
        return false;
    for (int i = 0; i < n; ++i) {
        bool found = false;
        for (int j = 0; j < m; ++j)
            found = found || DatumGetInt16(elems[j]) == a[i];
        if (!found)
            return false;
    }
    return true;
}

Datum names_array(int n, char **names) {
    Datum *d = static_cast<Datum *>(palloc(sizeof(Datum) * n));
    for (int i = 0; i < n; ++i)
        d[i] = CStringGetTextDatum(names[i]);
    return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

// Runs sql with args as the owner of the policy table (the extension's owner),
// the way a SECURITY DEFINER function would, after the caller's checks passed.
uint64 exec_as_policy_owner(const char *sql, int nargs, Oid *types, Datum *values,
                            const char *nulls, int rc) {
    Oid ns = cd::pg::extension_schema();
    Oid policy = get_relname_relid("cascade_delete_policy", ns);
    if (!OidIsValid(policy))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("cascade_delete: policy table is missing")));
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(policy));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "cache lookup failed for relation %u", policy);
    Oid owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);
    char *full = psprintf(sql, quote_identifier(get_namespace_name(ns)));
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    // On error the (sub)transaction's abort restores the user id.
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                      SECURITY_RESTRICTED_OPERATION);
    int nest = cd::pg::safe_search_path();
    uint64 n = cd::pg::exec(full, nargs, types, values, nulls, rc);
    cd::pg::restore_settings(nest);
    SetUserIdAndSecContext(save_user, save_sec);
    // Every backend's cached table graph sees the change through the policy
    // table's trigger (cascade_delete_policy_changed).
    return n;
}

// The policies of child $1 on the same columns as $2 (in any order): all of
// them when $3 (a parent) is NULL, else those towards $3 (and, when $4 says
// the new policy is a generic relation, only generic ones are kept apart).
const char *const DELETE_POLICY_SQL =
    "DELETE FROM %s.cascade_delete_policy WHERE child = $1"
    " AND ARRAY(SELECT x FROM unnest(columns::text[]) x ORDER BY x)"
    "   = ARRAY(SELECT x FROM unnest($2::text[]) x ORDER BY x)"
    " AND ($3::oid IS NULL OR parent = $3 OR ($4 AND type_column IS NULL))";

struct Args {
    Oid child, parent;
    ArrayType *cols, *pcols;
    char *action, *value;
    bool parent_link;
    char *type_column, *type_value; // a generic relation's discriminator
};

// What set_policy() resolves from its arguments: the policy's columns (in the
// foreign key's order when it is one), their numbers, the parent and its
// columns, and the foreign key's name when the policy is on a real one.
struct Resolved {
    int n = 0;
    char **cols = nullptr;
    AttrNumber *nums = nullptr;
    Oid parent = InvalidOid;
    char **pcols = nullptr;
    const char *fkname = nullptr;
};

// The real foreign key on (child, columns), towards parent when given; none
// for a generic relation. Its columns then take the constraint's order.
void find_foreign_key(const Args &a, Resolved &res) {
    // Is (child, columns) a real foreign key?
    Oid argtypes[1] = {OIDOID};
    Datum args[1] = {ObjectIdGetDatum(a.child)};
    // A generic relation is never a catalog foreign key.
    uint64 nfk = a.type_column ? 0 : cd::pg::exec("SELECT confrelid, conkey, confkey, conname::text FROM pg_constraint"
                              " WHERE contype = 'f' AND conparentid = 0 AND conrelid = $1",
                              1, argtypes, args, nullptr, SPI_OK_SELECT);
    for (uint64 r = 0; r < nfk; ++r) {
        bool isnull;
        HeapTuple tup = SPI_tuptable->vals[r];
        TupleDesc desc = SPI_tuptable->tupdesc;
        ArrayType *conkey = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 2, &isnull));
        Oid fparent = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
        if (!same_columns(res.n, res.nums, conkey) || (OidIsValid(a.parent) && a.parent != fparent))
            continue;
        if (res.fkname)
            ereport(ERROR, (errcode(ERRCODE_AMBIGUOUS_PARAMETER),
                            errmsg("more than one foreign key of \"%s\" uses these columns",
                                   get_rel_name(a.child)),
                            errhint("Give parent to choose one.")));
        res.fkname = SPI_getvalue(tup, desc, 4);
        res.parent = fparent;
        // Store the columns in the constraint's order, with its referenced columns.
        Datum *k, *fk;
        bool *kn, *fkn;
        int m;
        deconstruct_array(conkey, INT2OID, 2, true, TYPALIGN_SHORT, &k, &kn, &m);
        ArrayType *confkey = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 3, &isnull));
        deconstruct_array(confkey, INT2OID, 2, true, TYPALIGN_SHORT, &fk, &fkn, &m);
        res.pcols = static_cast<char **>(palloc(sizeof(char *) * res.n));
        for (int i = 0; i < res.n; ++i) {
            res.cols[i] = get_attname(a.child, DatumGetInt16(k[i]), false);
            res.nums[i] = DatumGetInt16(k[i]);
            res.pcols[i] = get_attname(res.parent, DatumGetInt16(fk[i]), false);
        }
    }
}

// Given parent_columns must be the foreign key's referenced columns.
void check_parent_columns(const Args &a, Resolved &res) {
    if (res.fkname && a.pcols) {
        int m;
        char **given;
        AttrNumber *gnums = column_numbers(res.parent, a.pcols, &m, &given);
        bool same = m == res.n;
        for (int i = 0; same && i < res.n; ++i)
            same = gnums[i] == get_attnum(res.parent, res.pcols[i]);
        if (!same)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("parent_columns do not match foreign key \"%s\"", res.fkname)));
    }
}

// A foreign key that exists only in the application: the parent (the caller
// owns it or has REFERENCES), its columns (a unique key), comparable types.
void resolve_application_only(const Args &a, Resolved &res) {
    Oid argtypes[1] = {OIDOID};
    {
        // A foreign key that exists only in the application.
        if (!OidIsValid(a.parent))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("no foreign key of \"%s\" uses these columns",
                                   get_rel_name(a.child)),
                            errhint("Give parent (and parent_columns unless they are its primary "
                                    "key) to declare a foreign key that exists only in the "
                                    "application.")));
        check_owned_table(a.parent, false);
        res.parent = a.parent;
        AclResult acl = pg_class_aclcheck(res.parent, GetUserId(), ACL_REFERENCES);
        if (acl != ACLCHECK_OK)
            aclcheck_error(acl, OBJECT_TABLE, get_rel_name(res.parent));
        int m;
        AttrNumber *pnums;
        if (a.pcols)
            pnums = column_numbers(res.parent, a.pcols, &m, &res.pcols);
        else {
            Datum pa[1] = {ObjectIdGetDatum(res.parent)};
            uint64 k = cd::pg::exec("SELECT array_agg(a.attname::text ORDER BY k.o) FROM pg_index i CROSS JOIN"
                                    " unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)"
                                    " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
                                    " WHERE i.indrelid = $1 AND i.indisprimary AND k.o <= i.indnkeyatts",
                                    1, argtypes, pa, nullptr, SPI_OK_SELECT);
            bool isnull = true;
            Datum arr = k ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)
                          : (Datum)0;
            if (isnull)
                ereport(ERROR, (errcode(ERRCODE_INVALID_FOREIGN_KEY),
                                errmsg("table \"%s\" has no primary key; give parent_columns",
                                       get_rel_name(res.parent))));
            pnums = column_numbers(res.parent, DatumGetArrayTypeP(arr), &m, &res.pcols);
        }
        if (m != res.n)
            ereport(ERROR, (errcode(ERRCODE_INVALID_FOREIGN_KEY),
                            errmsg("number of referencing and referenced columns differ")));
        // The referenced columns must be exactly a unique index's columns.
        Oid t2[2] = {OIDOID, TEXTARRAYOID};
        Datum a2[2] = {ObjectIdGetDatum(res.parent), names_array(res.n, res.pcols)};
        uint64 u = cd::pg::exec(
            "SELECT 1 FROM pg_index i WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL"
            " AND i.indexprs IS NULL AND i.indnkeyatts = cardinality($2)"
            " AND ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)"
            "   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
            "   WHERE k.o <= i.indnkeyatts ORDER BY 1)"
            " = ARRAY(SELECT x FROM unnest($2) x ORDER BY 1)",
            2, t2, a2, nullptr, SPI_OK_SELECT);
        if (u == 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_FOREIGN_KEY),
                            errmsg("there is no unique constraint matching given keys for "
                                   "referenced table \"%s\"",
                                   get_rel_name(res.parent))));
        for (int i = 0; i < res.n; ++i) {
            Oid ct = get_atttype(a.child, res.nums[i]), pt = get_atttype(res.parent, pnums[i]);
            // A generic relation's object id is often text for any key type:
            // without an operator, it is compared with the key cast to its type.
            if (cd::pg::equality_operator(pt, ct) == nullptr && !a.type_column)
                ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                                errmsg("column \"%s\" (%s) cannot reference \"%s\" (%s)", res.cols[i],
                                       format_type_be(ct), res.pcols[i], format_type_be(pt))));
        }
    }

}

// type_column exists, is not a policy column, reads type_value, compares.
void check_generic_relation(const Args &a, Resolved &res) {
    if (a.type_column) {
        AttrNumber tnum = get_attnum(a.child, a.type_column);
        if (tnum <= 0)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" of relation \"%s\" does not exist",
                                   a.type_column, get_rel_name(a.child))));
        for (int i = 0; i < res.n; ++i)
            if (res.nums[i] == tnum)
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("type_column \"%s\" is one of the policy's columns",
                                       a.type_column)));
        Oid infunc, ioparam;
        getTypeInputInfo(get_atttype(a.child, tnum), &infunc, &ioparam);
        HeapTuple tup;
        int32 typmod = attribute(a.child, tnum, &tup)->atttypmod;
        ReleaseSysCache(tup);
        (void)OidInputFunctionCall(infunc, a.type_value, ioparam, typmod);
        if (cd::pg::equality_operator(get_atttype(a.child, tnum), get_atttype(a.child, tnum)) ==
            nullptr)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                            errmsg("type_column \"%s\" has no equality operator", a.type_column)));
    }
}

// A parent link cascades, is no generic relation, and compares both ways.
void check_parent_link(const Args &a, Action action, Resolved &res) {
    if (a.parent_link) {
        if (action != Action::Cascade)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("parent_link needs action CASCADE")));
        if (a.type_column)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("a generic relation cannot be a parent link")));
        // The parent's rows are found from the child's: the other way round.
        for (int i = 0; i < res.n; ++i) {
            Oid ct = get_atttype(a.child, res.nums[i]), pt = get_atttype(res.parent, get_attnum(res.parent, res.pcols[i]));
            if (cd::pg::equality_operator(ct, pt) == nullptr)
                ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                                errmsg("no equality operator for %s = %s", format_type_be(ct),
                                       format_type_be(pt))));
        }
    }

}

// SET_NULL needs nullable columns; SET needs one column and a value its type reads.
void check_action(const Args &a, Action action, Resolved &res) {
    // Action-specific checks.
    if (action == Action::SetNull)
        for (int i = 0; i < res.n; ++i)
        {
            HeapTuple tup;
            bool notnull = attribute(a.child, res.nums[i], &tup)->attnotnull;
            ReleaseSysCache(tup);
            if (notnull)
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("SET_NULL on column \"%s\" of \"%s\", which is NOT NULL",
                                       res.cols[i], get_rel_name(a.child))));
        }
    if (action == Action::SetValue) {
        if (a.value == nullptr)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("action SET needs a value")));
        if (res.n != 1)
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("action SET with a value needs a single-column foreign key")));
        Oid infunc, ioparam;
        getTypeInputInfo(get_atttype(a.child, res.nums[0]), &infunc, &ioparam);
        HeapTuple tup;
        int32 typmod = attribute(a.child, res.nums[0], &tup)->atttypmod;
        ReleaseSysCache(tup);
        (void)OidInputFunctionCall(infunc, a.value, ioparam, typmod);
    } else if (a.value != nullptr)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("only action SET takes a value")));
}

// Replaces the policies on these columns by this one, as the policy table's owner.
void write_policy(const Args &a, Action action, Resolved &res) {
    Datum *cnum = static_cast<Datum *>(palloc(sizeof(Datum) * res.n));
    Datum *pnum = static_cast<Datum *>(palloc(sizeof(Datum) * res.n));
    for (int i = 0; i < res.n; ++i) {
        cnum[i] = Int16GetDatum(get_attnum(a.child, res.cols[i]));
        pnum[i] = Int16GetDatum(get_attnum(res.parent, res.pcols[i]));
    }
    Oid t11[11] = {OIDOID, TEXTARRAYOID, TEXTOID, TEXTOID, OIDOID, TEXTARRAYOID, BOOLOID, TEXTOID,
                   TEXTOID, INT2ARRAYOID, INT2ARRAYOID};
    Oid *t9 = t11;
    Datum v9[11] = {ObjectIdGetDatum(a.child),
                   names_array(res.n, res.cols),
                   CStringGetTextDatum(cd::action_name(action)),
                   a.value ? CStringGetTextDatum(a.value) : (Datum)0,
                   ObjectIdGetDatum(res.parent),
                   names_array(res.n, res.pcols),
                   BoolGetDatum(a.parent_link),
                   a.type_column ? CStringGetTextDatum(a.type_column) : (Datum)0,
                   a.type_value ? CStringGetTextDatum(a.type_value) : (Datum)0,
                   PointerGetDatum(construct_array(cnum, res.n, INT2OID, 2, true, TYPALIGN_SHORT)),
                   PointerGetDatum(construct_array(pnum, res.n, INT2OID, 2, true, TYPALIGN_SHORT))};
    char nulls9[12] = "           ";
    if (!a.value)
        nulls9[3] = 'n';
    if (!a.type_column)
        nulls9[7] = nulls9[8] = 'n';
    // Replacing: every other policy on these columns, but for a generic
    // relation only its own parent's and non-generic ones.
    Oid td[4] = {OIDOID, TEXTARRAYOID, OIDOID, BOOLOID};
    Datum vd[4] = {v9[0], v9[1], v9[4], BoolGetDatum(a.type_column != nullptr)};
    char nd[5] = "    ";
    if (!a.type_column)
        nd[2] = 'n';
    exec_as_policy_owner(DELETE_POLICY_SQL, 4, td, vd, nd, SPI_OK_DELETE);
    exec_as_policy_owner("INSERT INTO %s.cascade_delete_policy"
                         " (child, columns, action, value, parent, parent_columns, parent_link,"
                         " type_column, type_value, attnums, parent_attnums)"
                         " VALUES ($1, $2::name[], $3, $4, $5, $6::name[], $7, $8::name, $9, $10, $11)",
                         11, t9, v9, nulls9, SPI_OK_INSERT);
}

// Validates a policy against the catalog and writes it.
void set_policy(const Args &a, Action action) {
    check_owned_table(a.child, true);
    Resolved res;
    res.nums = column_numbers(a.child, a.cols, &res.n, &res.cols);
    cd::pg::spi_connect();
    int nest = cd::pg::safe_search_path();
    find_foreign_key(a, res);
    check_parent_columns(a, res);
    if (!res.fkname)
        resolve_application_only(a, res);
    if (a.type_column)
        check_generic_relation(a, res);
    if (a.parent_link)
        check_parent_link(a, action, res);
    check_action(a, action, res);
    cd::pg::restore_settings(nest);
    write_policy(a, action, res);
    SPI_finish();
}

// The arguments of cascade_delete_set_policy.
Args read_policy_arguments(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("child, columns and action must not be NULL")));
    Args r;
    r.child = PG_GETARG_OID(0);
    r.cols = PG_GETARG_ARRAYTYPE_P(1);
    r.action = text_to_cstring(PG_GETARG_TEXT_PP(2));
    r.value = PG_ARGISNULL(3) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(3));
    r.parent = PG_ARGISNULL(4) ? InvalidOid : PG_GETARG_OID(4);
    r.pcols = PG_ARGISNULL(5) ? nullptr : PG_GETARG_ARRAYTYPE_P(5);
    r.parent_link = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
    r.type_column = PG_ARGISNULL(7) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(7));
    r.type_value = PG_ARGISNULL(8) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(8));
    if ((r.type_column == nullptr) != (r.type_value == nullptr))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("type_column and type_value go together")));
    if (r.type_column && r.parent == InvalidOid)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("a generic relation (type_column) needs parent")));
    return r;
}

// cascade_delete_drop_policy's work: the caller must own child.
Datum drop_policy(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("child and columns must not be NULL")));
    Oid child = PG_GETARG_OID(0);
    if (!pg_class_ownercheck(child, GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(child));
    cd::pg::spi_connect();
    Oid types[4] = {OIDOID, TEXTARRAYOID, OIDOID, BOOLOID};
    Datum values[4] = {ObjectIdGetDatum(child), PG_GETARG_DATUM(1),
                       PG_ARGISNULL(2) ? (Datum)0 : PG_GETARG_DATUM(2), BoolGetDatum(false)};
    char nulls[5] = "    ";
    if (PG_ARGISNULL(2))
        nulls[2] = 'n';
    uint64 n = exec_as_policy_owner(DELETE_POLICY_SQL, 4, types, values, nulls,
                                    SPI_OK_DELETE);
    SPI_finish();
    return BoolGetDatum(n > 0);
}

} // namespace

// cascade_delete_set_policy(child, columns, action, value, parent, parent_columns)
Datum cascade_delete_set_policy(PG_FUNCTION_ARGS) {
    return cd::cpp_entry([&]() -> Datum {
        Args a = cd::pg_guard(read_policy_arguments, fcinfo);
        bool ok;
        Action action = cd::parse_action(a.action, &ok);
        if (!ok)
            throw cd::make_error(ERRCODE_INVALID_PARAMETER_VALUE,
                                 std::string("unknown action \"") + a.action + "\"",
                                 "Actions: CASCADE, PROTECT, RESTRICT, SET_NULL, SET_DEFAULT, SET, "
                                 "DO_NOTHING.");
        cd::pg_guard(set_policy, a, action);
        return (Datum)0;
    });
}

// cascade_delete_drop_policy(child, columns, parent) returns whether a policy was dropped
Datum cascade_delete_drop_policy(PG_FUNCTION_ARGS) {
    return cd::cpp_entry([&]() -> Datum {
        return cd::pg_guard(drop_policy, fcinfo);
    });
}

// Trigger on the policy table (ENABLE ALWAYS, so that logical replication's
// apply worker and pg_restore fire it too; a row trigger, since the apply
// worker fires no statement triggers): any committed write, however made,
// marks every backend's cached table graph stale.
Datum cascade_delete_policy_changed(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("cascade_delete_policy_changed: not called as a trigger")));
    TriggerData *td = reinterpret_cast<TriggerData *>(fcinfo->context);
    CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
    return PointerGetDatum(nullptr);
}
