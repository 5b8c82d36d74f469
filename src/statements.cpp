// SPI-level building blocks of the executor: statements run through kept
// plans, batches of keys passed as arrays, and the conversion of the caller's
// key argument into arrays of the key's types.
#include "statements.hpp"

#include "limits.hpp"
#include "session.hpp"

#include "ri_bypass.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/snapmgr.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "utils/tuplestore.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "catalog/pg_collation.h"
}

#include <unordered_map>

namespace cd {

// pg::exec_plan, as user (restricted) unless InvalidOid.
static uint64 exec_plan_as(Oid user, SPIPlanPtr plan, const char *sql, Datum *values, const char *nulls, int rc) {
    if (!OidIsValid(user))
        return pg::exec_plan(plan, sql, values, nulls, rc);
    return pg::as_user(user, pg::security_context() | pg::kRestricted,
                       [&] { return pg::exec_plan(plan, sql, values, nulls, rc); });
}

uint64 run_batches(const BatchSpec *spec) {
    Portal portal = SPI_cursor_open(nullptr, spec->cursor_plan, const_cast<Datum *>(spec->cursor_values),
                                    spec->cursor_nulls, false);
    TupleDesc desc = portal->tupDesc;
    int ncols = desc->natts, nargs = ncols + spec->n_extra;
    Oid *elem = static_cast<Oid *>(palloc(sizeof(Oid) * ncols));
    int16 *typlen = static_cast<int16 *>(palloc(sizeof(int16) * ncols));
    bool *typbyval = static_cast<bool *>(palloc(sizeof(bool) * ncols));
    char *typalign = static_cast<char *>(palloc(ncols));
    for (int j = 0; j < ncols; ++j) {
        elem[j] = TupleDescAttr(desc, j)->atttypid;
        get_typlenbyvalalign(elem[j], &typlen[j], &typbyval[j], &typalign[j]);
    }
    MemoryContext batch_cxt =
        AllocSetContextCreate(CurrentMemoryContext, "cascade_delete batch", ALLOCSET_DEFAULT_SIZES);
    uint64 total = 0;
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        SPI_cursor_fetch(portal, true, spec->batch_size);
        SPITupleTable *rows = SPI_tuptable;
        uint64 n = SPI_processed;
        if (n == 0) {
            SPI_freetuptable(rows);
            break;
        }
        MemoryContext old = MemoryContextSwitchTo(batch_cxt);
        Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * nargs));
        char *nulls = static_cast<char *>(palloc(nargs));
        Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * n));
        bool *enulls = static_cast<bool *>(palloc(sizeof(bool) * n));
        for (int j = 0; j < ncols; ++j) {
            for (uint64 i = 0; i < n; ++i)
                elems[i] = SPI_getbinval(rows->vals[i], rows->tupdesc, j + 1, &enulls[i]);
            int dims[1] = {static_cast<int>(n)}, lbs[1] = {1};
            values[j] = PointerGetDatum(construct_md_array(elems, enulls, 1, dims, lbs, elem[j],
                                                           typlen[j], typbyval[j], typalign[j]));
            nulls[j] = ' ';
        }
        for (int k = 0; k < spec->n_extra; ++k) {
            values[ncols + k] = spec->extra_values[k];
            nulls[ncols + k] = ' ';
        }
        MemoryContextSwitchTo(old);
        ri::arm(spec->n_bypass, spec->bypass_rels, spec->bypass_cons);
        total += exec_plan_as(spec->stmt_user, spec->stmt_plan, spec->stmt_sql, values, nulls, spec->expected_rc);
        ri::disarm();
        SPI_freetuptable(SPI_tuptable);
        SPI_freetuptable(rows);
        MemoryContextReset(batch_cxt);
    }
    SPI_cursor_close(portal);
    MemoryContextDelete(batch_cxt);
    return total;
}

uint64 exec_bypassing_rows(SPIPlanPtr plan, const char *sql, int nargs, Oid *types, Datum *values,
                           const char *nulls, int rc, int n_bypass, const Oid *rels, const Oid *cons) {
    ri::arm(n_bypass, rels, cons);
    uint64 n = plan ? pg::exec_plan(plan, sql, values, nulls, rc) : pg::exec(sql, nargs, types, values, nulls, rc);
    ri::disarm();
    return n;
}

bool rows_of_other_transactions(uint64 n) {
    for (uint64 r = 0; r < n; ++r) {
        bool isnull;
        Datum x = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
        if (!TransactionIdIsCurrentTransactionId(DatumGetTransactionId(x)))
            return true;
    }
    return false;
}

int run_post_check(SPIPlanPtr plan, Datum *values, const char *nulls, int *which) {
    int rc = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(), InvalidSnapshot, false, false, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "cascade_delete: post-check failed: %s", SPI_result_code_string(rc));
    if (SPI_processed == 0)
        return 0;
    bool isnull;
    *which = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    TransactionId x = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    return TransactionIdIsCurrentTransactionId(x) ? 1 : XidInMVCCSnapshot(x, GetActiveSnapshot()) ? 2 : 3;
}

EphemeralNamedRelation register_key_set(const char *name, const char *shape_sql) {
    pg::exec(shape_sql, 0, nullptr, nullptr, nullptr, SPI_OK_SELECT);
    auto enr = static_cast<EphemeralNamedRelation>(palloc0(sizeof(EphemeralNamedRelationData)));
    enr->md.name = pstrdup(name);
    enr->md.reliddesc = InvalidOid;
    enr->md.tupdesc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
    enr->md.enrtype = ENR_NAMED_TUPLESTORE;
    enr->md.enrtuples = 0;
    enr->reldata = tuplestore_begin_heap(true, false, work_mem);
    SPI_freetuptable(SPI_tuptable);
    int rc = SPI_register_relation(enr);
    if (rc != SPI_OK_REL_REGISTER)
        elog(ERROR, "cascade_delete: SPI_register_relation failed: %s", SPI_result_code_string(rc));
    return enr;
}

void end_key_set(EphemeralNamedRelation enr) {
    if (enr->reldata) {
        tuplestore_end(static_cast<Tuplestorestate *>(enr->reldata));
        enr->reldata = nullptr;
    }
}

uint64 append_to_key_set(EphemeralNamedRelation enr, const char *sql, int nargs, Oid *types,
                         Datum *values, const char *nulls) {
    SPIPlanPtr plan = pg::prepare(sql, nargs, types);
    Portal portal = SPI_cursor_open(nullptr, plan, values, nulls, true);
    Tuplestorestate *added = tuplestore_begin_heap(false, false, work_mem);
    uint64 n = 0;
    for (;;) {
        SPI_cursor_fetch(portal, true, limits::kEphemeralFetchRows);
        if (SPI_processed == 0)
            break;
        for (uint64 r = 0; r < SPI_processed; ++r)
            tuplestore_puttuple(added, SPI_tuptable->vals[r]);
        n += SPI_processed;
        SPI_freetuptable(SPI_tuptable);
    }
    SPI_cursor_close(portal);
    SPI_freeplan(plan);
    TupleTableSlot *slot = MakeSingleTupleTableSlot(enr->md.tupdesc, &TTSOpsMinimalTuple);
    while (tuplestore_gettupleslot(added, true, false, slot))
        tuplestore_puttupleslot(static_cast<Tuplestorestate *>(enr->reldata), slot);
    ExecDropSingleTupleTableSlot(slot);
    tuplestore_end(added);
    enr->md.enrtuples += static_cast<double>(n);
    return n;
}

// Prepared plans kept for the session, by SQL text and parameter types: a
// small cascade runs a dozen statements whose parsing and planning would
// otherwise cost more than their execution. PostgreSQL's plan cache replans
// them when the tables they use change.
namespace {
} // namespace

void one_shot_plans(bool on) { session.one_shot_plans = on; }

SPIPlanPtr plan_for(const std::string &sql, const std::vector<Oid> &types, bool generic) {
    int options = generic ? CURSOR_OPT_GENERIC_PLAN : 0;
    if (session.one_shot_plans)
        return pg_guard(pg::prepare, sql.c_str(), static_cast<int>(types.size()),
                        const_cast<Oid *>(types.data()), options);
    std::string key = sql + (generic ? "\x02" : "");
    for (Oid t : types)
        key += "\x01" + std::to_string(t);
    auto it = session.plans.find(key);
    if (it != session.plans.end())
        return it->second;
    SPIPlanPtr plan = pg_guard(pg::prepare_kept, sql.c_str(), static_cast<int>(types.size()),
                               const_cast<Oid *>(types.data()), options);
    session.plans.emplace(std::move(key), plan);
    return plan;
}

// Called only at the start of an outermost call, when no plan of the cache is
// in use (a call holds plans it fetched; a nested call from a user trigger
// shares the cache with the call it interrupts).
void trim_plan_cache() {
    session.one_shot_plans = false; // an earlier call's error may have left it on
    if (session.plans.size() < limits::kMaxKeptPlans)
        return;
    for (auto &kv : session.plans) {
        SPIPlanPtr p = kv.second;
        pg_guard(SPI_freeplan, p);
    }
    session.plans.clear();
}

// Converts the caller's key argument into one array per identity column of the
// target (types pktypes). A single key of a composite primary key is an array
// of n values (or its text form); many keys are a 1-D array, or a 2-D array
// [keys][n] for a composite key. PostgreSQL code only.
void key_arrays(Datum key, Oid keytype, bool many, int n, const Oid *pktypes,
                const char *table, Datum *out) {
    Datum *elems;
    bool *enulls;
    int nelems;
    Oid elemtype;
    if (!many && n == 1) {
        Datum v = key;
        if (keytype != pktypes[0]) {
            Oid outfunc, infunc, ioparam;
            bool varlena;
            getTypeOutputInfo(keytype, &outfunc, &varlena);
            getTypeInputInfo(pktypes[0], &infunc, &ioparam);
            v = OidInputFunctionCall(infunc, OidOutputFunctionCall(outfunc, v), ioparam, -1);
        }
        int16 len;
        bool byval;
        char align;
        get_typlenbyvalalign(pktypes[0], &len, &byval, &align);
        out[0] = PointerGetDatum(construct_array(&v, 1, pktypes[0], len, byval, align));
        return;
    }
    if (!OidIsValid(get_element_type(keytype))) {
        if (keytype == TEXTOID) {
            // through fmgr with flinfo: array_in caches in fn_extra
            key = OidInputFunctionCall(F_ARRAY_IN, TextDatumGetCString(key), TEXTOID, -1);
            keytype = TEXTARRAYOID;
        } else
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("the primary key of table %s has %d columns; give the key as an array",
                            table, n),
                     errhint("For example: cascade_delete('%s', ARRAY['1', 'x']).", table)));
    }
    ArrayType *arr = DatumGetArrayTypeP(key);
    elemtype = ARR_ELEMTYPE(arr);
    int ndim = ARR_NDIM(arr);
    int *dims = ARR_DIMS(arr);
    int16 len;
    bool byval;
    char align;
    get_typlenbyvalalign(elemtype, &len, &byval, &align);
    deconstruct_array(arr, elemtype, len, byval, align, &elems, &enulls, &nelems);
    if (nelems == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("no key given for table %s", table)));
    bool shape_ok;
    if (!many)
        shape_ok = ndim == 1 && dims[0] == n;
    else if (n == 1)
        shape_ok = ndim == 1;
    else
        shape_ok = ndim == 2 && dims[1] == n;
    if (!shape_ok)
        ereport(ERROR,
                (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                 errmsg("wrong key shape for table %s, whose primary key has %d column%s", table,
                        n, n == 1 ? "" : "s"),
                 errdetail(many ? (n == 1 ? "Many keys are given as a one-dimensional array."
                                          : "Many keys of a composite primary key are given as a "
                                            "two-dimensional array [keys][columns].")
                                : "One key of a composite primary key is given as an array with "
                                  "one value per key column.")));
    int nkeys = nelems / n;
    for (int c = 0; c < n; ++c) {
        Datum *col = static_cast<Datum *>(palloc(sizeof(Datum) * nkeys));
        Oid outfunc, infunc, ioparam;
        bool varlena;
        getTypeOutputInfo(elemtype, &outfunc, &varlena);
        getTypeInputInfo(pktypes[c], &infunc, &ioparam);
        for (int k = 0; k < nkeys; ++k) {
            int i = k * n + c;
            if (enulls[i])
                ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                                errmsg("key for table %s must not contain NULL", table)));
            col[k] = elemtype == pktypes[c]
                         ? elems[i]
                         : OidInputFunctionCall(infunc, OidOutputFunctionCall(outfunc, elems[i]),
                                                ioparam, -1);
        }
        int16 clen;
        bool cbyval;
        char calign;
        get_typlenbyvalalign(pktypes[c], &clen, &cbyval, &calign);
        out[c] = PointerGetDatum(construct_array(col, nkeys, pktypes[c], clen, cbyval, calign));
    }
}

Datum text_to_datum(const char *text, Oid type) {
    Oid infunc, ioparam;
    getTypeInputInfo(type, &infunc, &ioparam);
    return OidInputFunctionCall(infunc, const_cast<char *>(text), ioparam, -1);
}

// Runs generated SQL through a kept plan.
uint64 exec(const std::string &sql, int rc) { return exec(sql, rc, Params()); }

uint64 exec(const std::string &sql, int rc, const Params &p, bool generic) {
    SPIPlanPtr plan = plan_for(sql, p.types, generic || p.key_arrays);
    return pg_guard(pg::exec_plan, plan, sql.c_str(), const_cast<Datum *>(p.values.data()),
                    p.nulls.data(), rc);
}

// Runs SQL once: utility statements, and statements holding the caller's text.
uint64 exec_once(const std::string &sql, int rc) {
    return pg_guard(pg::exec, sql.c_str(), 0, nullptr, nullptr, nullptr, rc);
}

uint64 exec_once(const std::string &sql, int rc, const Params &p) {
    return pg_guard(pg::exec, sql.c_str(), static_cast<int>(p.types.size()), const_cast<Oid *>(p.types.data()),
                    const_cast<Datum *>(p.values.data()), static_cast<const char *>(p.nulls.data()), rc);
}

// Array types of the given element types.
std::vector<Oid> array_types(const std::vector<Oid> &elems) {
    std::vector<Oid> out;
    for (Oid e : elems) {
        out.push_back(pg_guard(pg::array_type, e));
    }
    return out;
}

// Types of columns of a relation.
std::vector<Oid> column_types(Oid rel, const std::vector<std::string> &cols) {
    std::vector<Oid> out;
    for (const auto &c : cols)
        out.push_back(pg_guard(pg::column_type, rel, c.c_str()));
    return out;
}

// The key column types of a key table, "typid:typmod" each: part of its name,
// so a changed column type gets a new table. PostgreSQL code only.
CStrings column_types_sql(Oid rel, int n, const char *const *cols) {
    CStrings out{n, static_cast<char **>(palloc(sizeof(char *) * (n > 0 ? n : 1)))};
    for (int i = 0; i < n; ++i) {
        Oid type;
        int32 typmod;
        Oid coll;
        get_atttypetypmodcoll(rel, get_attnum(rel, cols[i]), &type, &typmod, &coll);
        char *t = format_type_extended(type, typmod, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
        if (OidIsValid(coll) && coll != DEFAULT_COLLATION_OID && coll != get_typcollation(type))
            t = psprintf("%s COLLATE %s", t, generate_collation_name(coll));
        out.items[i] = t;
    }
    return out;
}

void exec_unrestricted(const char *sql) {
    (void)pg::as_user(GetUserId(), pg::security_context() & ~SECURITY_RESTRICTED_OPERATION,
                      [&] { return pg::exec(sql, 0, nullptr, nullptr, nullptr, SPI_OK_UTILITY); });
}

char *column_signature(Oid rel, int n, const char *const *cols) {
    StringInfoData buf;
    initStringInfo(&buf);
    for (int i = 0; i < n; ++i) {
        AttrNumber a = get_attnum(rel, cols[i]);
        if (a == InvalidAttrNumber)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" of relation \"%s\" does not exist", cols[i],
                                   get_rel_name(rel))));
        Oid type;
        int32 typmod;
        Oid coll;
        get_atttypetypmodcoll(rel, a, &type, &typmod, &coll);
        appendStringInfo(&buf, "%u:%d:%u,", type, typmod, coll);
    }
    return buf.data;
}

} // namespace cd
