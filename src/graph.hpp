// The table graph as text for people: Graphviz DOT and Mermaid flowcharts
// (cascade_delete_graph). PostgreSQL-free, so that test/unit checks the
// quoting and the styles without a server.
#pragma once

#include <string>
#include <vector>

namespace cd::graph {

struct Node {
    std::string name;   // the table, as regclass::text writes it
    std::string counts; // "12 deleted", "3 updated", or ""
    bool root = false;  // the table the graph was drawn from
};

// An edge as a delete travels it: from the referenced table (from) to the
// referencing one (to).
struct Link {
    int from = 0, to = 0;
    std::string action;        // CASCADE, PROTECT, RESTRICT, NO ACTION, SET_NULL, ... DO_NOTHING
    std::string columns;       // the referencing columns, "a_id" or "a, b"
    bool application_only = false; // a policy with no foreign key constraint behind it
    bool parent_link = false;      // a parent link policy (deletes the parent row)
    bool partition = false;        // rows of one partition tree, seen from another member
};

// A double-quoted DOT string: backslashes and quotes escaped.
std::string dot_string(const std::string &text);
// Text for a quoted Mermaid label: quotes and markup characters as entities.
std::string mermaid_text(const std::string &text);
// The label of a link: "CASCADE (a_id)", "policy PROTECT (a_id)", "parent link".
std::string link_label(const Link &l);

std::string dot(const std::vector<Node> &nodes, const std::vector<Link> &links);
std::string mermaid(const std::vector<Node> &nodes, const std::vector<Link> &links);

} // namespace cd::graph
