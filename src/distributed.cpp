// Citus (distributed PostgreSQL): a cascade over tables Citus manages runs as
// statements Citus pushes down to its workers (issue 16).
//
// On a Citus coordinator a distributed table is an empty shell: its rows live
// in shards on the workers, so neither the index probes nor the statements'
// way (keys collected by ctid and xmin into arrays or temporary tables on the
// coordinator) can serve it. Here each table's rows are named by a predicate
// instead: the root's by the caller's keys, every other table's by its key
// columns "= ANY (SELECT ...)" of the rows of the tables that cascade into it,
// down from the root. Co-located
// tables joined on their distribution column are what Citus pushes down as one
// query per shard group; every statement also names the distribution values
// of the roots, so that Citus sends it only to the shards that hold them: a
// cascade whose roots share one value runs on the one worker holding it, one
// over many tenants on all workers in parallel. No row and no key travels to
// the coordinator; only counts and a blocker's sample keys come back.
//
// The phases are the one-transaction call's: PROTECT, then RESTRICT / NO
// ACTION (a referencing row survives unless the cascade deletes it), then
// cascade_delete.max_rows, then SET_* updates, then deletes, referencing
// tables first. Citus runs them in one distributed transaction (two-phase
// commit across workers): an error anywhere leaves every node unchanged.
//
// A cycle (a table's self-reference, or tables referencing each other
// round) is followed by one recursive query over its tables
// (citus_component), and a cycle through several tables is deleted from in
// one statement; Citus runs both only as router queries: every statement
// names one tenant ("= $m", find_citus_tenant), and with roots in several
// tenants runs once per tenant (for_each_tenant), each phase for all of them
// before the next.
//
// Coordinator-local tables in Citus's metadata (a plain table with a foreign
// key to a reference table becomes one) take part with reference tables;
// their rows are on the coordinator. The explain follows each path with the
// same predicates (citus_reached_through). cascade_delete.lock_policy_tables
// locks policy-only keys' tables (LOCK TABLE reaches the shards).
//
// What this way does not do (each refused up front, see refuse_on_citus): a
// table Citus does not manage, or one it distributes by range or append, or
// a single-shard table;
// distributed tables of different co-location groups; a key between
// distributed tables without the distribution column on both sides; a key
// or policy between a distributed and a coordinator-local table; a key from
// a distributed table to a reference table's rows cascading the other way
// (Citus allows no such key; a policy could say it); a cycle reached from
// roots in over 1,000 tenants or from a reference or local table; partitions
// reached one by one (a partitioned table is deleted from as a whole);
// casts between key types; generic relations; the explain and keys of roots
// in several tenants with a cycle where a key does not start with the
// distribution column (citus_keys_in_order). A chunked job's plan saves its
// keys on the coordinator (job_plan.cpp); each chunk is a call here.
//
// The fast path does not reach the workers: the foreign keys' own RI
// triggers on the shards run, and find the rows already gone. A row another
// transaction writes under a row being deleted, between the statements of
// the call, would be deleted (or set NULL) by such a trigger and not be
// counted: lock_citus_rows holds such writers back first. A policy-only key
// has no such guard unless lock_policy_tables is on.
#include "cascade_call.hpp"
#include "limits.hpp"
#include "sql.hpp"

#include <string>
#include <vector>

namespace cd {

namespace {
std::string citus_kind(char citus) {
    switch (citus) {
    case 'h': return "a distributed table";
    case 'r': return "a reference table";
    case 'l': return "a coordinator-local table in Citus's metadata";
    case 's': return "a single-shard table (schema-based sharding)";
    case 'o': return "a table Citus distributes by range or append";
    default: return "a table Citus does not manage";
    }
}

Error not_on_citus(const std::string &message, const std::string &detail) {
    return make_error(ERRCODE_FEATURE_NOT_SUPPORTED, "cascade_delete on Citus: " + message, detail,
                      "Delete these rows with statements of your own, or change the schema or the "
                      "policies so that the cascade stays within co-located distributed tables and "
                      "reference tables.");
}
} // namespace

// The tables a call reads: those it deletes from and the referencing tables
// of its edges (updated, or checked by PROTECT / RESTRICT).
std::vector<int> Cascade::touched_tables() const {
    std::vector<char> seen(m_.tables.size(), 0);
    std::vector<int> out;
    auto add = [&](int t) {
        if (!seen[t]) {
            seen[t] = 1;
            out.push_back(t);
        }
    };
    for (size_t t = 0; t < m_.tables.size(); ++t)
        if (plan_->in_set[t])
            add(static_cast<int>(t));
    for (int ei : relevant_)
        add(m_.edges[ei].child);
    return out;
}

bool Cascade::on_citus() {
    bool citus = false;
    for (int t : touched_tables()) {
        load_table(m_, t); // all of them: the refusals name them
        citus = citus || T(t).citus;
    }
    return citus;
}

// The shapes this way serves; anything else is refused before a statement
// runs, with what Citus cannot do and why.
void Cascade::refuse_on_citus(const char *what) const {
    if (what != nullptr)
        throw not_on_citus(std::string(what) + " is not supported on tables Citus manages yet",
                           "The cascade from " + T(root_).display + " reaches tables Citus distributes.");
    for (const auto &op : T(root_).id_eqops)
        if (op != T(root_).id_eqops[0])
            throw not_on_citus("the primary key of " + T(root_).display + " compares its columns with different "
                               "operators",
                               "Keys are matched row-wise with one operator on Citus.");
    unsigned group = 0;
    for (int t : touched_tables()) {
        const Table &tab = T(t);
        if (tab.citus != 'h' && tab.citus != 'r' && tab.citus != 'l')
            throw not_on_citus("table " + tab.display + " is " + citus_kind(tab.citus),
                               "A cascade over tables Citus manages can reach only tables distributed by "
                               "hash, reference tables and coordinator-local tables in Citus's metadata: a "
                               "query joining other tables cannot be pushed down to the workers in one piece.");
        if (tab.citus == 'h') {
            if (group != 0 && tab.citus_group != group)
                throw not_on_citus("table " + tab.display + " is not co-located with the other distributed "
                                   "tables of the cascade",
                                   "Rows of tables in different co-location groups live on different "
                                   "workers: no single query per shard can join them.");
            group = tab.citus_group;
        }
    }
    if (citus_cycle() && T(root_).citus != 'h')
        throw not_on_citus("the cascade from " + T(root_).display + ", " + citus_kind(T(root_).citus) +
                               ", reaches a cycle",
                           "A cycle's rows are found by a recursive query, which Citus runs only within one "
                           "tenant's shards.");
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        const Table &p = T(e.parent), &c = T(e.child);
        std::string key = e.describe(m_.tables);
        for (const auto &cast : e.casts)
            if (!cast.empty())
                throw not_on_citus(key + " compares columns of different types",
                                   "Casts between key types are not supported on Citus yet.");
        if (!e.filter_col.empty() || e.parent_link)
            throw not_on_citus(key + " is a generic relation or a parent link",
                               "Only foreign keys and plain column policies are supported on Citus yet.");
        // A partitioned table is deleted from as a whole (its shards are
        // partitioned on the workers); its partitions joining the cascade
        // one by one (a key to a partition, or a partition as the root)
        // would need the partition tree's edges.
        if (e.partition)
            throw not_on_citus("the cascade goes between the levels of a partition tree (" + p.display + ", " +
                                   c.display + ")",
                               "A key or policy that references a partition, or a partition as the root, is not "
                               "supported on Citus yet; keys to the partitioned table are.");
        for (const auto &op : e.eqops)
            if (op != e.eqops[0])
                throw not_on_citus(key + " compares its columns with different operators",
                                   "Keys are matched row-wise with one operator on Citus.");
        if ((p.citus == 'h') != (c.citus == 'h') && (p.citus == 'l' || c.citus == 'l'))
            throw not_on_citus(key + " joins a distributed table with a coordinator-local table",
                               "A coordinator-local table's rows are on the coordinator and a distributed "
                               "table's on the workers: a statement joining them would bring rows to the "
                               "coordinator. Citus allows no foreign key between them either.");
        if (p.citus == 'h' && c.citus == 'r')
            throw not_on_citus(key + " goes from a distributed table to a reference table",
                               "A reference table's rows are on every node and a distributed table's on "
                               "one: Citus allows no foreign key that way, and a cascade cannot follow one.");
        if (p.citus == 'h' && c.citus == 'h') {
            bool paired = false;
            for (size_t i = 0; i < e.cols.size(); ++i)
                paired = paired || (e.refcols[i] == p.citus_column && e.cols[i] == c.citus_column);
            if (!paired)
                throw not_on_citus(key + " does not join the tables on their distribution columns",
                                   "Co-located rows are joined on " + p.display + "." + p.citus_column +
                                       " = " + c.display + "." + c.citus_column +
                                       "; a key without that pair could reach rows on other workers.");
        }
        if (sets_columns(e.action)) {
            const auto &setcols = e.setcols.empty() ? e.cols : e.setcols;
            for (const auto &col : setcols)
                if (c.citus == 'h' && col == c.citus_column)
                    throw not_on_citus(key + " would change the distribution column " + c.display + "." + col,
                                       "Citus does not change a row's distribution value in place. Give the "
                                       "key's action a column list without it, e.g. ON DELETE SET NULL (" +
                                           (e.cols.size() > 1 ? e.cols[1] : e.cols[0]) + ").");
        }
    }
}

// " AND a.dist = $m" or " AND a.dist = ANY ($m)": the roots' distribution
// values (find_citus_tenant), for a distributed table when the root is one
// (then every table of the cascade is, joined on the same column), so that
// Citus prunes the statement to their shards.
std::string Cascade::citus_shards(int t, const std::string &a) const {
    const Table &r = T(root_), &tab = T(t);
    if (r.citus != 'h' || tab.citus != 'h' || citus_tenant_.empty())
        return "";
    return " AND " + a + "." + sql::ident(tab.citus_column) + " " + citus_tenant_;
}

namespace {
// "a.col1, a.col2": a subquery's select list.
std::string cols_of(const std::string &a, const std::vector<std::string> &cols) {
    std::vector<std::string> parts;
    for (const auto &c : cols)
        parts.push_back(a + "." + sql::ident(c));
    return sql::join(parts, ", ");
}

// "a.col" or "(a.col1, a.col2)": the operand of a row-wise = ANY.
std::string row_of(const std::string &a, const std::vector<std::string> &cols) {
    return cols.size() == 1 ? cols_of(a, cols) : "(" + cols_of(a, cols) + ")";
}
} // namespace

// The roots' keys as $1..$n of every statement: the caller's; for
// cascade_delete_where, read first. A condition evaluated again by each
// statement could match other rows each time (a concurrent update, a volatile
// function), and a table's rows would then be found under roots that are
// never deleted, or the other way round: here the roots are fixed once. Only
// the roots' keys come to the coordinator.
void Cascade::citus_root_keys() {
    if (!req_.where) {
        add_root_keys(&citus_keys_);
        return;
    }
    const Table &r = T(root_);
    std::vector<std::string> cols, arrays;
    for (size_t i = 0; i < r.id_cols.size(); ++i) {
        cols.push_back(r.sql() + "." + sql::ident(r.id_cols[i]) + " AS k" + std::to_string(i));
        arrays.push_back("COALESCE(pg_catalog.array_agg(k" + std::to_string(i) + "), '{}')");
    }
    // The condition sees the table under its own name, as in DELETE ... WHERE.
    // MATERIALIZED: the rows come to the coordinator first and each array is
    // built from the one stream of them, so that their positions match.
    exec_once("WITH roots AS MATERIALIZED (SELECT " + sql::join(cols, ", ") + " FROM " + r.from() + " WHERE (" +
                  req_.condition + ")) SELECT " + sql::join(arrays, ", ") + " FROM roots",
              SPI_OK_SELECT);
    size_t n = r.id_cols.size();
    std::vector<Datum> values(n);
    std::vector<Oid> types(n);
    uint64 count = 0;
    pg_guard(pg::copy_result_arrays, 1, static_cast<int>(n), values.data(), types.data(), &count);
    for (size_t i = 0; i < n; ++i)
        citus_keys_.add(values[i], false, types[i]);
}

// The root's rows the caller names, as a condition on alias a: by the keys
// $1..$n.
std::string Cascade::citus_roots(const std::string &a) const {
    const Table &r = T(root_);
    std::vector<std::string> keys;
    for (size_t i = 0; i < r.id_cols.size(); ++i)
        keys.push_back(std::string(sql::kKeys) + "." + sql::param_col(i));
    return row_of(a, r.id_cols) + " " + r.id_eqops[0] + " ANY (SELECT " + sql::join(keys, ", ") + " FROM " +
           sql::param_rows(r.id_cols.size()) + ")";
}

// The explain's rows of one path (edges from the roots) as a condition on
// alias a: rows of each table on the way referencing rows of the one before,
// as nested uncorrelated subqueries (see citus_member), each pruned to the
// roots' shards.
std::string Cascade::citus_reached_through(const std::vector<int> &path, const std::string &a) const {
    auto alias = [&](size_t level) { return level == path.size() ? a : "p" + std::to_string(level); };
    std::string cond = citus_roots(alias(0)) + citus_shards(root_, alias(0));
    for (size_t level = 1; level <= path.size(); ++level) {
        const Edge &e = m_.edges[path[level - 1]];
        cond = row_of(alias(level), e.cols) + " " + e.eqops[0] + " ANY (SELECT " +
               cols_of(alias(level - 1), e.refcols) + " FROM " + T(e.parent).from() + " " + alias(level - 1) +
               " WHERE " + cond + ")" + citus_shards(e.child, alias(level));
    }
    return cond;
}

// The ways rows of table t are reached other than through its own
// self-reference, as conditions on alias a: the root's by the caller's keys
// ($1..$n), and each CASCADE edge from another table.
std::vector<std::string> Cascade::citus_entries(int t, const std::string &a, int depth) const {
    std::vector<std::string> ways;
    if (t == root_)
        ways.push_back(citus_roots(a));
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        bool inner = component_[e.parent] == component_[t] && citus_recursive(t); // citus_component's
        if (e.child == t && e.parent != t && !inner && e.action == Action::Cascade)
            ways.push_back(citus_referencing(e, a, depth));
    }
    return ways;
}

// The rows of table t the cascade deletes, as a condition on alias a (the
// root's keys are $1..$n): the root's by the caller's keys; another table's
// by each CASCADE edge into it, down from the root; "false" for a table no
// row cascades into. Uncorrelated "= ANY (SELECT ...)" throughout: Citus
// pushes it down for co-located tables and reference tables alike, where it
// refuses a correlated subquery over a reference table.
std::string Cascade::citus_member(int t, const std::string &a, int depth) const {
    if (depth > limits::kCitusMaxDepth)
        throw not_on_citus("the cascade from " + T(root_).display + " is more than " +
                               std::to_string(limits::kCitusMaxDepth) + " tables deep",
                           "Each level is one more nested subquery in every statement on Citus.");
    if (citus_recursive(t))
        return citus_component(t, a, depth);
    std::vector<std::string> ways = citus_entries(t, a, depth);
    if (ways.empty())
        return "false";
    std::string member = "((" + sql::join(ways, " OR ") + ")" + citus_shards(t, a) + ")";
    if (member.size() > limits::kCitusMaxPredicateBytes)
        throw not_on_citus("the cascade from " + T(root_).display + " reaches " + T(t).display +
                               " through too many paths",
                           "On Citus every path to a table is spelled out in its statements; these would "
                           "exceed " + std::to_string(limits::kCitusMaxPredicateBytes) + " bytes.");
    return member;
}

// The rows of table t of a cycle (its component of the plan: a table with a
// self-reference, or tables referencing each other round), as a condition on
// alias a: those the ways into the component reach (citus_entries) and,
// recursively, every row referencing one of them through a CASCADE edge
// within it. One recursive query over all of the component's tables: each
// row of it is (the table's number in the component, then for each table the
// columns its identity and the component's edges need, NULL but for its
// own). Citus runs it as a router query, within the one tenant the roots
// share (find_citus_tenant).
std::string Cascade::citus_component(int t, const std::string &a, int depth) const {
    const std::vector<int> &comp = plan_->components[component_[t]];
    std::string r = "r" + std::to_string(depth);
    // The columns each table contributes: its identity, then what the edges
    // within the component reference.
    std::vector<std::vector<std::string>> cols(comp.size());
    const std::vector<int> &inner = citus_inner_[component_[t]];
    auto index = [&](int table) { return static_cast<size_t>(std::find(comp.begin(), comp.end(), table) - comp.begin()); };
    for (size_t i = 0; i < comp.size(); ++i)
        cols[i] = T(comp[i]).id_cols;
    for (int ei : inner) {
        auto &pc = cols[index(m_.edges[ei].parent)];
        for (const auto &c : m_.edges[ei].refcols)
            if (std::find(pc.begin(), pc.end(), c) == pc.end())
                pc.push_back(c);
    }
    auto name = [&](size_t i, size_t j) { return "c" + std::to_string(i) + "_" + std::to_string(j); };
    std::vector<std::string> names{"tno"};
    std::vector<std::vector<std::string>> nulls(comp.size()); // "NULL::type" of each column, for other tables' rows
    for (size_t i = 0; i < comp.size(); ++i)
        for (size_t j = 0; j < cols[i].size(); ++j) {
            names.push_back(name(i, j));
            nulls[i].push_back(std::string("NULL::") +
                               pg_guard(pg::type_name, pg_guard(pg::column_type, T(comp[i]).oid, cols[i][j].c_str())));
        }
    // A row of table comp[i] under alias s: its number, its columns, typed
    // NULLs for the other tables' (UNION needs the types).
    auto row = [&](size_t i, const std::string &s) {
        std::vector<std::string> out{std::to_string(i)};
        for (size_t k = 0; k < comp.size(); ++k)
            for (size_t j = 0; j < cols[k].size(); ++j)
                out.push_back(k == i ? s + "." + sql::ident(cols[k][j]) : nulls[k][j]);
        return sql::join(out, ", ");
    };
    std::vector<std::string> entries;
    for (size_t i = 0; i < comp.size(); ++i) {
        std::string s = "s" + std::to_string(depth) + "_" + std::to_string(i);
        std::vector<std::string> ways = citus_entries(comp[i], s, depth + 1);
        if (!ways.empty())
            entries.push_back("SELECT " + row(i, s) + " FROM " + T(comp[i]).from() + " " + s + " WHERE (" +
                              sql::join(ways, " OR ") + ")" + citus_shards(comp[i], s));
    }
    std::string u = "u" + std::to_string(depth);
    std::vector<std::string> steps;
    for (int ei : inner) {
        const Edge &e = m_.edges[ei];
        size_t ip = index(e.parent), ic = index(e.child);
        std::vector<std::string> match{r + ".tno = " + std::to_string(ip)};
        for (size_t k = 0; k < e.refcols.size(); ++k) {
            size_t j = std::find(cols[ip].begin(), cols[ip].end(), e.refcols[k]) - cols[ip].begin();
            match.push_back(e.match(k, r + "." + name(ip, j), u));
        }
        steps.push_back("SELECT " + row(ic, u) + " FROM " + T(e.child).from() + " " + u + " WHERE " +
                        sql::join(match, " AND ") + citus_shards(e.child, u));
    }
    size_t it = index(t);
    std::vector<std::string> mine;
    for (size_t j = 0; j < T(t).id_cols.size(); ++j)
        mine.push_back(name(it, j));
    // The recursive term names the query once: the steps are a LATERAL union.
    return "(" + row_of(a, T(t).id_cols) + " " + T(t).id_eqops[0] + " ANY (WITH RECURSIVE " + r + "(" +
           sql::join(names, ", ") + ") AS (" + sql::join(entries, " UNION ") + " UNION SELECT n.* FROM " + r +
           " CROSS JOIN LATERAL (" + sql::join(steps, " UNION ALL ") + ") n) SELECT " + sql::join(mine, ", ") +
           " FROM " + r + " WHERE " + r + ".tno = " + std::to_string(it) + ")" + citus_shards(t, a) + ")";
}

// Edge e's child rows (alias c, the table a statement reads) that reference
// rows the cascade deletes, pruned to the roots' shards.
std::string Cascade::citus_referencing_rows(const Edge &e, const std::string &c) const {
    return citus_referencing(e, c, 1) + citus_shards(e.child, c);
}

// Edge e's child rows (alias c) that reference rows the cascade deletes.
std::string Cascade::citus_referencing(const Edge &e, const std::string &c, int depth) const {
    std::string p = "p" + std::to_string(depth);
    return row_of(c, e.cols) + " " + e.eqops[0] + " ANY (SELECT " + cols_of(p, e.refcols) + " FROM " +
           T(e.parent).from() + " " + p + " WHERE " + citus_member(e.parent, p, depth + 1) + ")";
}

// When the roots share one distribution value: "= $m" with that value as
// parameter $m, which makes each statement a router query (one shard group,
// planned whole on its worker: a cycle's recursive query needs it). Roots of
// several tenants with a cycle: the same, each statement then run once per
// tenant (citus_tenants_, for_each_tenant). Else the statements carry
// "= ANY ($m)" of the roots' values, and run on all their shards at once.
void Cascade::find_citus_tenant() {
    const Table &r = T(root_);
    if (r.citus != 'h')
        return;
    size_t col = 0;
    while (col < r.id_cols.size() && r.id_cols[col] != r.citus_column)
        ++col;
    if (col == r.id_cols.size())
        return;
    citus_tenant_col_ = static_cast<int>(col);
    std::string param = "$" + std::to_string(col + 1);
    // In the type's order: statements per tenant then return keys in key
    // order where the distribution column comes first (citus_keys_in_order).
    uint64 tenants = exec_once("SELECT DISTINCT k FROM pg_catalog.unnest(" + param + ") k WHERE k IS NOT NULL "
                               "ORDER BY k LIMIT " + std::to_string(limits::kCitusMaxTenantsPerCall + 1),
                               SPI_OK_SELECT, citus_keys_);
    if (tenants > 1 && !citus_cycle()) {
        citus_tenant_param_ = static_cast<int>(citus_keys_.values.size());
        citus_tenant_array_ = true;
        citus_tenant_ = r.id_eqops[col] + " ANY (" +
                        citus_keys_.add(citus_keys_.values[col], false, citus_keys_.types[col]) + ")";
        return;
    }
    if (tenants > limits::kCitusMaxTenantsPerCall)
        throw not_on_citus("the roots are in more than " + std::to_string(limits::kCitusMaxTenantsPerCall) +
                               " tenants and the cascade has a cycle",
                           "A cycle's rows are found by a recursive query, which Citus runs only within one "
                           "tenant's shards: such a call runs its statements once per tenant. Delete fewer "
                           "tenants' rows per call.");
    // One tenant; several, each statement then run once per tenant (a
    // cycle); none: NULL, which no row matches.
    for (uint64 i = 0; i < tenants; ++i)
        citus_tenants_.push_back(pg_guard(pg::copied_datum, i, 1));
    citus_tenant_param_ = static_cast<int>(citus_keys_.values.size());
    citus_tenant_ = r.id_eqops[col] + " " +
                    citus_keys_.add(tenants ? citus_tenants_[0] : Datum(0), tenants == 0, r.id_types[col]);
    if (tenants < 2)
        citus_tenants_.clear();
}

// Whether keys read tenant after tenant come out in key order, as the
// explain's samples and cascade_delete_keys() give them: statements run
// once, or every distributed table's key starts with its distribution column.
bool Cascade::citus_keys_in_order() const {
    if (citus_tenants_.empty())
        return true;
    for (size_t t = 0; t < m_.tables.size(); ++t)
        if (plan_->in_set[t] && T(t).citus == 'h' && T(t).id_cols[0] != T(t).citus_column)
            return false;
    return true;
}

// f(p) once; with roots in several tenants and a cycle, once per tenant with
// $m set to it (find_citus_tenant).
void Cascade::for_each_tenant(const Params &p, const std::function<void(const Params &)> &f) const {
    for_each_value_of_m(p, citus_tenants_, f);
}

// f(p) once when values is empty, else once per value with $m set to it.
void Cascade::for_each_value_of_m(const Params &p, const std::vector<Datum> &values,
                                  const std::function<void(const Params &)> &f) const {
    if (values.empty()) {
        f(p);
        return;
    }
    Params q = p;
    for (Datum value : values) {
        q.values[citus_tenant_param_] = value;
        f(q);
    }
}

// A statement run once (its plan not kept: Citus plans it with its
// parameters' values), or on Citus once per tenant when it must be
// (for_each_tenant); the rows processed.
uint64 Cascade::exec_each_tenant(const std::string &sql, int rc, const Params &p) const {
    uint64 rows = 0;
    for_each_tenant(p, [&](const Params &q) { rows += exec_once(sql, rc, q); });
    return rows;
}

// Rows another transaction writes under a row this call deletes, between
// its statements, must not be deleted (or set NULL) by a real foreign key's
// own action on a worker and be left out of the report: on Citus no check
// after the deletes can see them (the deleted rows are named by predicates,
// not kept). So before anything else, in READ COMMITTED, the call locks
// what such keys reference, as PostgreSQL's own cascade does by deleting the
// parent first: the rows it will delete from tables that a key with an
// action (CASCADE, SET NULL, SET DEFAULT) references, and, so that no row
// comes new under those meanwhile, from every table above them, top down
// (FOR UPDATE; a writer's key check then waits, and fails with 23503 once
// this call commits). A cycle's tables are locked again until a pass finds
// no new row. A reference table's rows cannot be locked on the workers
// (Citus takes a reference table's row locks on one copy only), nor a
// distributed table's without the roots' tenants (Citus takes row locks in
// router queries only): the tables referencing such rows are locked whole
// instead (lock_tables). Under REPEATABLE
// READ the keys' own actions fail with 40001 instead on a row the snapshot
// did not see, and nothing is locked.
std::vector<char> Cascade::citus_rows_to_lock(std::vector<int> *whole) {
    std::vector<char> need(m_.tables.size(), 0), locked(m_.tables.size(), 0);
    if (req_.dry_run || pg_guard(pg::uses_transaction_snapshot))
        return locked;
    auto own_action = [&](const Edge &e) {
        return e.conoid != 0 && (e.own_action == Action::Cascade || e.own_action == Action::SetNull ||
                                 e.own_action == Action::SetDefault);
    };
    for (int ei : relevant_)
        if (own_action(m_.edges[ei]))
            need[m_.edges[ei].parent] = 1;
    // Up the CASCADE edges, by which the tables below are reached.
    for (bool more = true; more;) {
        more = false;
        for (int ei : relevant_) {
            const Edge &e = m_.edges[ei];
            if (e.action == Action::Cascade && need[e.child] && !need[e.parent]) {
                need[e.parent] = 1;
                more = true;
            }
        }
    }
    // Rows are locked where Citus can (router queries only: a
    // coordinator-local table's rows, or a distributed table's when the
    // statements name the roots' tenants) and the caller may: FOR UPDATE
    // needs UPDATE privilege, which a delete does not, and under row-level
    // security it sees the rows UPDATE policies let it see. Else the tables
    // referencing the rows are locked whole.
    for (size_t t = 0; t < need.size(); ++t) {
        if (!need[t])
            continue;
        const Table &tab = T(static_cast<int>(t));
        locked[t] = (tab.citus == 'l' || (tab.citus == 'h' && !citus_tenant_.empty())) && !tab.rls &&
                    pg_guard(pg::may_lock_rows, static_cast<Oid>(tab.oid));
        if (locked[t])
            continue;
        for (int ei : relevant_) {
            const Edge &e = m_.edges[ei];
            if (e.parent == static_cast<int>(t) && e.conoid != 0 && (own_action(e) || need[e.child]))
                whole->push_back(e.child);
        }
    }
    return locked;
}

// The row locks of citus_rows_to_lock, top down. Each statement counts its
// rows on the worker (only the count comes back; count_rows runs it per
// tenant where statements must), once per shard group with roots in several
// tenants and no cycle; a cycle's are taken again until a pass finds no new
// row.
void Cascade::lock_citus_rows(const std::vector<char> &locked) {
    if (std::find(locked.begin(), locked.end(), 1) == locked.end())
        return; // a dry run, REPEATABLE READ, or nothing to lock: no shard groups to read
    std::vector<Datum> groups = citus_shard_groups();
    for (const auto &comp : plan_->components) {
        std::vector<std::string> locks; // " FROM ...", what count_rows counts
        for (int t : comp)
            if (locked[t])
                locks.push_back(" FROM (SELECT 1 FROM " + T(t).from() + " t WHERE " + citus_member(t, sql::kRow, 1) +
                                " FOR UPDATE OF t) l");
        if (locks.empty())
            continue;
        bool cycle = comp.size() > 1 || citus_recursive(comp[0]);
        uint64 last = 0;
        for (int pass = 1;; ++pass) {
            uint64 rows = 0;
            for (const auto &from : locks)
                for_each_value_of_m(citus_keys_, groups, [&](const Params &q) { rows += count_rows(from, q, true); });
            if (!cycle || (pass > 1 && rows == last))
                break;
            if (pass == limits::kCitusMaxLockPasses)
                throw make_error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                                 "could not lock the rows of a cycle in " + T(comp[0]).display +
                                     ": other transactions keep adding rows to it",
                                 "Rows were still being added after " + std::to_string(pass) + " passes.",
                                 "Retry the transaction.");
            last = rows;
        }
    }
}

// With roots in several tenants and no cycle: their distribution values as
// one array per shard group, which each make a statement with
// "= ANY ($m)" a router query (Citus takes row locks in those only); else
// none.
std::vector<Datum> Cascade::citus_shard_groups() {
    std::vector<Datum> groups;
    if (!citus_tenant_array_)
        return groups;
    Params p;
    p.add(ObjectIdGetDatum(T(root_).oid), false, OIDOID);
    p.add(citus_keys_.values[citus_tenant_col_], false, citus_keys_.types[citus_tenant_col_]);
    // In shard order, as every call takes them.
    uint64 n = exec_once("SELECT pg_catalog.get_shard_id_for_distribution_column($1::pg_catalog.regclass, k) g, "
                         "pg_catalog.array_agg(k ORDER BY k) FROM (SELECT DISTINCT k FROM "
                         "pg_catalog.unnest($2) k WHERE k IS NOT NULL) v GROUP BY g ORDER BY g",
                         SPI_OK_SELECT, p);
    for (uint64 i = 0; i < n; ++i)
        groups.push_back(pg_guard(pg::copied_datum, i, 2));
    return groups;
}

// Each component's CASCADE edges within it (citus_inner_), once per call.
void Cascade::find_citus_inner_edges() {
    citus_inner_.assign(plan_->components.size(), {});
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (e.action == Action::Cascade && component_[e.parent] >= 0 && component_[e.parent] == component_[e.child])
            citus_inner_[component_[e.parent]].push_back(ei);
    }
}

// Whether table t's rows are found by citus_component: its component of the
// plan has a CASCADE edge within it (a self-reference that only restricts is
// no recursion).
bool Cascade::citus_recursive(int t) const {
    return component_[t] >= 0 && !citus_inner_[component_[t]].empty();
}

// Whether the cascade has a cycle that needs a router query: a recursive
// component, or several tables deleted in one statement.
bool Cascade::citus_cycle() const {
    for (const auto &comp : plan_->components)
        if (comp.size() > 1 || citus_recursive(comp[0]))
            return true;
    return false;
}

// The call on Citus (see the top of this file); its report in result_cxt.
Datum Cascade::run_on_citus(MemoryContext result_cxt) {
    bool exceeded = citus_phases();
    return report(exceeded, result_cxt);
}

// Every phase of the call on Citus; a dry run (and the explain) only counts.
// Whether cascade_delete.max_rows was exceeded (in a dry run).
bool Cascade::citus_phases() {
    find_citus_inner_edges();
    refuse_on_citus(nullptr);
    size_t n = m_.tables.size();
    collected_.assign(n, 0);
    deleted_.assign(n, 0);
    updated_.assign(n, 0);
    citus_ = true;
    citus_root_keys(); // $1..$n in every statement
    find_citus_tenant();
    // Every table's predicate once before anything runs: the depth and size
    // refusals come up front.
    for (size_t t = 0; t < m_.tables.size(); ++t)
        if (plan_->in_set[t])
            (void)citus_member(static_cast<int>(t), sql::kRow, 1);
    const Params &keys = citus_keys_;
    // Citus refuses a reference (or coordinator-local) table's modification
    // after parallel accesses to distributed tables referencing it in the
    // same transaction: such a cascade works on shards one connection per
    // worker.
    std::vector<char> modified(plan_->in_set.begin(), plan_->in_set.end());
    for (int ei : relevant_)
        if (sets_columns(m_.edges[ei].action))
            modified[m_.edges[ei].child] = 1;
    bool replicated = false, distributed = false;
    for (int t : touched_tables()) {
        replicated = replicated || (T(t).citus != 'h' && modified[t]);
        distributed = distributed || T(t).citus == 'h';
    }
    int nest = replicated && distributed ? pg_guard(pg::citus_sequential_modifications) : -1;
    // cascade_delete.lock_policy_tables: writers of policy-only keys' tables
    // wait for this transaction (LOCK TABLE reaches every shard). There is no
    // check afterwards here (the rows are named by predicates, not kept), so
    // a snapshot that may predate the locks is refused.
    // Row locks (lock_citus_rows) where a real key's own action would reach
    // rows; the tables referencing rows that cannot be locked are locked
    // whole, in one ordered pass with the policy tables.
    std::vector<int> whole;
    std::vector<char> locked = citus_rows_to_lock(&whole);
    lock_policy_children(whole);
    if (!rechecked_.empty() && pg_guard(pg::uses_transaction_snapshot))
        throw not_on_citus("cascade_delete.lock_policy_tables under REPEATABLE READ or SERIALIZABLE is not "
                           "supported",
                           "The workers' snapshots may predate the locks, and on Citus no check runs after the "
                           "deletes to catch a row committed in between.");
    lock_citus_rows(locked);
    // Checks: PROTECT, then rows that would survive a RESTRICT / NO ACTION.
    for_each_blocking_edge([&](int ei, bool protect) {
        const Edge &e = m_.edges[ei];
        std::string where = " FROM " + T(e.child).from() + " t WHERE " + citus_referencing_rows(e, sql::kRow) +
                            (protect ? "" : not_deleted(e.child, sql::kRow, nullptr));
        refuse_or_record(find_blocker(ei, where, keys, true), protect);
    });
    if (req_.dry_run)
        predict_update_refusals(); // on Citus too (citus_)
    // Counts first when something needs them before anything changes.
    if (req_.dry_run || max_rows > 0)
        for (size_t t = 0; t < n; ++t)
            if (plan_->in_set[t])
                collected_[t] = count_rows(" FROM " + T(t).from() + " t WHERE " +
                                               citus_member(static_cast<int>(t), sql::kRow, 1),
                                           keys, true);
    bool exceeded;
    check_max_rows(&exceeded);
    // SET_* updates of referencing rows that survive, before their parents go.
    for (int ei : relevant_) {
        const Edge &e = m_.edges[ei];
        if (!sets_columns(e.action))
            continue;
        const Table &c = T(e.child);
        Params p = keys; // and SET(value)'s value
        std::string where = " WHERE " + citus_referencing_rows(e, sql::kRow) + not_deleted(e.child, sql::kRow, nullptr);
        if (req_.dry_run) {
            updated_[e.child] += count_rows(" FROM " + c.from() + " t" + where, p, true);
            continue;
        }
        std::string value = e.action == Action::SetValue
                                ? p.add(pg_guard(text_to_datum, e.value.c_str(), static_cast<Oid>(e.value_type)),
                                        false, e.value_type)
                                : "";
        std::vector<std::string> set;
        for (const auto &col : e.setcols.empty() ? e.cols : e.setcols)
            set.push_back(sql::ident(col) + " = " +
                          (e.action == Action::SetNull      ? std::string("NULL")
                           : e.action == Action::SetDefault ? std::string("DEFAULT")
                                                            : value));
        updated_[e.child] +=
            exec_each_tenant("UPDATE " + c.from() + " t SET " + sql::join(set, ", ") + where, SPI_OK_UPDATE, p);
    }
    // Deletes, referencing tables first.
    if (req_.dry_run)
        deleted_ = collected_;
    else
        for (auto ci = plan_->components.size(); ci-- > 0;) {
            const auto &comp = plan_->components[ci];
            if (comp.size() == 1) {
                deleted_[comp[0]] = exec_each_tenant("DELETE FROM " + T(comp[0]).from() + " t WHERE " +
                                                   citus_member(comp[0], sql::kRow, 1),
                                               SPI_OK_DELETE, keys);
                continue;
            }
            // A cycle through several tables: one statement, so that every
            // table's rows are found before any is deleted.
            std::vector<std::string> deletes, counts;
            for (size_t i = 0; i < comp.size(); ++i) {
                std::string d = "d" + std::to_string(i);
                deletes.push_back(d + " AS (DELETE FROM " + T(comp[i]).from() + " t WHERE " +
                                  citus_member(comp[i], sql::kRow, 1) + " RETURNING 1)");
                counts.push_back("(SELECT pg_catalog.count(*) FROM " + d + ")");
            }
            for_each_tenant(keys, [&](const Params &q) {
                exec_once("WITH " + sql::join(deletes, ", ") + " SELECT " + sql::join(counts, ", "),
                          SPI_OK_SELECT, q);
                for (size_t i = 0; i < comp.size(); ++i)
                    deleted_[comp[i]] += std::stoull(pg_guard(pg::value, 0, static_cast<int>(i) + 1));
            });
        }
    if (nest >= 0)
        pg_guard(pg::restore_settings, nest);
    return exceeded;
}

} // namespace cd
