#include "autodistill/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace autodistill {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mutex;
std::string g_program = "autodistill";  // guarded by g_mutex

// The syslog priority journald understands on a stderr line, and the name.
const char* priority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "<7>";
    case LogLevel::kInfo:
      return "<6>";
    case LogLevel::kWarn:
      return "<4>";
    case LogLevel::kError:
      return "<3>";
  }
  return "";
}

const char* name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "";
}

}  // namespace

void set_log_program(const std::string& program) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_program = program;
}

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}

bool parse_log_level(const std::string& text, LogLevel* out) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == name(level)) {
      *out = level;
      return true;
    }
  }
  return false;
}

bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load();
}

std::string format_log_line(LogLevel level, int64_t epoch_ms, const std::string& program,
                            const std::string& message) {
  const std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[40];
  const size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(epoch_ms % 1000));
  return std::string(priority(level)) + stamp + " " + name(level) + " " + program + ": " + message;
}

void log_line(LogLevel level, const std::string& message) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::lock_guard<std::mutex> lock(g_mutex);
  const std::string line = format_log_line(level, ms, g_program, message) + "\n";
  std::fputs(line.c_str(), stderr);
}

}  // namespace autodistill
