// The fast path's hook: lets cascade_delete's own DELETE statements skip
// PostgreSQL's RI triggers for foreign keys it has handled (see ri_bypass.cpp).
// PostgreSQL code only: call through cd::pg_call.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace cd::ri {
void install(); // from _PG_init
// The next DELETE statement to start skips, on relation rels[i], the RI
// triggers of constraint cons[i].
void arm(int n, const Oid *rels, const Oid *cons);
void disarm();
} // namespace cd::ri
