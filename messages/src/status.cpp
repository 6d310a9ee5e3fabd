#include "autodistill/status.hpp"

namespace autodistill {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::kNotFound:
      return "NOT_FOUND";
    case Code::kAlreadyExists:
      return "ALREADY_EXISTS";
    case Code::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case Code::kInternal:
      return "INTERNAL";
    case Code::kMalformed:
      return "MALFORMED";
    case Code::kUnsupportedVersion:
      return "UNSUPPORTED_VERSION";
    case Code::kUnknownPeer:
      return "UNKNOWN_PEER";
    case Code::kDigestMismatch:
      return "DIGEST_MISMATCH";
    case Code::kCancelled:
      return "CANCELLED";
    case Code::kTrialError:
      return "TRIAL_ERROR";
    case Code::kPermissionDenied:
      return "PERMISSION_DENIED";
  }
  return "UNKNOWN";
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  std::string s = std::string(code_name(code_)) + ": " + message_;
  if (!field_.empty()) s += " (field: " + field_ + ")";
  return s;
}

}  // namespace autodistill
