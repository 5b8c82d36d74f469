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
