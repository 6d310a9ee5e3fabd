#pragma once
// Minimal leveled logging to stderr, one line per call, journald-friendly
// ("<level>autodistilld: message"). Thread-safe.

#include <sstream>
#include <string>

namespace autodistill::daemon {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_log_level(LogLevel level);
bool parse_log_level(const std::string& name, LogLevel* out);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, const std::string& message);

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
