// Graphviz DOT and Mermaid text of the table graph (graph.hpp). Every action
// gets a look of its own, so that a picture shows at a glance what blocks
// (PROTECT, RESTRICT: thick, red / orange), what is changed instead of deleted
// (SET_*: blue), what is left alone (DO_NOTHING, NO ACTION: grey) and which
// keys exist only as policies (dashed).
#include "graph.hpp"

namespace cd::graph {

namespace {

struct Look {
    const char *color;
    int width; // pen width in DOT, pixels in Mermaid
};

Look look_of(const Link &l) {
    if (l.partition)
        return {"#808080", 1};
    if (l.action == "PROTECT")
        return {"#d62728", 3};
    if (l.action == "RESTRICT")
        return {"#ff7f0e", 3};
    if (l.action == "SET_NULL" || l.action == "SET_DEFAULT" || l.action == "SET")
        return {"#1f77b4", 1};
    if (l.action == "DO_NOTHING" || l.action == "NO ACTION")
        return {"#808080", 1};
    return {"#000000", 1};
}

std::string node_text(const Node &n, const std::string &newline) {
    return n.name + (n.counts.empty() ? "" : newline + n.counts);
}

} // namespace

std::string dot_string(const std::string &text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

std::string mermaid_text(const std::string &text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '"': out += "#quot;"; break;
        case '<': out += "#lt;"; break;
        case '>': out += "#gt;"; break;
        case '|': out += "#124;"; break;
        case '#': out += "#35;"; break;
        case '`': out += "#96;"; break;  // would open a Markdown string
        case '\r': out += "#13;"; break; // would end the line
        case '\n': out += "<br/>"; break;
        default: out += c;
        }
    }
    return out;
}

std::string link_label(const Link &l) {
    if (l.partition)
        return "partition";
    if (l.parent_link)
        return "parent link (" + l.columns + ")";
    return std::string(l.application_only ? "policy " : "") + l.action + " (" + l.columns + ")";
}

std::string dot(const std::vector<Node> &nodes, const std::vector<Link> &links) {
    std::string out = "digraph cascade_delete {\n"
                      "  rankdir=LR;\n"
                      "  node [shape=box, fontname=\"Helvetica\", fontsize=11];\n"
                      "  edge [fontname=\"Helvetica\", fontsize=9];\n";
    for (size_t i = 0; i < nodes.size(); ++i)
        out += "  n" + std::to_string(i) + " [label=" + dot_string(node_text(nodes[i], "\n")) +
               (nodes[i].root ? ", style=\"bold,filled\", fillcolor=\"lightyellow\"" : "") + "];\n";
    for (const auto &l : links) {
        Look k = look_of(l);
        std::string style = l.action == "DO_NOTHING" ? "dotted" : l.application_only || l.partition ? "dashed" : "solid";
        out += "  n" + std::to_string(l.from) + " -> n" + std::to_string(l.to) + " [label=" +
               dot_string(link_label(l)) + ", color=\"" + k.color + "\", fontcolor=\"" + k.color +
               "\", penwidth=" + std::to_string(k.width) + ", style=" + style +
               (l.parent_link ? ", arrowhead=diamond" : "") + "];\n";
    }
    return out + "}\n";
}

std::string mermaid(const std::vector<Node> &nodes, const std::vector<Link> &links) {
    std::string out = "flowchart LR\n";
    for (size_t i = 0; i < nodes.size(); ++i)
        out += "  n" + std::to_string(i) + "[\"" + mermaid_text(node_text(nodes[i], "\n")) + "\"]\n";
    std::string styles;
    for (size_t i = 0; i < links.size(); ++i) {
        const Link &l = links[i];
        Look k = look_of(l);
        // dotted: DO_NOTHING and keys that exist only as policies; thick: blockers
        const char *arrow = l.action == "DO_NOTHING" || l.application_only || l.partition ? "-.->"
                            : k.width > 1                                                  ? "==>"
                                                                                          : "-->";
        out += "  n" + std::to_string(l.from) + " " + arrow + "|\"" + mermaid_text(link_label(l)) + "\"| n" +
               std::to_string(l.to) + "\n";
        styles += "  linkStyle " + std::to_string(i) + " stroke:" + k.color +
                  ",stroke-width:" + std::to_string(k.width) + "px,color:" + k.color + "\n";
    }
    for (size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].root)
            styles += "  style n" + std::to_string(i) + " fill:#ffffe0,stroke-width:2px\n";
    return out + styles;
}

} // namespace cd::graph
