// The cascade plan: which tables a delete can reach and in which order their
// strongly connected components are collected and deleted. Pure C++ and
// Boost.Graph; this header must stay free of PostgreSQL includes.
#pragma once

#include <string>
#include <vector>

namespace cd {

// What happens to referencing rows when a referenced row is deleted.
enum class Action {
    Cascade,    // delete them too (Django CASCADE, PostgreSQL 'c')
    Protect,    // refuse if any exists, even one deleted through another path
    Restrict,   // refuse if one would survive the cascade (Django RESTRICT, PostgreSQL 'r')
    NoAction,   // PostgreSQL 'a': same check as Restrict
    SetNull,    // set the referencing columns to NULL
    SetDefault, // set them to their defaults
    SetValue,   // set them to a given value (Django SET(value))
    DoNothing,  // not handled here; a real constraint, if any, decides
};

// The action's name as policies store it and reports show it ("SET_NULL";
// "NO ACTION" for PostgreSQL's own check, which no policy sets).
const char *action_name(Action a);
// Parses a Django action name (case-insensitive; "set null" and "set-null"
// too); NO ACTION is not one.
Action parse_action(const std::string &name, bool *ok);
// SET_NULL, SET_DEFAULT, SET(value): the referencing rows are updated.
inline bool sets_columns(Action a) {
    return a == Action::SetNull || a == Action::SetDefault || a == Action::SetValue;
}

struct PlanEdge {
    int parent; // referenced table
    int child;  // referencing table
    Action action;
};

struct Plan {
    // in_set[t]: rows of table t may be deleted (reachable from a root by CASCADE).
    std::vector<char> in_set;
    // Strongly connected components of the tables in the set, ordered so that
    // referenced tables come before referencing ones (collection order);
    // deletion runs the list backwards.
    std::vector<std::vector<int>> components;
    // cyclic[i]: component i has more than one table or an edge to itself, so
    // its keys need a fixpoint and its rows are deleted in a single statement.
    std::vector<char> cyclic;
};

// Builds the plan for n_tables tables, edges between them, and the root table.
// Throws std::logic_error on malformed input (indices out of range).
Plan make_plan(int n_tables, const std::vector<PlanEdge> &edges, int root);

} // namespace cd
