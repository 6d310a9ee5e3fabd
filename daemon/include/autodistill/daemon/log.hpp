#pragma once
// The daemon's logging: the shared leveled logger (autodistill/log.hpp,
// "<6>2026-12-03T11:40:32.123Z info autodistilld: message") and its macros.
// Thread-safe.

#include <sstream>
#include <string>

#include "autodistill/log.hpp"

namespace autodistill::daemon {

using autodistill::log_enabled;
using autodistill::log_line;
using autodistill::LogLevel;
using autodistill::parse_log_level;
using autodistill::set_log_level;

}  // namespace autodistill::daemon

#define AD_LOG(level, expr)                                     \
  do {                                                          \
    if (::autodistill::daemon::log_enabled(level)) {            \
      std::ostringstream ad_log_os_;                            \
      ad_log_os_ << expr;                                       \
      ::autodistill::daemon::log_line(level, ad_log_os_.str()); \
    }                                                           \
  } while (0)
#define LOG_DEBUG(expr) AD_LOG(::autodistill::daemon::LogLevel::kDebug, expr)
#define LOG_INFO(expr) AD_LOG(::autodistill::daemon::LogLevel::kInfo, expr)
#define LOG_WARN(expr) AD_LOG(::autodistill::daemon::LogLevel::kWarn, expr)
#define LOG_ERROR(expr) AD_LOG(::autodistill::daemon::LogLevel::kError, expr)
