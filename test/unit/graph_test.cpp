// The table graph's DOT and Mermaid text (src/graph.cpp), without a server.
#include "graph.hpp"

#include <gtest/gtest.h>

namespace graph = cd::graph;

namespace {
bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

std::vector<graph::Node> nodes() {
    graph::Node a, b, c;
    a.name = "app.\"A b\"";
    a.root = true;
    a.counts = "1 deleted";
    b.name = "app.b";
    c.name = "app.c";
    return {a, b, c};
}

graph::Link link(int from, int to, const std::string &action, bool application_only = false) {
    graph::Link l;
    l.from = from;
    l.to = to;
    l.action = action;
    l.columns = "a_id";
    l.application_only = application_only;
    return l;
}
} // namespace

TEST(Graph, DotStringEscapesQuotesBackslashesAndNewlines) {
    EXPECT_EQ(graph::dot_string("a"), "\"a\"");
    EXPECT_EQ(graph::dot_string("app.\"A b\"\n1 deleted"), "\"app.\\\"A b\\\"\\n1 deleted\"");
    EXPECT_EQ(graph::dot_string("x\\y"), "\"x\\\\y\"");
}

TEST(Graph, MermaidTextUsesEntities) {
    EXPECT_EQ(graph::mermaid_text("app.\"A|b\" <x> #1"), "app.#quot;A#124;b#quot; #lt;x#gt; #35;1");
    EXPECT_EQ(graph::mermaid_text("a\nb"), "a<br/>b");
    EXPECT_EQ(graph::mermaid_text("a\r`b`"), "a#13;#96;b#96;");
}

TEST(Graph, LinkLabels) {
    EXPECT_EQ(graph::link_label(link(0, 1, "CASCADE")), "CASCADE (a_id)");
    EXPECT_EQ(graph::link_label(link(0, 1, "PROTECT", true)), "policy PROTECT (a_id)");
    graph::Link p = link(0, 1, "CASCADE");
    p.parent_link = true;
    EXPECT_EQ(graph::link_label(p), "parent link (a_id)");
}

TEST(Graph, DotDrawsEachActionItsOwnWay) {
    std::string d = graph::dot(nodes(), {link(0, 1, "CASCADE"), link(0, 2, "PROTECT", true), link(1, 2, "DO_NOTHING", true),
                                         link(1, 2, "SET_NULL")});
    EXPECT_TRUE(contains(d, "digraph cascade_delete {"));
    EXPECT_TRUE(contains(d, "n0 [label=\"app.\\\"A b\\\"\\n1 deleted\", style=\"bold,filled\""));
    EXPECT_TRUE(contains(d, "n0 -> n1 [label=\"CASCADE (a_id)\", color=\"#000000\", fontcolor=\"#000000\", penwidth=1, style=solid]"));
    EXPECT_TRUE(contains(d, "n0 -> n2 [label=\"policy PROTECT (a_id)\", color=\"#d62728\", fontcolor=\"#d62728\", penwidth=3, style=dashed]"));
    EXPECT_TRUE(contains(d, "n1 -> n2 [label=\"policy DO_NOTHING (a_id)\", color=\"#808080\", fontcolor=\"#808080\", penwidth=1, style=dotted]"));
    EXPECT_TRUE(contains(d, "n1 -> n2 [label=\"SET_NULL (a_id)\", color=\"#1f77b4\""));
    EXPECT_EQ(d.back(), '\n');
}

TEST(Graph, MermaidDrawsEachActionItsOwnWay) {
    std::string m = graph::mermaid(nodes(), {link(0, 1, "CASCADE"), link(0, 2, "RESTRICT"), link(1, 2, "CASCADE", true)});
    EXPECT_TRUE(contains(m, "flowchart LR\n"));
    EXPECT_TRUE(contains(m, "  n0[\"app.#quot;A b#quot;<br/>1 deleted\"]\n"));
    EXPECT_TRUE(contains(m, "  n0 -->|\"CASCADE (a_id)\"| n1\n"));
    EXPECT_TRUE(contains(m, "  n0 ==>|\"RESTRICT (a_id)\"| n2\n"));
    EXPECT_TRUE(contains(m, "  n1 -.->|\"policy CASCADE (a_id)\"| n2\n"));
    EXPECT_TRUE(contains(m, "  linkStyle 1 stroke:#ff7f0e,stroke-width:3px,color:#ff7f0e\n"));
    EXPECT_TRUE(contains(m, "  style n0 fill:#ffffe0,stroke-width:2px\n"));
}
