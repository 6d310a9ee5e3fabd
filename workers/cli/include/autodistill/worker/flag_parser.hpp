#pragma once
// A small command-line parser for the worker executables: `--name VALUE`,
// `--name=VALUE`, boolean switches and `--help`, with generated usage text.
// Not thread-safe; one per main().

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::worker {

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

  // Parses arguments (without the program name). kInvalidArgument with the
  // flag as `field` for an unknown flag, a missing value or a bad value.
  Status parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_; }
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
  bool help_ = false;
};

// Parses a whole decimal number in [min, max]; kInvalidArgument otherwise.
Result<uint64_t> parse_uint(const std::string& text, uint64_t min, uint64_t max);

}  // namespace autodistill::worker
