// Statement text pieces (see sql.hpp). No PostgreSQL headers: unit-tested alone.
#include "sql.hpp"

#ifdef PG_VERSION_NUM
#error "sql.cpp must not depend on PostgreSQL headers"
#endif

namespace cd::sql {

std::string key_col(std::size_t i) { return "c" + std::to_string(i); }

std::string param_col(std::size_t i) { return "k" + std::to_string(i); }

std::string ident(const std::string &name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"')
            out += '"';
        out += c;
    }
    return out + "\"";
}

std::string qualified(const std::string &nsp, const std::string &rel) {
    return ident(nsp) + "." + ident(rel);
}

std::string join(const std::vector<std::string> &items, const std::string &sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i)
        out += (i ? sep : "") + items[i];
    return out;
}

std::string param(std::size_t n) { return "$" + std::to_string(n); }

std::string unnest(const std::string &expr) { return "pg_catalog.unnest(" + expr + ")"; }

std::string rows_from(const std::vector<std::string> &arrays, const std::string &alias,
                      const std::vector<std::string> &names) {
    return "ROWS FROM (" + join(arrays, ", ") + ") AS " + alias + "(" + join(names, ", ") + ")";
}

std::string param_rows(std::size_t n, std::size_t first) {
    std::vector<std::string> arrays, names;
    for (std::size_t i = 0; i < n; ++i) {
        arrays.push_back(unnest(param(first + i)));
        names.push_back(param_col(i));
    }
    return rows_from(arrays, kKeys, names);
}

std::string key_col_list(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i)
        out += key_col(i) + ", ";
    return out + kVersion;
}

std::string source_cols(const std::vector<std::string> &cols, const std::string &row) {
    std::string out;
    for (const auto &c : cols)
        out += row + "." + ident(c) + ", ";
    return out + row + ".xmin";
}

std::string key_cols_as(const std::vector<std::string> &cols, bool with_tid) {
    std::string out;
    for (std::size_t i = 0; i < cols.size(); ++i)
        out += std::string(kRow) + "." + ident(cols[i]) + " AS " + key_col(i) + ", ";
    out += std::string(kRow) + ".xmin AS " + kVersion;
    if (with_tid)
        out += std::string(", ") + kRow + ".ctid AS " + kTid;
    return out;
}

// Every update of a row makes a version with another xmin, which READ
// COMMITTED's re-check of a row changed while a delete waited for it compares
// like any other condition.
std::string same_version(const std::string &version) {
    return std::string(" AND ") + kRow + ".xmin OPERATOR(pg_catalog.=) " + kKeys + "." + version;
}

std::vector<std::string> identity_cols(const Table &t, const std::string &row) {
    std::vector<std::string> cols;
    for (const auto &col : t.id_cols)
        cols.push_back(row + "." + ident(col));
    return cols;
}

std::string select_keys_as_text(const std::vector<std::string> &cols, const std::string &from_where) {
    std::string key = cols.size() == 1 ? cols[0] : "ROW(" + join(cols, ", ") + ")";
    return "SELECT " + key + "::pg_catalog.text" + from_where + " ORDER BY " + join(cols, ", ");
}

std::string identity(const Table &t, const std::string &keys, const std::string &prefix) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < t.id_cols.size(); ++i)
        parts.push_back(std::string(kRow) + "." + ident(t.id_cols[i]) + " " + t.id_eqops[i] + " " +
                        keys + "." + prefix + std::to_string(i));
    return join(parts, " AND ");
}

std::string parent_match(const Edge &e, const std::vector<std::string> &parent_key_cols,
                         const std::string &parent_keys, const std::string &row) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < e.cols.size(); ++i) {
        std::size_t j = 0;
        while (j < parent_key_cols.size() && parent_key_cols[j] != e.refcols[i])
            ++j;
        parts.push_back(e.match(i, parent_keys + "." + key_col(j), row));
    }
    return join(parts, " AND ") + e.filter(row);
}

std::string row_match(const Edge &e, const std::string &parent_row, const std::string &row) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < e.cols.size(); ++i)
        parts.push_back(e.match(i, parent_row + "." + ident(e.refcols[i]), row));
    return join(parts, " AND ") + e.filter(row);
}

std::string in_keys(const Table &t, const std::string &keys, const std::string &row) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < t.id_cols.size(); ++i)
        parts.push_back(std::string(kCollected) + "." + key_col(i) + " " + t.id_eqops[i] + " " + row +
                        "." + ident(t.id_cols[i]));
    return "EXISTS (SELECT 1 FROM " + keys + " WHERE " + join(parts, " AND ") + ")";
}

std::string not_in_keys(const Table &t, const std::string &keys, const std::string &row) {
    return " AND NOT " + in_keys(t, keys, row);
}

std::string in_other_keys(const Table &t, const std::vector<std::string> &key_cols, const std::string &keys,
                          const std::string &row) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < t.id_cols.size(); ++i) {
        std::size_t j = 0;
        while (j < key_cols.size() && key_cols[j] != t.id_cols[i])
            ++j;
        if (j == key_cols.size())
            return "false";
        parts.push_back(std::string(kOtherKeys) + "." + key_col(j) + " " + t.id_eqops[i] + " " + row + "." +
                        key_col(i));
    }
    return "EXISTS (SELECT 1 FROM " + keys + " WHERE " + join(parts, " AND ") + ")";
}

std::string key_set_as_arrays(const std::string &key_set, std::size_t ncols, std::size_t nid,
                              const std::string &alias, bool with_version) {
    std::vector<std::string> order, arrays, names;
    for (std::size_t i = 0; i < nid; ++i)
        order.push_back(key_col(i));
    for (std::size_t i = 0; i < ncols + (with_version ? 1 : 0); ++i) {
        std::string col = i < ncols ? key_col(i) : std::string(kVersion);
        arrays.push_back(unnest("(SELECT pg_catalog.array_agg(" + col + " ORDER BY " + join(order, ", ") +
                                ") FROM " + key_set + ")"));
        names.push_back(col);
    }
    return rows_from(arrays, alias, names);
}

std::string params_as_keys(const std::vector<std::string> &params, const std::string &alias) {
    std::vector<std::string> arrays, names;
    for (std::size_t i = 0; i < params.size(); ++i) {
        arrays.push_back(unnest(params[i]));
        names.push_back(i + 1 < params.size() ? key_col(i) : std::string(kVersion));
    }
    return rows_from(arrays, alias, names);
}

} // namespace cd::sql

namespace cd {

// Members of the table graph's types that only build text.

std::string Table::sql() const { return sql::qualified(nsp, rel); }

// ONLY, as PostgreSQL's own foreign keys read a table; a partitioned table as
// the whole of its partitions.
std::string Table::from() const { return (relkind == 'p' ? "" : "ONLY ") + sql(); }

std::string Edge::match(std::size_t i, const std::string &p, const std::string &c) const {
    std::string lhs = p;
    if (i < casts.size() && !casts[i].empty())
        lhs = "CAST(CAST(" + p + " AS pg_catalog.text) AS " + casts[i] + ")";
    return lhs + " " + eqops[i] + " " + c + "." + sql::ident(cols[i]);
}

std::string Edge::filter(const std::string &c) const {
    if (filter_col.empty())
        return "";
    return " AND " + c + "." + sql::ident(filter_col) + " " + filter_op + " " + filter_literal;
}

} // namespace cd
