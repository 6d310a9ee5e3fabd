#pragma once
// The one command-line parser of every autodistill binary (the daemon, the
// CLI, each worker, the tools): `--name VALUE`, `--name=VALUE`, switches,
// positional arguments, `--help` and `--version`, with generated usage text.
// In flag names `-` and `_` are the same (`--data_dir` is `--data-dir`).
// Not thread-safe; one per command line.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill {

class FlagParser {
 public:
  // `usage_head` is printed before the flag list (program name, summary).
  explicit FlagParser(std::string usage_head);

  // A flag with a value; `apply` parses and stores it (an error's message is
  // reported with the flag's name). A flag given twice is applied twice, so
  // list-valued flags (--study) append.
  void add(std::string name, std::string value_name, std::string help,
           std::function<Status(const std::string& value)> apply);
  // A flag without a value.
  void add_switch(std::string name, std::string help, std::function<void()> apply);
  // Arguments that are not flags go to `apply`, in order (`what` names them
  // in errors and in the usage, e.g. "ID"); without this they are refused.
  void set_positionals(std::string what, std::function<Status(const std::string& arg)> apply);

  // Parses arguments (without the program name). kInvalidArgument with the
  // flag (or the positional's `what`) as `field` for an unknown flag, a
  // missing value or a bad value. `--help`/`-h` and `--version` are
  // recorded, and every other argument is still checked.
  Status parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_; }
  bool version_requested() const { return version_; }
  // The usage head followed by every flag and its help, in order added.
  std::string usage() const;

 private:
  struct Flag {
    std::string name;
    std::string value_name;  // empty for a switch
    std::string help;
    std::function<Status(const std::string&)> apply;
  };
  const Flag* find(const std::string& name) const;

  std::string usage_head_;
  std::vector<Flag> flags_;
  std::string positional_what_;
  std::function<Status(const std::string&)> positional_;
  bool help_ = false;
  bool version_ = false;
};

// Parses a whole decimal number in [min, max]; kInvalidArgument otherwise.
Result<uint64_t> parse_uint(const std::string& text, uint64_t min, uint64_t max);

}  // namespace autodistill
