// A chunked job's plan (see sql/jobs in cascade_delete--0.3.0--0.4.0.sql for
// the runner): the dry run's checks and counts over the whole cascade, then
// the keys the job deletes by, saved in cascade_delete_job_key.
//
// Saved are the keys of every table the cascade keeps keys of (all but
// leaves reached by one CASCADE edge). The runner deletes them in chunks, each chunk one
// cascade_delete_many() over some keys of one table, children's tables first:
// the chunk takes the rows below its keys with it (the leaves, and rows
// inserted since the plan), so every commit leaves a consistent database.
#include "cascade_call.hpp"
#include "sql.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
}

#include <string>
#include <vector>

namespace cd {

Datum Cascade::plan_job(int64 job, MemoryContext result_cxt) {
    setup();
    check_inheritance_children();
    if (on_citus()) {
        // The same checks and counts by the Citus way's predicates; the
        // saved keys are read from the workers (distributed.cpp says why).
        (void)citus_phases();
        find_virtual_tables(); // which tables' rows go with their parent's chunks
    } else {
        collect_keys();
        check_blockers(); // raises as the delete would (refuse_blocked)
        run_updates();    // counts only: the plan's figures
        run_deletes();
    }
    // Saved: the keys of every table with keys of its own, so that chunks
    // delete tables in the one-transaction call's order (a SET_* child goes
    // before the rows it points at, not updated and deleted later). Tables
    // without (a leaf reached by one CASCADE edge, nothing else refers to
    // it) go with their parent's chunks, as that call deletes them; so does
    // a table without a primary key, which has no key to save, unless rows
    // cascade from it.
    std::vector<char> has_children(m_.tables.size(), 0);
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.action == Action::Cascade && !e.partition && deletes_from(e.child))
            has_children[e.parent] = 1;
    }
    Oid ns = pg_guard(pg::extension_schema);
    std::string schema = sql::ident(pg_guard(get_namespace_name, ns));
    // Pages record how many keys they hold since 0.5.0.
    bool counted = pg_guard(pg::extension_has_column, static_cast<const char *>("cascade_delete_job_key"),
                            static_cast<const char *>("n"));
    int nest = pg_guard(pg::portable_text_formats); // keys as text any session reads back alike
    for (auto ci = plan_->components.size(); ci-- > 0;)
        for (int t : plan_->components[ci]) {
            if (!has_key_set(t) || !deletes_from(t) || (!T(t).has_pk && !has_children[t] && t != root_))
                continue;
            if (!T(t).has_pk)
                throw make_error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                                 "table " + T(t).display + " has no primary key",
                                 "A job deletes in chunks by primary key: the roots and every "
                                 "table rows cascade from.",
                                 "Add a primary key, or delete in one transaction with "
                                 "cascade_delete().");
            if (T(t).inheritance_children)
                throw make_error(ERRCODE_FEATURE_NOT_SUPPORTED,
                                 "table " + T(t).display + " has inheritance children",
                                 "A job deletes in chunks by primary key, and a key of " + T(t).display +
                                     " can name rows of its children too.",
                                 "Delete in one transaction with cascade_delete().");
            if (citus_)
                save_keys_on_citus(t, job, schema, counted);
            else
                save_keys(t, job, schema, counted);
        }
    pg_guard(pg::restore_settings, nest);
    release_key_sets();
    return report(false, result_cxt);
}

namespace {
// A key as the job saves it: its text, or for a composite key an array of
// texts (cols: its columns' expressions).
std::string key_as_text(const std::vector<std::string> &cols) {
    std::vector<std::string> as_text;
    for (const auto &c : cols)
        as_text.push_back(c + "::pg_catalog.text");
    return as_text.size() == 1 ? as_text[0] : "ARRAY[" + sql::join(as_text, ", ") + "]";
}
} // namespace

// The keys of t's rows saved under the job in pages (a row per key made
// these writes cost more than the dry run), in the order they were
// collected (the roots' first, each level after its parents), the order the
// runner reverses so that a self-reference's leaves go first: a cursor over
// them in that order, each page one INSERT of the arrays it filled. (One
// statement numbering and grouping the keys sorted a million of them twice:
// 0.85 s of a 1.3 s plan.)
void Cascade::save_keys(int t, int64 job, const std::string &schema, bool counted) {
    Params p;
    std::vector<std::string> cols;
    std::string rows = deleted_rows(t, &p, &cols);
    std::vector<std::string> arrays, names, unnested;
    for (size_t i = 0; i < cols.size(); ++i) {
        arrays.push_back(sql::unnest("$" + std::to_string(i + 1)));
        names.push_back("k" + std::to_string(i));
        unnested.push_back("u.k" + std::to_string(i));
    }
    std::string key = key_as_text(unnested);
    std::string stmt = "INSERT INTO " + schema + ".cascade_delete_job_key (job, table_name, owner, delete_order, keys" +
                       (counted ? ", n" : "") + ") SELECT $" +
                       std::to_string(cols.size() + 1) + ", $" + std::to_string(cols.size() + 2) + ", $" +
                       std::to_string(cols.size() + 3) + "::pg_catalog.regrole, " +
                       std::to_string(delete_rank_[t]) + ", ARRAY(SELECT " + key + " FROM ROWS FROM (" +
                       sql::join(arrays, ", ") + ") WITH ORDINALITY AS u(" + sql::join(names, ", ") +
                       ", o) ORDER BY u.o)" + (counted ? ", pg_catalog.cardinality($1)" : "");
    std::vector<Oid> types = array_types(std::vector<Oid>(T(t).id_types.begin(), T(t).id_types.end()));
    types.push_back(INT8OID);
    types.push_back(OIDOID);
    types.push_back(OIDOID); // the job's owner: the caller (check_job_to_plan)
    exec("SELECT " + schema + ".cascade_delete_job_page_size()", SPI_OK_SELECT);
    int page = std::stoi(pg_guard(pg::value, 0, 1));
    SPIPlanPtr cursor_plan = plan_for("SELECT " + sql::join(cols, ", ") + rows, p.types);
    SPIPlanPtr stmt_plan = plan_for(stmt, types);
    Datum extra[3] = {Int64GetDatum(job), ObjectIdGetDatum(T(t).oid), ObjectIdGetDatum(pg_guard(GetUserId))};
    // The keys are read as the caller, and written as the extension's owner:
    // no other role may write the job tables.
    BatchSpec spec{cursor_plan, p.values.data(), p.nulls.data(), stmt_plan, stmt.c_str(), 3, extra,
                   page,        SPI_OK_INSERT,   0,              nullptr,   nullptr, pg_guard(pg::extension_owner)};
    pg_guard(run_batches, static_cast<const BatchSpec *>(&spec));
}

// The same on Citus, per tenant: the keys read as the caller into a
// temporary table, as a query of their own (MATERIALIZED), which Citus plans
// as the call's statements, routed to the roots' tenants (it would not as
// part of an INSERT's window function); row_number() without ORDER BY
// numbers them as they come. Then one statement, as the extension's owner,
// writes them into the job's pages.
void Cascade::save_keys_on_citus(int t, int64 job, const std::string &schema, bool counted) {
    Params p;
    std::vector<std::string> cols;
    std::string rows = deleted_rows(t, &p, &cols);
    std::string key = key_as_text(cols);
    const std::string staging = "pg_temp.cascade_delete_job_staging";
    exec_once("CREATE TEMP TABLE IF NOT EXISTS cascade_delete_job_staging (k pg_catalog.text[], "
              "n pg_catalog.int8) ON COMMIT DELETE ROWS",
              SPI_OK_UTILITY);
    bool composite = cols.size() > 1;
    std::string read = "WITH keyed AS MATERIALIZED (SELECT " + key + " AS k" + rows + ") INSERT INTO " + staging +
                       " SELECT " + (composite ? "k" : "ARRAY[k]") + ", pg_catalog.row_number() OVER () FROM keyed";
    Params w;
    std::string job_param = w.add(Int64GetDatum(job), false, INT8OID);
    std::string table_param = w.add(ObjectIdGetDatum(T(t).oid), false, OIDOID);
    std::string owner_param = w.add(ObjectIdGetDatum(pg_guard(GetUserId)), false, OIDOID);
    std::string write = "INSERT INTO " + schema + ".cascade_delete_job_key (job, table_name, owner, delete_order, keys" +
                        (counted ? ", n" : "") + ") SELECT " + job_param + ", " + table_param + ", " + owner_param +
                        "::pg_catalog.regrole, " + std::to_string(delete_rank_[t]) + ", pg_catalog.array_agg(" +
                        (composite ? "s.k" : "s.k[1]") + " ORDER BY s.n)" + (counted ? ", pg_catalog.count(*)" : "") +
                        " FROM " + staging + " s GROUP BY (s.n OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) " +
                        schema + ".cascade_delete_job_page_size() ORDER BY pg_catalog.min(s.n)";
    for_each_tenant(p, [&](const Params &q) {
        exec_once("TRUNCATE " + staging, SPI_OK_UTILITY);
        exec_once(read, SPI_OK_INSERT, q);
        pg_guard(pg::exec_as_extension_owner, write.c_str(), static_cast<int>(w.types.size()),
                 const_cast<Oid *>(w.types.data()), const_cast<Datum *>(w.values.data()), w.nulls.data(),
                 static_cast<int>(SPI_OK_INSERT));
    });
}

} // namespace cd
