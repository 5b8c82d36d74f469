// Statement text pieces (src/sql.cpp), without a server.
#include "sql.hpp"

#include <gtest/gtest.h>

namespace sql = cd::sql;

TEST(Sql, IdentAlwaysQuotesAndDoublesQuotes) {
    EXPECT_EQ(sql::ident("a"), "\"a\"");
    EXPECT_EQ(sql::ident("T 3 \"x\""), "\"T 3 \"\"x\"\"\"");
    EXPECT_EQ(sql::ident(""), "\"\"");
    EXPECT_EQ(sql::ident("select"), "\"select\"");
}

TEST(Sql, Qualified) { EXPECT_EQ(sql::qualified("fz b", "t0"), "\"fz b\".\"t0\""); }

TEST(Sql, Join) {
    EXPECT_EQ(sql::join({}, ", "), "");
    EXPECT_EQ(sql::join({"a"}, ", "), "a");
    EXPECT_EQ(sql::join({"a", "b", "c"}, " AND "), "a AND b AND c");
}

TEST(Sql, ColumnNames) {
    EXPECT_EQ(sql::key_col(0), "c0");
    EXPECT_EQ(sql::key_col(12), "c12");
    EXPECT_EQ(sql::param_col(3), "k3");
    EXPECT_EQ(sql::param(1), "$1");
}

TEST(Sql, ParamRows) {
    EXPECT_EQ(sql::param_rows(1), "ROWS FROM (pg_catalog.unnest($1)) AS k(k0)");
    EXPECT_EQ(sql::param_rows(2, 3),
              "ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS k(k0, k1)");
}

TEST(Sql, RowsFrom) {
    EXPECT_EQ(sql::rows_from({sql::unnest("a"), sql::unnest("b")}, "p", {"c0", "x"}),
              "ROWS FROM (pg_catalog.unnest(a), pg_catalog.unnest(b)) AS p(c0, x)");
}

namespace {
cd::Table table(const std::string &name, std::vector<std::string> id_cols, char relkind = 'r') {
    cd::Table t;
    t.nsp = "app";
    t.rel = name;
    t.relkind = relkind;
    t.id_cols = std::move(id_cols);
    t.id_eqops.assign(t.id_cols.size(), "OPERATOR(pg_catalog.=)");
    return t;
}

// A generic relation: comment(object_id) -> <parent>(id) where kind = 'pet', the key cast.
cd::Edge generic_edge() {
    cd::Edge e;
    e.cols = {"object_id"};
    e.refcols = {"id"};
    e.eqops = {"OPERATOR(pg_catalog.=)"};
    e.casts = {"text"};
    e.filter_col = "kind";
    e.filter_op = "OPERATOR(pg_catalog.=)";
    e.filter_literal = "'pet'::text";
    return e;
}

// child(parent_id, tenant) -> parent(id, tenant)
cd::Edge edge() {
    cd::Edge e;
    e.cols = {"parent_id", "tenant"};
    e.refcols = {"id", "tenant"};
    e.eqops = {"OPERATOR(pg_catalog.=)", "OPERATOR(pg_catalog.=)"};
    return e;
}
} // namespace

TEST(Sql, TableNamesReadLikeForeignKeys) {
    EXPECT_EQ(table("a b", {"id"}).sql(), "\"app\".\"a b\"");
    EXPECT_EQ(table("a", {"id"}).from(), "ONLY \"app\".\"a\"");
    EXPECT_EQ(table("p", {"id"}, 'p').from(), "\"app\".\"p\""); // a partitioned table as a whole
}

TEST(Sql, KeySetColumns) {
    EXPECT_EQ(sql::key_col_list(2), "c0, c1, x");
    EXPECT_EQ(sql::source_cols({"id", "x y"}, "t"), "t.\"id\", t.\"x y\", t.xmin");
    EXPECT_EQ(sql::key_cols_as({"id"}, false), "t.\"id\" AS c0, t.xmin AS x");
    EXPECT_EQ(sql::key_cols_as({"id"}, true), "t.\"id\" AS c0, t.xmin AS x, t.ctid AS r");
    EXPECT_EQ(sql::same_version("x"), " AND t.xmin OPERATOR(pg_catalog.=) k.x");
}

TEST(Sql, Identity) {
    EXPECT_EQ(sql::identity(table("a", {"id", "tenant"}), "k", "c"),
              "t.\"id\" OPERATOR(pg_catalog.=) k.c0 AND t.\"tenant\" OPERATOR(pg_catalog.=) k.c1");
}

TEST(Sql, ParentMatchUsesTheKeySetsColumnOfEachReferencedColumn) {
    // the parent's key set keeps (tenant, id): identity first in another order
    EXPECT_EQ(sql::parent_match(edge(), {"tenant", "id"}, "p", "t"),
              "p.c1 OPERATOR(pg_catalog.=) t.\"parent_id\" AND p.c0 OPERATOR(pg_catalog.=) t.\"tenant\"");
}

TEST(Sql, GenericRelationMatchCastsAndFilters) {
    cd::Edge e = generic_edge();
    EXPECT_EQ(sql::parent_match(e, {"id"}, "p", "t"),
              "CAST(CAST(p.c0 AS pg_catalog.text) AS text) OPERATOR(pg_catalog.=) t.\"object_id\""
              " AND t.\"kind\" OPERATOR(pg_catalog.=) 'pet'::text");
}

TEST(Sql, RowMatchComparesTheParentRowsOwnColumns) {
    EXPECT_EQ(sql::row_match(edge(), "p1", "t"),
              "p1.\"id\" OPERATOR(pg_catalog.=) t.\"parent_id\" AND p1.\"tenant\" OPERATOR(pg_catalog.=) t.\"tenant\"");
    cd::Edge e = generic_edge();
    EXPECT_EQ(sql::row_match(e, "p0", "p1"),
              "CAST(CAST(p0.\"id\" AS pg_catalog.text) AS text) OPERATOR(pg_catalog.=) p1.\"object_id\""
              " AND p1.\"kind\" OPERATOR(pg_catalog.=) 'pet'::text");
}

TEST(Sql, KeysAsTextOneColumnOrARow) {
    EXPECT_EQ(sql::identity_cols(table("a", {"id", "tenant"}), "t"), (std::vector<std::string>{"t.\"id\"", "t.\"tenant\""}));
    EXPECT_EQ(sql::select_keys_as_text({"t.\"id\""}, " FROM x t"),
              "SELECT t.\"id\"::pg_catalog.text FROM x t ORDER BY t.\"id\"");
    EXPECT_EQ(sql::select_keys_as_text({"k.c0", "k.c1"}, " FROM ks k"),
              "SELECT ROW(k.c0, k.c1)::pg_catalog.text FROM ks k ORDER BY k.c0, k.c1");
}

TEST(Sql, InKeys) {
    EXPECT_EQ(sql::in_keys(table("a", {"id", "tenant"}), "keys d", "t"),
              "EXISTS (SELECT 1 FROM keys d WHERE d.c0 OPERATOR(pg_catalog.=) t.\"id\""
              " AND d.c1 OPERATOR(pg_catalog.=) t.\"tenant\")");
}

TEST(Sql, NotInKeys) {
    EXPECT_EQ(sql::not_in_keys(table("a", {"id"}), "keys d", "t"),
              " AND NOT EXISTS (SELECT 1 FROM keys d WHERE d.c0 OPERATOR(pg_catalog.=) t.\"id\")");
}

TEST(Sql, KeySetAsArraysLinesUpByIdentity) {
    EXPECT_EQ(sql::key_set_as_arrays("ks", 2, 1, "p", false),
              "ROWS FROM (pg_catalog.unnest((SELECT pg_catalog.array_agg(c0 ORDER BY c0) FROM ks)), "
              "pg_catalog.unnest((SELECT pg_catalog.array_agg(c1 ORDER BY c0) FROM ks))) AS p(c0, c1)");
    EXPECT_EQ(sql::key_set_as_arrays("ks", 1, 1, "k", true),
              "ROWS FROM (pg_catalog.unnest((SELECT pg_catalog.array_agg(c0 ORDER BY c0) FROM ks)), "
              "pg_catalog.unnest((SELECT pg_catalog.array_agg(x ORDER BY c0) FROM ks))) AS k(c0, x)");
}

TEST(Sql, ParamsAsKeys) {
    EXPECT_EQ(sql::params_as_keys({"$1", "$2", "$3"}, "d"),
              "ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3)) AS d(c0, c1, x)");
}

TEST(Sql, InOtherKeysMatchesByIdentityColumnNames) {
    // the other key set keeps (tenant, id): t's identity (id, tenant) found by name
    EXPECT_EQ(sql::in_other_keys(table("a", {"id", "tenant"}), {"tenant", "id"}, "ks y", "x"),
              "EXISTS (SELECT 1 FROM ks y WHERE y.c1 OPERATOR(pg_catalog.=) x.c0"
              " AND y.c0 OPERATOR(pg_catalog.=) x.c1)");
    EXPECT_EQ(sql::in_other_keys(table("a", {"id"}), {"other"}, "ks y", "x"), "false");
}
