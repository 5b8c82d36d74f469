// Cascade planning on Boost.Graph: reachability over CASCADE edges, strongly
// connected components for cycles, and a topological order of the components.
#include "plan.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/strong_components.hpp>
#include <boost/graph/topological_sort.hpp>

#include <cctype>
#include <iterator>
#include <set>
#include <stdexcept>
#include <utility>

// The planner is compiled without PostgreSQL: nothing here may raise a
// PostgreSQL error, so C++ objects need no guard.
#ifdef PG_VERSION_NUM
#error "plan.cpp must not depend on PostgreSQL headers"
#endif

namespace cd {

namespace {
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
}

namespace {
// Every action and its name, once.
const struct {
    Action action;
    const char *name;
} action_names[] = {{Action::Cascade, "CASCADE"},      {Action::Protect, "PROTECT"},
                    {Action::Restrict, "RESTRICT"},    {Action::NoAction, "NO ACTION"},
                    {Action::SetNull, "SET_NULL"},     {Action::SetDefault, "SET_DEFAULT"},
                    {Action::SetValue, "SET"},         {Action::DoNothing, "DO_NOTHING"}};
} // namespace

const char *action_name(Action a) {
    for (const auto &n : action_names)
        if (n.action == a)
            return n.name;
    return "?";
}

Action parse_action(const std::string &name, bool *ok) {
    std::string up;
    for (char c : name)
        up += (c == ' ' || c == '-') ? '_' : static_cast<char>(toupper(static_cast<unsigned char>(c)));
    for (const auto &n : action_names)
        if (n.action != Action::NoAction && up == n.name) {
            *ok = true;
            return n.action;
        }
    *ok = false;
    return Action::DoNothing;
}

Plan make_plan(int n_tables, const std::vector<PlanEdge> &edges, int root) {
    if (root < 0 || root >= n_tables)
        throw std::logic_error("cascade plan: root table out of range");
    for (const auto &e : edges)
        if (e.parent < 0 || e.parent >= n_tables || e.child < 0 || e.child >= n_tables)
            throw std::logic_error("cascade plan: edge endpoint out of range");

    Plan plan;
    plan.in_set.assign(n_tables, 0);

    // 1. Tables reachable from the root through CASCADE edges (parent -> child).
    Graph cascade(n_tables);
    for (const auto &e : edges)
        if (e.action == Action::Cascade)
            boost::add_edge(e.parent, e.child, cascade);
    std::vector<boost::default_color_type> color(n_tables);
    struct Mark : boost::default_bfs_visitor {
        std::vector<char> *in_set;
        void discover_vertex(Graph::vertex_descriptor v, const Graph &) const {
            (*in_set)[v] = 1;
        }
    } mark;
    mark.in_set = &plan.in_set;
    boost::breadth_first_search(
        cascade, boost::vertex(root, cascade),
        boost::visitor(mark).color_map(boost::make_iterator_property_map(
            color.begin(), boost::get(boost::vertex_index, cascade))));

    // 2. The order graph over the set: every edge between two tables of the set
    // constrains the deletion order (a NO ACTION edge too, since its check runs
    // at the end of each statement).
    std::vector<int> local(n_tables, -1), global;
    for (int t = 0; t < n_tables; ++t)
        if (plan.in_set[t]) {
            local[t] = static_cast<int>(global.size());
            global.push_back(t);
        }
    const int n = static_cast<int>(global.size());
    Graph order(n);
    std::vector<char> self_loop(n, 0);
    for (const auto &e : edges) {
        if (local[e.parent] < 0 || local[e.child] < 0)
            continue;
        if (e.parent == e.child)
            self_loop[local[e.parent]] = 1;
        else
            boost::add_edge(local[e.parent], local[e.child], order);
    }

    // 3. Strongly connected components and the condensation's topological order.
    std::vector<int> comp(n);
    const int n_comp = boost::strong_components(
        order, boost::make_iterator_property_map(comp.begin(),
                                                 boost::get(boost::vertex_index, order)));
    Graph condensed(n_comp);
    std::set<std::pair<int, int>> seen;
    for (auto [it, end] = boost::edges(order); it != end; ++it) {
        int a = comp[boost::source(*it, order)], b = comp[boost::target(*it, order)];
        if (a != b && seen.insert({a, b}).second)
            boost::add_edge(a, b, condensed);
    }
    std::vector<int> topo;
    boost::topological_sort(condensed, std::back_inserter(topo)); // reverse order
    std::vector<std::vector<int>> members(n_comp);
    std::vector<char> cyclic(n_comp, 0);
    for (int v = 0; v < n; ++v) {
        members[comp[v]].push_back(global[v]);
        if (self_loop[v])
            cyclic[comp[v]] = 1;
    }
    for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
        plan.components.push_back(members[*it]);
        plan.cyclic.push_back(cyclic[*it] || members[*it].size() > 1);
    }
    return plan;
}

} // namespace cd
