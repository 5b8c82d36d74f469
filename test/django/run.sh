#!/usr/bin/env bash
# Differential test of cascade_delete against Django's Collector, and of the Django app in
# contrib/django (policy sync, delete()). Needs PGHOST/PGPORT/PGUSER (a superuser) and the
# Debian packages python3-django (3.2) and python3-psycopg2. Final line: `django: N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 difftest.py "$@"
