// Verify: what the RI triggers the fast path left out would have checked,
// set-based, after the deletes.
#include "cascade_call.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace cd {

// What the skipped RI triggers would have guaranteed, set-based: no row of a
// bypassed foreign key's table references a deleted key. Read with the latest
// snapshot, as ri_triggers.c does, so rows committed concurrently are seen. A
// row written by this transaction (e.g. SET_DEFAULT to a deleted row) is a
// foreign key violation; one written by another transaction, a serialization
// failure to retry.
void Cascade::post_check() {
    std::vector<int> checked;
    for (int ei : bypassed_)
        if (std::find(deleted_after_parent_.begin(), deleted_after_parent_.end(), ei) == deleted_after_parent_.end())
            checked.push_back(ei);
    checked.insert(checked.end(), rechecked_.begin(), rechecked_.end());
    if (checked.empty())
        return;
    // One statement for all keys: the first offending row, and its edge.
    std::string sql;
    Params p;
    for (size_t i = 0; i < checked.size(); ++i) {
        const Edge &e = m_.edges[checked[i]];
        load_table(m_, e.child);
        // No LIMIT: planned for the whole join (a hash semi-join), not for an
        // early match that stale statistics promise; tcount stops at one row.
        std::string cond = any_match(e, "t", &p);
        if (cond.empty())
            cond = "EXISTS (SELECT 1 FROM " + keys(e.parent, "p", &p) + " WHERE " +
                   parent_match(e, "p", "t") + ")";
        sql += std::string(i ? " UNION ALL " : "") + "SELECT " + std::to_string(i) +
               ", t.xmin FROM " + T(e.child).from() + " t WHERE " + cond;
    }
    SPIPlanPtr plan = plan_for(sql, p.types, p.key_arrays);
    int which = -1;
    // this transaction's row; one committed after the call's statement began
    // (its snapshot does not see it); or an older row that was not deleted (a
    // BEFORE DELETE trigger kept it)
    int found = pg_guard(run_post_check, plan, const_cast<Datum *>(p.values.data()), p.nulls.data(), &which);
    if (found == 0)
        return;
    throw post_check_failure(checked[which], found);
}

Error Cascade::post_check_failure(int edge, int found) const {
    const Edge &e = m_.edges[edge];
    if (found == 1 || found == 3)
        return make_error(ERRCODE_FOREIGN_KEY_VIOLATION,
                          "rows of table " + T(e.child).display + " still reference rows deleted from " +
                              T(e.parent).display,
                          "Found after the cascade through " + e.describe(m_.tables) + ".",
                          found == 3 ? "A BEFORE DELETE trigger that returns NULL keeps its row."
                                     : "A SET_DEFAULT or SET value may point to a row the cascade deletes.");
    return make_error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                      "could not serialize access: a concurrent transaction inserted or updated rows of " +
                          T(e.child).display + " referencing rows deleted from " + T(e.parent).display,
                      "Found after the cascade through " + e.describe(m_.tables) + ".", "Retry the transaction.");
}

} // namespace cd
