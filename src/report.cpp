// Report: the call's counts (and a dry run's blockers) as JSON.
#include "cascade_call.hpp"
#include "cascade.hpp"
#include "model.hpp"
#include "pgutil.hpp"
#include "sql.hpp"
#include "ri_bypass.hpp"
#include "statements.hpp"

extern "C" {
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "utils/tuplestore.h"
#include "rewrite/rewriteHandler.h"
#include "utils/ruleutils.h"
#include "executor/tuptable.h"
#include "executor/executor.h"
#include "utils/queryenvironment.h"
}

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <unordered_map>

namespace cd {

namespace {
// PostgreSQL side of the report: jsonb built value by value with
// pushJsonbValue, from plain C data. Each runs inside pg_call().
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

// The counts of one object of the report, gathered per table name.
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
    bool dry_run = req_.dry_run;
    // the blockers' strings, kept alive while PostgreSQL copies them
    struct BlockerText {
        std::string table, referenced, constraint;
        std::vector<const char *> columns, keys;
        const char *action;
        bool has_constraint, policy;
        uint64 count;
    };
    std::vector<BlockerText> blockers;
    for (const Blocker &b : blocked_) {
        const Edge &e = m_.edges[b.edge];
        blockers.push_back({T(e.child).display, T(e.parent).display, e.conname, c_strings(e.cols),
                            c_strings(b.keys), action_name(e.action), !e.conname.empty(), e.policy,
                            b.count});
    }
    return pg_call([&] {
        MemoryContext old = MemoryContextSwitchTo(result_cxt);
        JsonbParseState *state = nullptr;
        pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
        push_key(&state, "total");
        push_count(&state, total, WJB_VALUE);
        push_counts(&state, "deleted", static_cast<int>(deleted.names.size()), deleted.names.data(),
                    deleted.counts.data());
        push_counts(&state, "updated", static_cast<int>(updated.names.size()), updated.names.data(),
                    updated.counts.data());
        if (dry_run) {
            push_key(&state, "dry_run");
            push_bool(&state, true);
            push_key(&state, "blocked");
            pushJsonbValue(&state, WJB_BEGIN_ARRAY, nullptr);
            for (const BlockerText &b : blockers) {
                pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
                push_key(&state, "table");
                push_string(&state, b.table.c_str(), WJB_VALUE);
                push_strings(&state, "columns", static_cast<int>(b.columns.size()), b.columns.data());
                push_key(&state, "referenced_table");
                push_string(&state, b.referenced.c_str(), WJB_VALUE);
                push_key(&state, "action");
                push_string(&state, b.action, WJB_VALUE);
                push_key(&state, "constraint");
                push_string(&state, b.has_constraint ? b.constraint.c_str() : nullptr, WJB_VALUE);
                push_key(&state, "policy");
                push_bool(&state, b.policy);
                push_key(&state, "count");
                push_count(&state, b.count, WJB_VALUE);
                push_strings(&state, "keys", static_cast<int>(b.keys.size()), b.keys.data());
                pushJsonbValue(&state, WJB_END_OBJECT, nullptr);
            }
            pushJsonbValue(&state, WJB_END_ARRAY, nullptr);
            if (max_rows_exceeded) {
                push_key(&state, "max_rows_exceeded");
                push_bool(&state, true);
            }
        }
        JsonbValue *result = pushJsonbValue(&state, WJB_END_OBJECT, nullptr);
        Datum jsonb = JsonbPGetDatum(JsonbValueToJsonb(result));
        MemoryContextSwitchTo(old);
        return jsonb;
    });
}

} // namespace cd
