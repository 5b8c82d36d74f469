// Reads the table graph: foreign keys from pg_constraint, on_delete policies
// from the policy table, and the row identity of each table involved.
#include "model.hpp"
#include "pgutil.hpp"
#include "session.hpp"
#include "sql.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

#include <algorithm>

namespace cd {

// For messages: what an edge is, in the words of the catalog or the policy.
std::string Edge::describe(const std::vector<Table> &tables) const {
    std::string cols_text = "(" + sql::join(cols, ", ") + ")";
    if (parent_link)
        return "parent link policy on " + tables[parent].display + "(" + sql::join(refcols, ", ") + ")";
    if (policy)
        return std::string("policy ") + action_name(action) + " on " + tables[child].display +
               cols_text;
    return "foreign key constraint " + sql::ident(conname) + " on " + tables[child].display +
           cols_text;
}

std::shared_ptr<const Plan> Model::plan_from(int root) {
    auto cached = plans.find(root);
    if (cached == plans.end()) {
        std::vector<PlanEdge> pe;
        for (const auto &e : edges)
            pe.push_back({e.parent, e.child, e.action});
        cached = plans.emplace(root, std::make_shared<const Plan>(make_plan(static_cast<int>(tables.size()), pe, root)))
                     .first;
    }
    return cached->second;
}

int Model::table(unsigned oid) {
    auto it = index.find(oid);
    if (it != index.end())
        return it->second;
    Table t;
    t.oid = oid;
    tables.push_back(t);
    plans.clear(); // made for fewer tables
    index[oid] = static_cast<int>(tables.size()) - 1;
    return static_cast<int>(tables.size()) - 1;
}

static Action catalog_action(char c) {
    switch (c) {
    case 'c': return Action::Cascade;
    case 'r': return Action::Restrict;
    case 'n': return Action::SetNull;
    case 'd': return Action::SetDefault;
    default: return Action::NoAction;
    }
}

static const char *const FK_SQL =
    "SELECT c.conname::text, c.conrelid::oid, c.confrelid::oid, c.confdeltype::text,"
    " ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o)"
    "   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),"
    " ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o)"
    "   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o),"
    " ARRAY(SELECT format('OPERATOR(%I.%s)', ns.nspname, op.oprname)"
    "   FROM unnest(c.conpfeqop) WITH ORDINALITY k(id, o)"
    "   JOIN pg_operator op ON op.oid = k.id JOIN pg_namespace ns ON ns.oid = op.oprnamespace"
    "   ORDER BY k.o),"
    " ARRAY(SELECT a.attname::text FROM unnest(c.confdelsetcols) WITH ORDINALITY k(n, o)"
    "   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)"
    ", c.oid"
    " FROM pg_constraint c WHERE c.contype = 'f' AND c.conparentid = 0"
    " ORDER BY c.conrelid, c.conname";

// A relation's name for messages (its OID if it is gone).
static std::string rel_name(unsigned oid) {
    const char *name = pg_guard(get_rel_name, oid);
    return name ? sql::ident(name) : std::to_string(oid);
}

static bool same_set(std::vector<std::string> a, std::vector<std::string> b) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    return a == b;
}

// Partition trees: a row of a partition is a row of each of its ancestors.
// For every table of the model that is part of a partition tree (it is the
// parent or child of some foreign key or policy) and every ancestor or
// descendant of it, an edge "rows deleted from the relative that are also
// rows of the member": collected by the upper table's primary key, which is
// unique across its whole tree. So a cascade from any level obeys the keys
// and policies of every level, and a dry run predicts them.
static const char *const PARTITION_SQL =
    "SELECT m.oid, r.relid, r.up, ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_index i"
    "   CROSS JOIN unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(n, o)"
    "   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
    "   WHERE i.indrelid = CASE WHEN r.up THEN r.relid ELSE m.oid END AND i.indisprimary"
    "   AND k.o <= i.indnkeyatts ORDER BY k.o),"
    " ARRAY(SELECT a.atttypid::pg_catalog.text FROM pg_catalog.pg_index i"
    "   CROSS JOIN unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(n, o)"
    "   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
    "   WHERE i.indrelid = CASE WHEN r.up THEN r.relid ELSE m.oid END AND i.indisprimary"
    "   AND k.o <= i.indnkeyatts ORDER BY k.o)"
    " FROM pg_catalog.unnest($1::pg_catalog.oid[]) m(oid)"
    " JOIN pg_catalog.pg_class c ON c.oid = m.oid AND (c.relispartition OR c.relkind = 'p')"
    " CROSS JOIN LATERAL (SELECT a.relid::pg_catalog.oid, true AS up"
    "   FROM pg_catalog.pg_partition_ancestors(m.oid) a WHERE a.relid <> m.oid"
    "   UNION ALL SELECT d.relid::pg_catalog.oid, false"
    "   FROM pg_catalog.pg_partition_tree(m.oid) d WHERE d.relid <> m.oid) r"
    " ORDER BY 1, 2";

static void add_partition_edges(Model &m) {
    std::string oids = "{";
    for (size_t t = 0; t < m.tables.size(); ++t)
        oids += (t ? "," : "") + std::to_string(m.tables[t].oid);
    oids += "}";
    const char *oids_text = oids.c_str();
    uint64 n = pg_guard(pg::exec_with_oids, PARTITION_SQL, oids_text);
    SPITupleTable *rows = SPI_tuptable;
    for (uint64 r = 0; r < n; ++r) {
        SPI_tuptable = rows;
        unsigned member = std::stoul(pg_guard(pg::value, r, 1));
        unsigned relative = std::stoul(pg_guard(pg::value, r, 2));
        bool up = pg_guard(pg::value, r, 3)[0] == 't';
        auto cols = to_vector(pg_guard(pg::text_array, r, 4));
        auto types = to_vector(pg_guard(pg::text_array, r, 5));
        Edge e;
        e.parent = m.table(relative);
        e.child = m.table(member);
        e.action = Action::Cascade;
        e.partition = true;
        e.cols = cols;
        e.refcols = cols;
        for (const auto &type : types) {
            Oid t = static_cast<Oid>(std::stoul(type));
            const char *op = pg_guard(pg::equality_operator, t, t);
            e.eqops.push_back(op ? op : "OPERATOR(pg_catalog.=)");
        }
        if (cols.empty())
            e.stale = "cascade_delete: partitioned table " + rel_name(up ? relative : member) +
                      " has no primary key, so rows deleted from " + rel_name(relative) +
                      " cannot be matched with rows of " + rel_name(member) +
                      ", which foreign keys or policies reference";
        m.edges.push_back(e);
    }
}

// One row of the policy table, as read_policies() reads it.
struct PolicyRow {
    unsigned child = 0, parent = 0;
    std::vector<std::string> cols, refcols;
    const char *value = nullptr, *type_column = nullptr, *type_value = nullptr;
};

// Every foreign key of the catalog (clones on partitions skipped: the key of
// the partitioned table stands for them), read with the latest snapshot.
static void read_foreign_keys(Model &m) {
    uint64 n = pg_guard(pg::exec_latest, FK_SQL, SPI_OK_SELECT);
    SPITupleTable *fks = SPI_tuptable;
    for (uint64 r = 0; r < n; ++r) {
        SPI_tuptable = fks;
        Edge e;
        e.conname = pg_guard(pg::value, r, 1);
        unsigned child = std::stoul(pg_guard(pg::value, r, 2));
        unsigned parent = std::stoul(pg_guard(pg::value, r, 3));
        e.action = e.own_action = catalog_action(pg_guard(pg::value, r, 4)[0]);
        e.cols = to_vector(pg_guard(pg::text_array, r, 5));
        e.refcols = to_vector(pg_guard(pg::text_array, r, 6));
        e.eqops = to_vector(pg_guard(pg::text_array, r, 7));
        e.setcols = to_vector(pg_guard(pg::text_array, r, 8));
        e.conoid = std::stoul(pg_guard(pg::value, r, 9));
        e.child = m.table(child);
        e.parent = m.table(parent);
        m.edges.push_back(e);
    }

}

// A foreign key that exists only in the application: its operators (a generic
// relation compares the key cast to its column's type when the types have
// none), its generic relation's condition; stale when a column is missing.
static Edge application_only_edge(const PolicyRow &row, int c, int p) {
    unsigned child = row.child, parent = row.parent;
    const auto &cols = row.cols, &refcols = row.refcols;
    const char *type_column = row.type_column, *type_value = row.type_value;
    Edge e;
    e.child = c;
    e.parent = p;
    e.cols = cols;
    e.refcols = refcols;
    for (size_t i = 0; i < cols.size(); ++i) {
        bool generic = type_column != nullptr;
        char *cast = nullptr; // set for a generic relation without an operator
        const char *op = pg_guard(pg::columns_equality, child, cols[i].c_str(), parent, refcols[i].c_str(),
                                  generic, &cast);
        if (op == nullptr) {
            // Raised only by calls whose cascade reaches this policy.
            e.stale = "cascade_delete: policy on " + rel_name(child) + "(" + sql::join(cols, ", ") +
                      ") refers to a missing or incomparable column";
            op = "";
        }
        e.eqops.push_back(op);
        e.casts.push_back(cast ? cast : "");
    }
    if (type_column != nullptr) {
        // A constant of the policy, checked by the type's input function
        // when set: quoted and cast, so that plans stay generic.
        const char *tv = type_value ? type_value : "";
        char *op = nullptr, *literal = nullptr;
        pg_guard(pg::typed_literal, child, type_column, tv, &op, &literal);
        if (op == nullptr)
            e.stale = "cascade_delete: generic relation policy on " + rel_name(child) +
                      " refers to a missing column \"" + std::string(type_column) + "\"";
        e.filter_col = type_column;
        e.filter_op = op ? op : "";
        e.filter_literal = literal ? literal : "";
    }
    return e;
}

// The way back of a parent link: deleting child rows deletes the parent rows
// they reference, as if the parent's columns referenced the child's.
static Edge parent_link_edge(const PolicyRow &row, const Edge &target, int c, int p) {
    unsigned child = row.child, parent = row.parent;
    const auto &cols = row.cols;
    Edge back;
    back.parent = c;
    back.child = p;
    back.cols = target.refcols;
    back.refcols = target.cols;
    back.action = Action::Cascade;
    back.policy = true;
    back.parent_link = true;
    for (size_t i = 0; i < cols.size(); ++i) {
        // the child's column compared with the parent's, as the way back reads them
        char *no_cast = nullptr;
        const char *op = pg_guard(pg::columns_equality, parent, back.cols[i].c_str(), child, cols[i].c_str(),
                                  false, &no_cast);
        if (op == nullptr) {
            back.stale = "cascade_delete: parent link policy on " + rel_name(child) +
                         " refers to a missing or incomparable column";
            op = "";
        }
        back.eqops.push_back(op);
    }
    return back;
}

// Every policy whose tables exist: on a real foreign key it replaces the
// key's action; else it adds an application-only edge (and a parent link's
// way back).
static void read_policies(Model &m, const std::string &extschema) {
    std::string psql = "SELECT p.child::oid, p.columns::text[], p.action, p.value,"
                       " p.parent::oid, p.parent_columns::text[], p.parent_link::text,"
                       " p.type_column::text, p.type_value,"
                       // the columns whose numbers changed since the policy was set,
                       // and what changed
                       " ARRAY(SELECT format('%s.%I was column %s when the policy was set, now %s',"
                       "   u.r::regclass, u.n, u.a, coalesce('column ' || (SELECT attnum FROM pg_attribute"
                       "     WHERE attrelid = u.r AND attname = u.n AND NOT attisdropped), 'missing'))"
                       "   FROM (SELECT p.child, c.n, c.a FROM unnest(p.columns, p.attnums) c(n, a)"
                       "     UNION ALL SELECT p.parent, c.n, c.a FROM unnest(p.parent_columns, p.parent_attnums) c(n, a)) u(r, n, a)"
                       "   WHERE u.a IS DISTINCT FROM (SELECT attnum FROM pg_attribute"
                       "     WHERE attrelid = u.r AND attname = u.n AND NOT attisdropped))::text[]"
                       " FROM " +
                       sql::ident(extschema) +
                       ".cascade_delete_policy p"
                       // A policy whose table is gone (dropped where no event trigger
                       // fires) binds nothing: it is ignored, never an error.
                       " WHERE EXISTS (SELECT FROM pg_class c WHERE c.oid = p.child)"
                       " AND EXISTS (SELECT FROM pg_class c WHERE c.oid = p.parent)"
                       " ORDER BY p.child, p.columns";
    uint64 n = pg_guard(pg::exec_latest, psql.c_str(), SPI_OK_SELECT);
    SPITupleTable *pols = SPI_tuptable;
    for (uint64 r = 0; r < n; ++r) {
        SPI_tuptable = pols;
        PolicyRow row;
        row.child = std::stoul(pg_guard(pg::value, r, 1));
        row.cols = to_vector(pg_guard(pg::text_array, r, 2));
        std::string action_text = pg_guard(pg::value, r, 3);
        row.value = pg_guard(pg::value, r, 4);
        row.parent = std::stoul(pg_guard(pg::value, r, 5));
        row.refcols = to_vector(pg_guard(pg::text_array, r, 6));
        bool parent_link = pg_guard(pg::value, r, 7)[0] == 't';
        row.type_column = pg_guard(pg::value, r, 8);
        row.type_value = pg_guard(pg::value, r, 9);
        auto moved = to_vector(pg_guard(pg::text_array, r, 10));
        bool ok;
        Action action = parse_action(action_text, &ok);
        if (!ok)
            throw make_error(ERRCODE_DATA_CORRUPTED,
                             "cascade_delete: unknown action \"" + action_text + "\" in policy table");

        int c = m.table(row.child), p = m.table(row.parent);
        Edge *target = nullptr;
        for (auto &e : m.edges)
            if (!e.policy && e.conoid != 0 && e.child == c && e.parent == p && same_set(e.cols, row.cols))
                target = &e;
        if (target == nullptr) {
            m.edges.push_back(application_only_edge(row, c, p));
            target = &m.edges.back();
        }
        if (!moved.empty()) {
            target->stale = "cascade_delete: policy on " + rel_name(row.child) + "(" +
                            sql::join(row.cols, ", ") +
                            ") refers to columns renamed, dropped or replaced since it was set";
            target->stale_detail = sql::join(moved, "; ") + ".";
        }
        target->policy = true;
        target->action = action;
        target->setcols.clear();
        if (parent_link) {
            Edge back = parent_link_edge(row, *target, c, p);
            m.edges.push_back(back); // may move *target: not used after this
            continue;
        }
        if (action == Action::SetValue) {
            target->value = row.value ? row.value : "";
            target->value_type = pg_guard(pg::column_type_or_none, row.child, row.cols[0].c_str());
        }
    }
}

Model load_model(const std::string &extschema) {
    Model m;
    int nest = pg_guard(pg::safe_search_path);
    read_foreign_keys(m);
    read_policies(m, extschema);
    add_partition_edges(m);
    pg_guard(pg::restore_settings, nest);
    return m;
}

namespace {

// Any relation of the model (or the policy table, or a full reset): stale.
// Called by PostgreSQL's invalidation processing: no allocation, no error.
void relcache_changed(Datum, Oid relid) {
    const auto &m = session.model;
    if (!OidIsValid(relid) || !m || m->index.find(relid) != m->index.end() || relid == m->policy_table)
        session.model_stale = true;
}

void syscache_changed(Datum, int, uint32) { session.model_stale = true; }
} // namespace

void register_model_invalidation() {
    CacheRegisterRelcacheCallback(relcache_changed, (Datum)0);
    // names and operators are cached as text
    CacheRegisterSyscacheCallback(NAMESPACEOID, syscache_changed, (Datum)0);
    CacheRegisterSyscacheCallback(CONSTROID, syscache_changed, (Datum)0);
    CacheRegisterSyscacheCallback(OPEROID, syscache_changed, (Datum)0);
}

std::shared_ptr<Model> cached_model() {
    // Changes committed by other sessions since this transaction last took a
    // lock (a call may take none before this point).
    pg_guard(AcceptInvalidationMessages);
    if (session.model_stale || !session.model) {
        // Cleared first: if reading fails, the next call reads again.
        session.model.reset();
        session.model_stale = false;
        Oid ns = pg_guard(pg::extension_schema);
        std::string extschema = pg_guard(get_namespace_name, ns);
        auto m = std::make_shared<Model>(load_model(extschema));
        m->generation = ++session.models_read;
        // Moving the extension to another schema moves this table too, and
        // that change marks the model stale.
        m->policy_table = pg_guard(get_relname_relid, "cascade_delete_policy", ns);
        if (!session.model_stale)
            session.model = m;
        return m;
    }
    return session.model;
}

// A table in Citus's metadata: partmethod ('h' hash, 'n' none), repmodel
// ('t' a reference table's two-phase replication), co-location group,
// distribution column. Read only when the citus extension exists.
static const char *const CITUS_TABLE_SQL =
    "SELECT p.partmethod::text, p.repmodel::text, p.colocationid,"
    " CASE WHEN p.partkey IS NOT NULL THEN pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) END"
    " FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1";

static const char *const TABLE_SQL =
    "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relrowsecurity::text,"
    " ARRAY(SELECT a.attname::text FROM pg_index i CROSS JOIN"
    "   unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)"
    "   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
    "   WHERE i.indrelid = c.oid AND i.indisprimary AND k.o <= i.indnkeyatts ORDER BY k.o),"
    " ARRAY(SELECT a.atttypid::text FROM pg_index i CROSS JOIN"
    "   unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)"
    "   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
    "   WHERE i.indrelid = c.oid AND i.indisprimary AND k.o <= i.indnkeyatts ORDER BY k.o)"
    ","
    " (c.relhasrules OR EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal))::text,"
    // foreign keys with RI action triggers on this table: declared here, or
    // clones of a key referencing a partitioned ancestor (a clone on the
    // referencing side has its parent's confrelid and no triggers here)
    " (SELECT count(*) FROM pg_constraint k WHERE k.contype = 'f' AND k.confrelid = c.oid"
    "   AND NOT EXISTS (SELECT FROM pg_constraint pk WHERE pk.oid = k.conparentid"
    "     AND pk.confrelid = k.confrelid))::text,"
    " (c.relkind = 'r' AND EXISTS (SELECT FROM pg_inherits h WHERE h.inhparent = c.oid))::text,"
    " ARRAY(SELECT a.relid::oid::text FROM pg_partition_ancestors(c.oid) a"
    "   WHERE c.relispartition AND a.relid <> c.oid),"
    " c.relowner::text"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1";

void load_table(Model &m, int t) {
    if (m.tables[t].loaded)
        return;
    // Built aside and published only when complete: an error halfway (a
    // cancel, a dropped table) leaves the cached model's entry unloaded.
    Table tab = m.tables[t];
    int nest = pg_guard(pg::safe_search_path);
    Oid oid = tab.oid;
    uint64 n = pg_guard(pg::exec_with_oid, TABLE_SQL, oid);
    if (n != 1)
        throw make_error(ERRCODE_UNDEFINED_TABLE,
                         "cascade_delete: relation with OID " + std::to_string(oid) + " does not exist");
    tab.nsp = pg_guard(pg::value, 0, 1);
    tab.rel = pg_guard(pg::value, 0, 2);
    tab.relkind = pg_guard(pg::value, 0, 3)[0];
    tab.rls = pg_guard(pg::value, 0, 4)[0] == 't';
    tab.id_cols = to_vector(pg_guard(pg::text_array, 0, 5));
    for (const auto &s : to_vector(pg_guard(pg::text_array, 0, 6)))
        tab.id_types.push_back(static_cast<unsigned>(std::stoul(s)));
    tab.user_code = pg_guard(pg::value, 0, 7)[0] == 't';
    tab.referenced_by = static_cast<unsigned>(std::stoul(pg_guard(pg::value, 0, 8)));
    tab.inheritance_children = pg_guard(pg::value, 0, 9)[0] == 't';
    for (const auto &s : to_vector(pg_guard(pg::text_array, 0, 10)))
        tab.partition_ancestors.push_back(static_cast<unsigned>(std::stoul(s)));
    tab.owner = static_cast<unsigned>(std::stoul(pg_guard(pg::value, 0, 11)));
    tab.has_pk = !tab.id_cols.empty();
    if (!tab.has_pk) {
        tab.id_cols = {"ctid"};
        tab.id_types = {TIDOID};
    }
    for (unsigned type : tab.id_types) {
        const char *op = pg_guard(pg::equality_operator, type, type);
        tab.id_eqops.push_back(op ? op : "OPERATOR(pg_catalog.=)");
    }
    tab.display = display_name(tab.nsp, tab.rel);
    if (OidIsValid(pg_guard(get_extension_oid, "citus", true)) &&
        pg_guard(pg::exec_with_oid, CITUS_TABLE_SQL, oid) == 1) {
        std::string method = pg_guard(pg::value, 0, 1), model = pg_guard(pg::value, 0, 2);
        tab.citus_group = static_cast<unsigned>(std::stoul(pg_guard(pg::value, 0, 3)));
        // 'n' with statement replication: coordinator-local (group 0), or a
        // single-shard table of schema-based sharding
        tab.citus = method == "h"   ? 'h'
                    : method != "n" ? 'o'
                    : model == "t"  ? 'r'
                    : tab.citus_group == 0 ? 'l'
                                           : 's';
        const char *column = pg_guard(pg::value, 0, 4);
        tab.citus_column = column ? column : "";
    }
    tab.loaded = true;
    pg_guard(pg::restore_settings, nest);
    m.tables[t] = std::move(tab);
}

} // namespace cd
