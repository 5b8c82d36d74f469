#!/usr/bin/env bash
# Installs what building and testing cascade_delete needs on Debian 12 (apt-get,
# through sudo when not root), then builds and installs the extension.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The extension's build and its unit tests (GoogleTest), then what the suites
# beyond pg_regress use: psycopg2,
# Django and SQLAlchemy (Django differential test, fuzzer, clients, torture),
# graphviz (the graph suite renders cascade_delete_graph's DOT),
# node and npm (node-postgres client test; any installed node will do).
packages=(postgresql-15 postgresql-server-dev-15 postgresql-common libboost-graph-dev g++ make libgtest-dev
          python3 python3-psycopg2 python3-django python3-sqlalchemy graphviz
          ${EXTRA_PACKAGES:-})
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

make -s PG_CONFIG="$PG_CONFIG"
$SUDO make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
