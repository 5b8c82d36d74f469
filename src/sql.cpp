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

} // namespace cd::sql
