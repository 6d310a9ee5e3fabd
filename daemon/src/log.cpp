#include "autodistill/daemon/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace autodistill::daemon {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mutex;
// syslog priorities understood by journald on stderr lines.
const char* prefix(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "<7>debug";
    case LogLevel::kInfo:
      return "<6>info";
    case LogLevel::kWarn:
      return "<4>warn";
    case LogLevel::kError:
      return "<3>error";
  }
  return "";
}
}  // namespace

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}

bool parse_log_level(const std::string& name, LogLevel* out) {
  if (name == "debug")
    *out = LogLevel::kDebug;
  else if (name == "info")
    *out = LogLevel::kInfo;
  else if (name == "warn")
    *out = LogLevel::kWarn;
  else if (name == "error")
    *out = LogLevel::kError;
  else
    return false;
  return true;
}

bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load();
}

void log_line(LogLevel level, const std::string& message) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s %s.%03lld autodistilld: %s\n", prefix(level), stamp,
               static_cast<long long>(ms % 1000), message.c_str());
}

}  // namespace autodistill::daemon
