#pragma once
// The one command-line parser of every autodistill binary (the daemon, the
// CLI, each worker, the tools): `--name VALUE`, `--name=VALUE`, switches,
// positional arguments, `--help` and `--version`, with generated usage text.
// In flag names `-` and `_` are the same (`--data_dir` is `--data-dir`).
// Not thread-safe; one per command line.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill {

// Parse a whole decimal number in [min, max] (parse_int: signed, "-3"); kInvalidArgument
// otherwise, saying ">= min" when max is the largest of the type.
Result<uint64_t> parse_uint(const std::string& text, uint64_t min, uint64_t max);
Result<int64_t> parse_int(const std::string& text, int64_t min,
                          int64_t max = std::numeric_limits<int64_t>::max());
// Parses a finite decimal number ("0.5", "-2", "3e-2"); with `positive`, > 0 only.
Result<double> parse_real(const std::string& text, bool positive);

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

  // Typed flags storing into `*target` (which outlives parse()); a value that
  // does not parse is refused naming the flag.
  // Any text, the empty one too: a std::string or a std::filesystem::path.
  template <class Text>
  void add_text(std::string name, std::string value_name, std::string help, Text* target) {
    add(std::move(name), std::move(value_name), std::move(help), [target](const std::string& v) {
      *target = v;
      return Status::ok();
    });
  }
  // A whole number in [min, max] (parse_int), value name N.
  template <class Int>
  void add_int(std::string name, std::string help, Int* target, int64_t min,
               int64_t max = std::numeric_limits<int64_t>::max()) {
    add(std::move(name), "N", std::move(help), [target, min, max](const std::string& v) {
      Result<int64_t> n = parse_int(v, min, max);
      if (!n) return n.status();
      *target = static_cast<Int>(n.value());
      return Status::ok();
    });
  }
  // Comma-separated whole numbers, each in [min, max] (e.g. 1,2,4), value name
  // LIST; replaces the list. An empty list is refused.
  template <class Int>
  void add_int_list(std::string name, std::string help, std::vector<Int>* target, int64_t min,
                    int64_t max) {
    add(std::move(name), "LIST", std::move(help), [target, min, max](const std::string& v) {
      std::vector<Int> list;
      size_t start = 0;
      while (start <= v.size()) {
        const size_t comma = std::min(v.find(',', start), v.size());
        Result<int64_t> n = parse_int(v.substr(start, comma - start), min, max);
        if (!n) return n.status();
        list.push_back(static_cast<Int>(n.value()));
        start = comma + 1;
      }
      *target = std::move(list);
      return Status::ok();
    });
  }
  // A finite number (parse_real), value name X; `positive`: > 0 too.
  void add_real(std::string name, std::string help, double* target, bool positive);
  // Arguments that are not flags go to `apply`, in order (`what` names them
  // in errors and in the usage, e.g. "ID"); without this they are refused.
  void set_positionals(std::string what, std::function<Status(const std::string& arg)> apply);

  // Parses arguments (without the program name). kInvalidArgument with the
  // flag (or the positional's `what`) as `field` for an unknown flag, a
  // missing value or a bad value. `--help`/`-h` and `--version` are
  // recorded, and every other argument is still checked.
  Status parse(const std::vector<std::string>& args);
  // The same for main()'s arguments: argv[1] to argv[argc - 1].
  Status parse(int argc, const char* const* argv);
  bool help_requested() const { return help_; }
  bool version_requested() const { return version_; }
  // The usage head followed by every flag and its help, in order added.
  std::string usage() const;
  // What every main() does after a successful parse: for --help prints
  // usage(), for --version version_line(program), on stdout, and returns 0,
  // the exit status; nullopt when neither was asked for.
  std::optional<int> answer_help_or_version(const std::string& program) const;

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

// The exit status of every binary for bad flags.
inline constexpr int kUsageExitStatus = 2;
// Reports a bad command line the same way in every binary: prints
// "PROGRAM: ERROR\n(see PROGRAM --help)\n" on stderr; returns kUsageExitStatus.
int usage_error(const std::string& program, const Status& error);

}  // namespace autodistill
