// The cascade run: one call of cascade_delete / _many / _where.
#pragma once

#include "boundary.hpp"

#include <string>

namespace cd {

struct Request {
    unsigned target = 0;
    bool dry_run = false;
    bool where = false;        // roots chosen by a WHERE condition
    std::string condition;     // the condition, when where
    bool many = false;         // key is an array of keys
    Datum key = 0;             // the key(s), when !where
    unsigned key_type = 0;     // type of key
};

// Settings (GUCs, defined in entry.cpp).
extern int batch_size;
extern int max_rows;
extern bool fast_path;
extern bool lock_policy_tables;
extern int memory_keys;

// Runs the cascade (or its dry run) and returns the report, a jsonb Datum in
// the caller's memory context.
Datum run_cascade(const Request &req);

} // namespace cd
