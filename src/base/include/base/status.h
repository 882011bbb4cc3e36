// Status and Result<T>: expected failures as values (DESIGN §4).
//
// A Status is either OK or carries an ErrorCode from a closed set plus a human-readable
// message. Result<T> holds either a T or a non-OK Status. Both are cheap to move and
// [[nodiscard]]. Context is added on the way up with Status::with_context().
// DKB_CHECK aborts on programmer errors only, never on user input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dkb {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kUnauthenticated,
  kPermissionDenied,
  kResourceExhausted,
  kFailedPrecondition,
  kCancelled,
  kDeadlineExceeded,
  kCorruption,
  kIOError,
  kUnimplemented,
  kInternal,
};

// Stable lower-case name, e.g. "invalid_argument".
std::string_view error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == ErrorCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message".
  Status with_context(std::string_view context) const;
  // "invalid_argument: message", or "ok".
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Status already_exists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
inline Status failed_precondition(std::string m) {
  return {ErrorCode::kFailedPrecondition, std::move(m)};
}
inline Status resource_exhausted(std::string m) {
  return {ErrorCode::kResourceExhausted, std::move(m)};
}
inline Status corruption(std::string m) { return {ErrorCode::kCorruption, std::move(m)}; }
inline Status io_error(std::string m) { return {ErrorCode::kIOError, std::move(m)}; }
inline Status unimplemented(std::string m) { return {ErrorCode::kUnimplemented, std::move(m)}; }
inline Status internal_error(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
inline Status cancelled(std::string m) { return {ErrorCode::kCancelled, std::move(m)}; }

[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* msg);

// Result<T>: a T or a non-OK Status. Accessing value() of an error is a programmer error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.is_ok()) check_failed("!status.is_ok()", __FILE__, __LINE__, "Result from OK");
  }

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }

  T& value() & {
    if (!value_) check_failed("is_ok()", __FILE__, __LINE__, status_.to_string().c_str());
    return *value_;
  }
  const T& value() const& {
    if (!value_) check_failed("is_ok()", __FILE__, __LINE__, status_.to_string().c_str());
    return *value_;
  }
  T&& value() && {
    if (!value_) check_failed("is_ok()", __FILE__, __LINE__, status_.to_string().c_str());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace dkb

#define DKB_CHECK(cond)                                                       \
  do {                                                                        \
    if (!(cond)) ::dkb::check_failed(#cond, __FILE__, __LINE__, nullptr);     \
  } while (0)
#define DKB_CHECK_MSG(cond, msg)                                              \
  do {                                                                        \
    if (!(cond)) ::dkb::check_failed(#cond, __FILE__, __LINE__, (msg));       \
  } while (0)

#define DKB_CONCAT_INNER(a, b) a##b
#define DKB_CONCAT(a, b) DKB_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if it is not OK.
#define DKB_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::dkb::Status dkb_status_ = (expr);           \
    if (!dkb_status_.is_ok()) return dkb_status_; \
  } while (0)

// DKB_ASSIGN_OR_RETURN(auto x, make_x()); declares x from a Result or returns its Status.
#define DKB_ASSIGN_OR_RETURN(decl, expr) \
  DKB_ASSIGN_OR_RETURN_IMPL(DKB_CONCAT(dkb_result_, __LINE__), decl, expr)
#define DKB_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                               \
  if (!tmp.is_ok()) return tmp.status();           \
  decl = std::move(tmp).value()
