#pragma once
// Status and Result<T>: how errors cross module boundaries in autodistill.
// A Status is ok, or carries the wire error code, a message and the field at
// fault (a dotted path such as "spec.factors[2].values"). No exceptions cross
// a public boundary.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace autodistill {

// Mirrors autodistill.wire.ErrorCode (messages/autodistill.fbs).
enum class Code : uint16_t {
  kOk = 0,
  kInvalidArgument = 1,
  kNotFound = 2,
  kAlreadyExists = 3,
  kFailedPrecondition = 4,
  kUnavailable = 5,
  kResourceExhausted = 6,
  kInternal = 7,
  kMalformed = 8,
  kUnsupportedVersion = 9,
  kUnknownPeer = 10,
  kDigestMismatch = 11,
  kCancelled = 12,
  kTrialError = 13,
  kPermissionDenied = 14,
};

const char* code_name(Code code);

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }

  // "INVALID_ARGUMENT: heads must divide the bottleneck (field: spec.factors[1])"
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string field_;
};

// A value or an error Status.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {}

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace autodistill
