#include "autodistill/flag_parser.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

#include "autodistill/version.hpp"

namespace autodistill {

namespace {

// `-` and `_` are the same in flag names.
std::string normalized(std::string name) {
  for (char& c : name) {
    if (c == '_') c = '-';
  }
  return name;
}

// A whole decimal number in [min, max]; the message says ">= min" when max
// is the type's largest.
template <class Int>
Result<Int> parse_whole(const std::string& text, Int min, Int max) {
  Int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return Status(Code::kInvalidArgument, "\"" + text + "\" is not a whole number");
  }
  if (value < min || value > max) {
    return Status(Code::kInvalidArgument,
                  "\"" + text + "\" is not " +
                      (max == std::numeric_limits<Int>::max()
                           ? ">= " + std::to_string(min)
                           : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]"));
  }
  return value;
}

}  // namespace

FlagParser::FlagParser(std::string usage_head) : usage_head_(std::move(usage_head)) {}

void FlagParser::add(std::string name, std::string value_name, std::string help,
                     std::function<Status(const std::string&)> apply) {
  flags_.push_back({std::move(name), std::move(value_name), std::move(help), std::move(apply)});
}

void FlagParser::add_switch(std::string name, std::string help, std::function<void()> apply) {
  flags_.push_back(
      {std::move(name), "", std::move(help), [apply = std::move(apply)](const std::string&) {
         apply();
         return Status::ok();
       }});
}

void FlagParser::add_real(std::string name, std::string help, double* target, bool positive) {
  add(std::move(name), "X", std::move(help), [target, positive](const std::string& v) {
    Result<double> x = parse_real(v, positive);
    if (!x) return x.status();
    *target = x.value();
    return Status::ok();
  });
}

void FlagParser::set_positionals(std::string what,
                                 std::function<Status(const std::string&)> apply) {
  positional_what_ = std::move(what);
  positional_ = std::move(apply);
}

const FlagParser::Flag* FlagParser::find(const std::string& name) const {
  const std::string wanted = normalized(name);
  for (const Flag& flag : flags_) {
    if (normalized(flag.name) == wanted) return &flag;
  }
  return nullptr;
}

Status FlagParser::parse(int argc, const char* const* argv) {
  return parse(std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc));
}

Status FlagParser::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg == "--version") {
      version_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      if (!positional_) {
        return Status(Code::kInvalidArgument, "unexpected argument \"" + arg + "\"", arg);
      }
      if (Status s = positional_(arg); !s) {
        return Status(Code::kInvalidArgument, s.message(),
                      s.field().empty() ? positional_what_ : s.field());
      }
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    const Flag* flag = find(name);
    if (flag == nullptr) {
      return Status(Code::kInvalidArgument, "unknown flag --" + name + " (see --help)",
                    "--" + name);
    }
    if (flag->value_name.empty()) {
      if (has_value) {
        return Status(Code::kInvalidArgument, "--" + name + " takes no value", "--" + name);
      }
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return Status(Code::kInvalidArgument,
                      "--" + name + " needs a value (" + flag->value_name + ")", "--" + name);
      }
      value = args[++i];
    }
    if (Status s = flag->apply(value); !s) {
      return Status(Code::kInvalidArgument, "--" + name + ": " + s.message(), "--" + name);
    }
  }
  return Status::ok();
}

std::string FlagParser::usage() const {
  std::string text = usage_head_;
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += "\nFlags:\n";
  for (const Flag& flag : flags_) {
    std::string left = "  --" + flag.name;
    if (!flag.value_name.empty()) left += " " + flag.value_name;
    text += left + "\n";
    // Indent every help line under the flag.
    size_t start = 0;
    while (start <= flag.help.size()) {
      size_t end = flag.help.find('\n', start);
      if (end == std::string::npos) end = flag.help.size();
      text += "      " + flag.help.substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  text += "  --help\n      Print this help and exit.\n";
  text += "  --version\n      Print the version and exit.\n";
  return text;
}

std::optional<int> FlagParser::answer_help_or_version(const std::string& program) const {
  if (help_) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (version_) {
    std::fputs(version_line(program).c_str(), stdout);
    return 0;
  }
  return std::nullopt;
}

int usage_error(const std::string& program, const Status& error) {
  std::fprintf(stderr, "%s: %s\n(see %s --help)\n", program.c_str(), error.to_string().c_str(),
               program.c_str());
  return kUsageExitStatus;
}

Result<uint64_t> parse_uint(const std::string& text, uint64_t min, uint64_t max) {
  return parse_whole(text, min, max);
}

Result<int64_t> parse_int(const std::string& text, int64_t min, int64_t max) {
  return parse_whole(text, min, max);
}

Result<double> parse_real(const std::string& text, bool positive) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return Status(Code::kInvalidArgument, "\"" + text + "\" is not a number");
  }
  if (positive && !(value > 0)) {
    return Status(Code::kInvalidArgument, "\"" + text + "\" is not a positive number");
  }
  return value;
}

}  // namespace autodistill
