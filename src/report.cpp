// Report: the call's counts (and a dry run's blockers) as JSON.
#include "cascade_call.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

#include <map>
#include <set>
#include <string>
#include <vector>

namespace cd {

namespace {
// PostgreSQL side of the report: jsonb built value by value with
// pushJsonbValue, from plain C data. Each runs inside pg_guard().
void push_key(JsonbParseState **state, const char *key) {
    JsonbValue v;
    v.type = jbvString;
    v.val.string.val = const_cast<char *>(key);
    v.val.string.len = static_cast<int>(strlen(key));
    pushJsonbValue(state, WJB_KEY, &v);
}

void push_string(JsonbParseState **state, const char *s, JsonbIteratorToken token) {
    JsonbValue v;
    if (s == nullptr)
        v.type = jbvNull;
    else {
        v.type = jbvString;
        v.val.string.val = const_cast<char *>(s);
        v.val.string.len = static_cast<int>(strlen(s));
    }
    pushJsonbValue(state, token, &v);
}

void push_count(JsonbParseState **state, uint64 n, JsonbIteratorToken token) {
    JsonbValue v;
    v.type = jbvNumeric;
    v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(static_cast<int64>(n))));
    pushJsonbValue(state, token, &v);
}

void push_bool(JsonbParseState **state, bool b) {
    JsonbValue v;
    v.type = jbvBool;
    v.val.boolean = b;
    pushJsonbValue(state, WJB_VALUE, &v);
}

// {"name": count, ...} as the value of key.
void push_counts(JsonbParseState **state, const char *key, int n, const char *const *names,
                 const uint64 *counts) {
    push_key(state, key);
    pushJsonbValue(state, WJB_BEGIN_OBJECT, nullptr);
    for (int i = 0; i < n; ++i) {
        push_key(state, names[i]);
        push_count(state, counts[i], WJB_VALUE);
    }
    pushJsonbValue(state, WJB_END_OBJECT, nullptr);
}

// ["s", ...] as the value of key.
void push_strings(JsonbParseState **state, const char *key, int n, const char *const *items) {
    push_key(state, key);
    pushJsonbValue(state, WJB_BEGIN_ARRAY, nullptr);
    for (int i = 0; i < n; ++i)
        push_string(state, items[i], WJB_ELEM);
    pushJsonbValue(state, WJB_END_ARRAY, nullptr);
}

// The report as plain C data, for build_report().
struct ReportBlocker {
    const char *table, *referenced, *action, *constraint; // constraint NULL for a policy-only key
    bool policy;
    uint64 count;
    int ncolumns, nkeys;
    const char *const *columns;
    const char *const *keys;
};

struct ReportData {
    MemoryContext cxt; // where the jsonb goes
    uint64 total;
    int ndeleted, nupdated;
    const char *const *deleted_names;
    const uint64 *deleted_counts;
    const char *const *updated_names;
    const uint64 *updated_counts;
    bool dry_run, max_rows_exceeded;
    int nestimated;
    const char *const *estimated; // tables whose count is an estimate (count_leaf)
    int nblockers;
    const ReportBlocker *blockers;
};

Datum build_report(const ReportData *d) {
    MemoryContext old = MemoryContextSwitchTo(d->cxt);
    JsonbParseState *state = nullptr;
    pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
    push_key(&state, "total");
    push_count(&state, d->total, WJB_VALUE);
    push_counts(&state, "deleted", d->ndeleted, d->deleted_names, d->deleted_counts);
    push_counts(&state, "updated", d->nupdated, d->updated_names, d->updated_counts);
    if (d->dry_run) {
        push_key(&state, "dry_run");
        push_bool(&state, true);
        push_key(&state, "blocked");
        pushJsonbValue(&state, WJB_BEGIN_ARRAY, nullptr);
        for (int i = 0; i < d->nblockers; ++i) {
            const ReportBlocker &b = d->blockers[i];
            pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
            push_key(&state, "table");
            push_string(&state, b.table, WJB_VALUE);
            push_strings(&state, "columns", b.ncolumns, b.columns);
            push_key(&state, "referenced_table");
            push_string(&state, b.referenced, WJB_VALUE);
            push_key(&state, "action");
            push_string(&state, b.action, WJB_VALUE);
            push_key(&state, "constraint");
            push_string(&state, b.constraint, WJB_VALUE);
            push_key(&state, "policy");
            push_bool(&state, b.policy);
            push_key(&state, "count");
            push_count(&state, b.count, WJB_VALUE);
            push_strings(&state, "keys", b.nkeys, b.keys);
            pushJsonbValue(&state, WJB_END_OBJECT, nullptr);
        }
        pushJsonbValue(&state, WJB_END_ARRAY, nullptr);
        if (d->max_rows_exceeded) {
            push_key(&state, "max_rows_exceeded");
            push_bool(&state, true);
        }
        if (d->nestimated > 0)
            push_strings(&state, "estimated", d->nestimated, d->estimated);
    }
    JsonbValue *result = pushJsonbValue(&state, WJB_END_OBJECT, nullptr);
    Datum jsonb = JsonbPGetDatum(JsonbValueToJsonb(result));
    MemoryContextSwitchTo(old);
    return jsonb;
}

// Table names and counts, as parallel arrays.
struct Counts {
    std::vector<const char *> names;
    std::vector<uint64> counts;
    explicit Counts(const std::map<std::string, uint64> &m) {
        for (const auto &[k, v] : m) {
            names.push_back(k.c_str());
            counts.push_back(v);
        }
    }
};

std::vector<const char *> c_strings(const std::vector<std::string> &v) {
    std::vector<const char *> out;
    for (const auto &s : v)
        out.push_back(s.c_str());
    return out;
}
} // namespace

// The report as jsonb, allocated in result_cxt (the caller's context: it
// outlives the call's SPI connection). Counts per table name (a nested call
// from a trigger may have added tables to the shared model since this call
// sized its counters: deleted_.size()).
Datum Cascade::report(bool max_rows_exceeded, MemoryContext result_cxt) const {
    uint64 total = 0;
    std::map<std::string, uint64> del, upd;
    for (size_t t = 0; t < deleted_.size(); ++t) {
        if (deleted_[t]) {
            del[T(t).display] += deleted_[t];
            total += deleted_[t];
        }
        if (updated_[t])
            upd[T(t).display] += updated_[t];
    }
    Counts deleted(del), updated(upd);
    std::set<std::string> estimated_tables;
    for (size_t t = 0; t < estimated_.size(); ++t)
        if (estimated_[t] && t < deleted_.size() && deleted_[t])
            estimated_tables.insert(T(t).display);
    std::vector<std::string> estimated_names(estimated_tables.begin(), estimated_tables.end());
    std::vector<const char *> estimated = c_strings(estimated_names);
    // the blockers' strings, kept alive until build_report() has copied them
    std::vector<std::vector<const char *>> columns, keys;
    std::vector<std::string> tables, referenced;
    for (const Blocker &b : blocked_) {
        const Edge &e = m_.edges[b.edge];
        columns.push_back(c_strings(e.cols));
        keys.push_back(c_strings(b.keys));
        tables.push_back(T(e.child).display);
        referenced.push_back(T(e.parent).display);
    }
    std::vector<ReportBlocker> blockers;
    for (size_t i = 0; i < blocked_.size(); ++i) {
        const Blocker &b = blocked_[i];
        const Edge &e = m_.edges[b.edge];
        blockers.push_back({tables[i].c_str(), referenced[i].c_str(), action_name(e.action),
                            e.conname.empty() ? nullptr : e.conname.c_str(), e.policy, b.count,
                            static_cast<int>(columns[i].size()), static_cast<int>(keys[i].size()),
                            columns[i].data(), keys[i].data()});
    }
    ReportData d{result_cxt,
                 total,
                 static_cast<int>(deleted.names.size()),
                 static_cast<int>(updated.names.size()),
                 deleted.names.data(),
                 deleted.counts.data(),
                 updated.names.data(),
                 updated.counts.data(),
                 req_.dry_run,
                 max_rows_exceeded,
                 static_cast<int>(estimated.size()),
                 estimated.data(),
                 static_cast<int>(blockers.size()),
                 blockers.data()};
    return pg_guard(build_report, static_cast<const ReportData *>(&d));
}

} // namespace cd
