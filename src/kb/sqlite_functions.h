// SQL functions kb registers on its SQLite connection. Private to kb.
//   dkb_regexp(pattern, text) → 1 when the PCRE2 (UTF) pattern matches anywhere in text, else 0;
//   NULL when either argument is NULL. The compiled pattern is cached per statement.
#pragma once

#include <sqlite3.h>

#include "base/status.h"

namespace dkb::kb {

Status register_sql_functions(sqlite3* db);

}  // namespace dkb::kb
