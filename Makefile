# cascade_delete: PGXS build, regression tests, demo and test entry points.
EXTENSION    = cascade_delete
MODULE_big   = cascade_delete
OBJS         = src/entry.o src/catalog.o src/plan.o src/sql.o src/executor.o src/key_sets.o src/collect.o src/check.o src/mutate.o src/verify.o src/probe.o src/distributed.o src/report.o src/explain.o src/job_plan.o src/job_worker.o src/graph.o src/policy.o src/pgutil.o src/ri_bypass.o src/statements.o src/session.o src/job_state.o
DATA         = sql/cascade_delete--0.1.0.sql sql/cascade_delete--0.1.0--0.2.0.sql \
               sql/cascade_delete--0.2.0--0.3.0.sql sql/cascade_delete--0.3.0--0.4.0.sql \
               sql/cascade_delete--0.4.0--0.5.0.sql sql/cascade_delete--0.5.0--0.6.0.sql
PG_CONFIG   ?= pg_config

# Regression suite: scripts in sql/, expected outputs in expected/. The install
# and update scripts above are the only sql/ files whose names start with
# "cascade_delete--" (0.2.0 installs as 0.1.0 followed by the update).
REGRESS      = actions protect_restrict catalog_actions cycles deep_tree keys partitioned names dry_run max_rows where_many bad_input privileges triggers policies cancel ddl policy_kinds memory_mode partition_tree policy_lifecycle read_only trigger_order explain jobs security
REGRESS_OPTS = --load-extension=cascade_delete
# Isolation specs (pg_isolation_regress): test/isolation/specs, test/isolation/expected.
ISOLATION    = concurrent_insert concurrent_update_key concurrent_overlap concurrent_policy_change concurrent_insert_rr concurrent_insert_selfref concurrent_deadlock concurrent_policy_fk concurrent_policy_cache concurrent_recheck concurrent_policy_direct_write job_concurrent
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=cascade_delete

PG_CPPFLAGS  = -I$(srcdir)/src
override PG_CXXFLAGS += -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-register -fPIC
SHLIB_LINK  += -lstdc++
# -Wno-register: PostgreSQL 15's own headers use `register`, which C++17 dropped.
# JIT bitcode would need clang; the extension gains nothing from it.
override with_llvm = no
# Objects depend on the headers they include (.deps/): a changed class layout
# must rebuild every file that uses it.
override autodepend = yes

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The two commands of the README. Each installs what it needs (test/setup.sh).
.PHONY: demo test bench bench-jobs bench-citus graph format
demo:
	bash test/demo.sh

test:
	bash test/run_tests.sh

# The benchmark; BENCH_ARGS="--b 10000 --c 100000" for a quick run.
BENCH_ARGS ?= --series
bench:
	bash test/bench/run.sh $(BENCH_ARGS)

# Chunked jobs: a 10,000,001-row cascade as a job and in one transaction, and
# concurrent OLTP latency during each; JOBS_ARGS="--b 100000 --c 900000" for a quick run.
JOBS_ARGS ?=
bench-jobs:
	BENCH_SCRIPT=jobs.py bash test/bench/run.sh $(JOBS_ARGS)

# cascade_delete on Citus (a coordinator and two workers of its own; skipped
# without Citus); CITUS_ARGS="--b 10000 --c 100000" for a quick run.
bench-citus:
	BENCH_SCRIPT=citus.py bash test/bench/run.sh $(CITUS_ARGS)

# The demo schema's picture for the README (docs/demo-graph.svg), drawn by
# cascade_delete_graph and Graphviz on a throwaway cluster.
graph:
	bash test/setup.sh
	pg_virtualenv -v 15 /usr/bin/python3 test/graph/run.py --write docs/demo-graph.svg

format:
	clang-format -i src/*.cpp src/*.hpp
