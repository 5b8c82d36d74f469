// Report: the call's counts (and a dry run's blockers) as JSON.
#include "cascade_call.hpp"
#include "cascade.hpp"
#include "model.hpp"
#include "pgutil.hpp"
#include "sql.hpp"
#include "ri_bypass.hpp"
#include "statements.hpp"

extern "C" {
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

std::string Cascade::report(bool max_rows_exceeded) const {
    uint64 total = 0;
    std::map<std::string, uint64> del, upd;
    // deleted_.size(): a nested call (from a trigger) may have added tables
    // to the shared model since this call sized its counters
    for (size_t t = 0; t < deleted_.size(); ++t) {
        if (deleted_[t]) {
            del[T(t).display] += deleted_[t];
            total += deleted_[t];
        }
        if (updated_[t])
            upd[T(t).display] += updated_[t];
    }
    auto object = [](const std::map<std::string, uint64> &m) {
        std::string out = "{";
        for (const auto &[k, v] : m)
            out += (out.size() > 1 ? ", " : "") + json_string(k) + ": " + std::to_string(v);
        return out + "}";
    };
    std::string out = "{\"total\": " + std::to_string(total) + ", \"deleted\": " + object(del) +
                      ", \"updated\": " + object(upd);
    if (req_.dry_run) {
        out += ", \"dry_run\": true, \"blocked\": [";
        for (size_t i = 0; i < blocked_.size(); ++i) {
            const Blocker &b = blocked_[i];
            const Edge &e = m_.edges[b.edge];
            std::string keys;
            for (const auto &k : b.keys)
                keys += (keys.empty() ? "" : ", ") + json_string(k);
            std::string cols;
            for (const auto &c : e.cols)
                cols += (cols.empty() ? "" : ", ") + json_string(c);
            out += std::string(i ? ", " : "") + "{\"table\": " + json_string(T(e.child).display) +
                   ", \"columns\": [" + cols + "], \"referenced_table\": " +
                   json_string(T(e.parent).display) + ", \"action\": " +
                   json_string(action_name(e.action)) + ", \"constraint\": " +
                   (e.conname.empty() ? "null" : json_string(e.conname)) +
                   ", \"policy\": " + (e.policy ? "true" : "false") +
                   ", \"count\": " + std::to_string(b.count) + ", \"keys\": [" + keys + "]}";
        }
        out += "]";
        if (max_rows_exceeded)
            out += ", \"max_rows_exceeded\": true";
    }
    return out + "}";
}

} // namespace cd
