#include "sqlite_functions.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

namespace dkb::kb {
namespace {

void free_code(void* p) {
  pcre2_code_free(static_cast<pcre2_code*>(p));
}

void regexp_fn(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  auto* code = static_cast<pcre2_code*>(sqlite3_get_auxdata(ctx, 0));
  if (code == nullptr) {
    const auto* pat = sqlite3_value_text(argv[0]);
    int n = sqlite3_value_bytes(argv[0]);
    int err = 0;
    PCRE2_SIZE off = 0;
    code = pcre2_compile(pat, static_cast<PCRE2_SIZE>(n), PCRE2_UTF, &err, &off, nullptr);
    if (code == nullptr) {
      sqlite3_result_error(ctx, "dkb_regexp: invalid pattern", -1);
      return;
    }
    sqlite3_set_auxdata(ctx, 0, code, free_code);
    code = static_cast<pcre2_code*>(sqlite3_get_auxdata(ctx, 0));  // may have been freed
    if (code == nullptr) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
  }
  const auto* text = sqlite3_value_text(argv[1]);
  int n = sqlite3_value_bytes(argv[1]);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  if (md == nullptr) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  // Stored text is validated UTF-8, so skip PCRE2's own UTF check.
  int rc = pcre2_match(code, text, static_cast<PCRE2_SIZE>(n), 0, PCRE2_NO_UTF_CHECK, md, nullptr);
  pcre2_match_data_free(md);
  if (rc >= 0) {
    sqlite3_result_int(ctx, 1);
  } else if (rc == PCRE2_ERROR_NOMATCH) {
    sqlite3_result_int(ctx, 0);
  } else {
    sqlite3_result_error(ctx, "dkb_regexp: match failed (limit exceeded?)", -1);
  }
}

}  // namespace

Status register_sql_functions(sqlite3* db) {
  int rc = sqlite3_create_function_v2(db, "dkb_regexp", 2,
                                      SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
                                      nullptr, regexp_fn, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK)
    return internal_error(std::string("registering dkb_regexp: ") + sqlite3_errstr(rc));
  return Status::ok();
}

}  // namespace dkb::kb
