// The cascade plan (src/plan.cpp, Boost.Graph), without a server.
#include "plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

using cd::Action;
using cd::make_plan;
using cd::PlanEdge;

namespace {
// Position of table t's component in collection order.
int position(const cd::Plan &p, int t) {
    for (size_t i = 0; i < p.components.size(); ++i)
        if (std::find(p.components[i].begin(), p.components[i].end(), t) != p.components[i].end())
            return static_cast<int>(i);
    return -1;
}
} // namespace

TEST(Plan, ReachesOnlyThroughCascade) {
    // 0 <- 1 (CASCADE) <- 2 (SET_NULL); 0 <- 3 (PROTECT); 4 unrelated
    auto p = make_plan(5, {{0, 1, Action::Cascade}, {1, 2, Action::SetNull}, {0, 3, Action::Protect}}, 0);
    EXPECT_EQ(p.in_set, (std::vector<char>{1, 1, 0, 0, 0}));
    ASSERT_EQ(p.components.size(), 2u);
    EXPECT_LT(position(p, 0), position(p, 1)); // referenced tables first
    EXPECT_EQ(p.cyclic, (std::vector<char>{0, 0}));
}

TEST(Plan, SelfReferenceIsCyclic) {
    auto p = make_plan(2, {{0, 1, Action::Cascade}, {1, 1, Action::Cascade}}, 0);
    ASSERT_EQ(p.components.size(), 2u);
    EXPECT_EQ(p.components[1], (std::vector<int>{1}));
    EXPECT_TRUE(p.cyclic[1]);
    EXPECT_FALSE(p.cyclic[0]);
}

TEST(Plan, CycleIsOneComponent) {
    // 0 -> 1 -> 2 -> 1 (a cycle of two below the root), 2 -> 3
    auto p = make_plan(4, {{0, 1, Action::Cascade}, {1, 2, Action::Cascade}, {2, 1, Action::Cascade},
                           {2, 3, Action::Cascade}},
                       0);
    ASSERT_EQ(p.components.size(), 3u);
    std::vector<int> cycle = p.components[1];
    std::sort(cycle.begin(), cycle.end());
    EXPECT_EQ(cycle, (std::vector<int>{1, 2}));
    EXPECT_TRUE(p.cyclic[1]);
    EXPECT_LT(position(p, 2), position(p, 3));
}

TEST(Plan, SeveralPathsOrderAfterEveryParent) {
    // 0 -> 1 -> 3 and 0 -> 2 -> 3: 3 after both 1 and 2
    auto p = make_plan(4, {{0, 1, Action::Cascade}, {1, 3, Action::Cascade}, {0, 2, Action::Cascade},
                           {2, 3, Action::Cascade}},
                       0);
    EXPECT_EQ(p.components.size(), 4u);
    EXPECT_LT(position(p, 1), position(p, 3));
    EXPECT_LT(position(p, 2), position(p, 3));
}

TEST(Plan, NoActionEdgeInsideTheSetOrders) {
    // 0 -> 1 CASCADE, 0 -> 2 CASCADE, 2 -> 1 NO ACTION: 1 references 2, so 1 is
    // deleted (and collected after) 2
    auto p = make_plan(3, {{0, 1, Action::Cascade}, {0, 2, Action::Cascade}, {2, 1, Action::NoAction}}, 0);
    EXPECT_LT(position(p, 2), position(p, 1));
}

TEST(Plan, RootInACycleWithItsChild) {
    auto p = make_plan(2, {{0, 1, Action::Cascade}, {1, 0, Action::Cascade}}, 0);
    ASSERT_EQ(p.components.size(), 1u);
    EXPECT_TRUE(p.cyclic[0]);
}

TEST(Plan, RejectsOutOfRange) {
    EXPECT_THROW(make_plan(1, {}, 1), std::logic_error);
    EXPECT_THROW(make_plan(2, {{0, 2, Action::Cascade}}, 0), std::logic_error);
}

TEST(Actions, NamesRoundTrip) {
    for (Action a : {Action::Cascade, Action::Protect, Action::Restrict, Action::SetNull,
                     Action::SetDefault, Action::SetValue, Action::DoNothing}) {
        bool ok = false;
        EXPECT_EQ(cd::parse_action(cd::action_name(a), &ok), a);
        EXPECT_TRUE(ok);
    }
    EXPECT_STREQ(cd::action_name(Action::NoAction), "NO ACTION");
}

TEST(Actions, DjangoSpellings) {
    bool ok = false;
    EXPECT_EQ(cd::parse_action("set null", &ok), Action::SetNull);
    EXPECT_TRUE(ok);
    EXPECT_EQ(cd::parse_action("Set-Default", &ok), Action::SetDefault);
    EXPECT_TRUE(ok);
    cd::parse_action("NO ACTION", &ok); // PostgreSQL's, not a policy's
    EXPECT_FALSE(ok);
    cd::parse_action("cascades", &ok);
    EXPECT_FALSE(ok);
}
