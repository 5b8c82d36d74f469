#!/usr/bin/env bash
# `make test`: installs what is missing, builds, then runs every suite on a
# throwaway PostgreSQL 15 cluster (pg_virtualenv) and checks its server log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
exec pg_virtualenv -v 15 bash test/in_cluster.sh
