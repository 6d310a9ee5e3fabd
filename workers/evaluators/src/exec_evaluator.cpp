#include "autodistill/worker/exec_evaluator.hpp"

#include <cmath>
#include <utility>

#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "autodistill/worker/child_process.hpp"

namespace autodistill::worker {

namespace {

using nlohmann::json;

// How much of a bad stdout is quoted in the error message.
constexpr size_t kQuoteBytes = 200;
// 2^53: every whole double below it is exactly an int64.
constexpr double kMaxExactInteger = 9007199254740992.0;

const char* kind_name(wire::TrialKind kind) {
  switch (kind) {
    case wire::TrialKind::Probe:
      return "probe";
    case wire::TrialKind::Flash:
      return "flash";
    case wire::TrialKind::Regular:
      return "regular";
    case wire::TrialKind::External:
      return "external";
    case wire::TrialKind::Finetune:
      return "finetune";
  }
  return "unknown";
}

std::string quote(const std::string& text) {
  std::string q = text.substr(0, kQuoteBytes);
  if (text.size() > kQuoteBytes) q += "...";
  return "\"" + q + "\"";
}

std::string with_stderr(std::string message, const std::string& stderr_tail) {
  if (!stderr_tail.empty()) message += "; stderr ends with: " + stderr_tail;
  return message;
}

// Reads {"name": number, ...} at `key` into `out`; absent is fine when !required.
Status read_numbers(const json& doc, const char* key, bool required,
                    std::map<std::string, double>& out) {
  auto it = doc.find(key);
  if (it == doc.end()) {
    if (!required) return Status::ok();
    return permanent_failure(std::string("the command's output has no \"") + key + "\" object",
                             key);
  }
  if (!it->is_object()) {
    return permanent_failure(
        std::string("\"") + key + "\" in the command's output is not an object", key);
  }
  for (const auto& [name, value] : it->items()) {
    if (!value.is_number() || !std::isfinite(value.get<double>())) {
      return permanent_failure(
          std::string(key) + "." + name + " is not a finite number (got " + value.dump() + ")",
          std::string(key) + "." + name);
    }
    out[name] = value.get<double>();
  }
  return Status::ok();
}

}  // namespace

ExecEvaluator::ExecEvaluator(std::string command, std::chrono::milliseconds kill_grace)
    : command_(std::move(command)), kill_grace_(kill_grace) {}

autodistill::Result<std::string> exec_input_json(const TrialContext& ctx) {
  const TrialSpec& spec = ctx.spec();
  json settings = json::object();
  if (!spec.settings_json.empty()) {
    auto parsed = parse_json(spec.settings_json, "settings_json");
    if (!parsed) {
      return permanent_failure("the study's settings_json: " + parsed.status().message(),
                               "settings_json");
    }
    settings = std::move(parsed.value());
    if (!settings.is_object()) {
      return permanent_failure("the study's settings_json is not a JSON object", "settings_json");
    }
  }
  json params = json::object();
  for (const auto& [name, value] : spec.params) {
    if (const double* number = std::get_if<double>(&value)) {
      // Whole numbers (integer and ordinal factors) are written as integers.
      if (std::trunc(*number) == *number && std::fabs(*number) < kMaxExactInteger) {
        params[name] = static_cast<int64_t>(*number);
      } else {
        params[name] = *number;
      }
    } else {
      params[name] = std::get<std::string>(value);
    }
  }
  json doc = {{"trial_id", spec.trial_id},       {"attempt", spec.attempt},
              {"study_id", spec.study_id},       {"kind", kind_name(spec.kind)},
              {"params", std::move(params)},     {"objectives", spec.objectives},
              {"settings", std::move(settings)}, {"scratch_dir", ctx.scratch_dir().string()}};
  // Names from the daemon may hold bytes that are not UTF-8: U+FFFD, not a throw.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

autodistill::Result<TrialOutcome> parse_exec_output(const std::string& output,
                                                    const TrialSpec& spec,
                                                    const std::filesystem::path& scratch_dir) {
  // Bounded: a document nested 100k deep would overflow the stack wherever
  // it is dumped (an error message below), 1e999 would throw (issue #11).
  auto parsed = parse_json(output, "");
  if (!parsed || !parsed->is_object()) {
    return permanent_failure("the command's stdout is not one JSON object: " + quote(output) +
                             (parsed ? "" : " (" + parsed.status().message() + ")"));
  }
  const json& doc = parsed.value();
  if (auto error = doc.find("error"); error != doc.end()) {
    if (!error->is_string()) return permanent_failure("\"error\" must be a string", "error");
    bool retryable = true;
    if (auto r = doc.find("retryable"); r != doc.end()) {
      if (!r->is_boolean())
        return permanent_failure("\"retryable\" must be true or false", "retryable");
      retryable = r->get<bool>();
    }
    std::string message = "the command reported an error: " + error->get<std::string>();
    return retryable ? retryable_failure(std::move(message))
                     : permanent_failure(std::move(message));
  }
  TrialOutcome outcome;
  if (Status s = read_numbers(doc, "objectives", true, outcome.objectives); !s) return s;
  for (const std::string& name : spec.objectives) {
    if (outcome.objectives.count(name) == 0) {
      return permanent_failure("the command's output lacks objective \"" + name + "\"",
                               "objectives." + name);
    }
  }
  if (Status s = read_numbers(doc, "metrics", false, outcome.metrics); !s) return s;
  if (auto artifacts = doc.find("artifacts"); artifacts != doc.end()) {
    if (!artifacts->is_object()) {
      return permanent_failure("\"artifacts\" must map names to file paths", "artifacts");
    }
    for (const auto& [name, path] : artifacts->items()) {
      if (!path.is_string()) {
        return permanent_failure("artifacts." + name + " must be a file path", "artifacts." + name);
      }
      std::filesystem::path file = path.get<std::string>();
      outcome.artifacts.push_back({name, file.is_absolute() ? file : scratch_dir / file});
    }
  }
  return outcome;
}

autodistill::Result<TrialOutcome> ExecEvaluator::evaluate(TrialContext& ctx) {
  auto input = exec_input_json(ctx);
  if (!input) return input.status();
  const TrialSpec& spec = ctx.spec();
  ShellCommand command;
  command.command = command_;
  command.input = std::move(input.value());
  command.environment = {"AUTODISTILL_TRIAL_ID=" + std::to_string(spec.trial_id),
                         "AUTODISTILL_ATTEMPT=" + std::to_string(spec.attempt),
                         "AUTODISTILL_STUDY_ID=" + std::to_string(spec.study_id),
                         "AUTODISTILL_SCRATCH_DIR=" + ctx.scratch_dir().string()};
  command.kill_grace = kill_grace_;
  auto ran = run_shell(command, [&ctx] { return ctx.cancelled(); });
  if (!ran) return retryable_failure("cannot run the command: " + ran.status().message());
  const ShellOutcome& out = ran.value();
  if (out.cancelled) return Status(Code::kCancelled, "trial cancelled; command killed");
  if (out.signal != 0) {
    return retryable_failure(with_stderr(
        "the command was killed by signal " + std::to_string(out.signal), out.stderr_tail));
  }
  if (out.exit_status != 0) {
    return retryable_failure(with_stderr(
        "the command exited with status " + std::to_string(out.exit_status), out.stderr_tail));
  }
  if (out.output_truncated) {
    return permanent_failure("the command's stdout exceeded " +
                             std::to_string(command.max_output_bytes) + " bytes");
  }
  return parse_exec_output(out.output, spec, ctx.scratch_dir());
}

}  // namespace autodistill::worker
