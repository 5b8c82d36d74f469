#!/usr/bin/env bash
# `make demo`: installs what is missing, builds, then on a throwaway cluster
# builds the seed's schema (a <- b with ~4 KB jsonb <- c) and runs
# SELECT cascade_delete('a', 42), printing the preview and the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
exec pg_virtualenv -v 15 psql -X -v ON_ERROR_STOP=1 -f test/demo.sql
