#pragma once
// Leveled logging to stderr for every autodistill program, one line per
// call, journald-friendly and greppable:
//
//   <6>2026-12-03T11:40:32.123Z info autodistill-probe-worker: message
//
// (the syslog priority journald reads, the time in ISO 8601 UTC, the level,
// the program). Thread-safe.

#include <cstdint>
#include <string>

namespace autodistill {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// The program name on every line (default "autodistill").
void set_log_program(const std::string& program);
// Lines below `level` are dropped (default info).
void set_log_level(LogLevel level);
// "debug" | "info" | "warn" | "error"; false for anything else.
bool parse_log_level(const std::string& name, LogLevel* out);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, const std::string& message);
// The line log_line() writes for a message at `epoch_ms`, without the newline.
std::string format_log_line(LogLevel level, int64_t epoch_ms, const std::string& program,
                            const std::string& message);

}  // namespace autodistill
