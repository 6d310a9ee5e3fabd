#include "args.hpp"

#include <charconv>
#include <cstdlib>

#include "autodistill/flag_parser.hpp"

namespace autodistill::cli {

namespace {

// One subcommand: its flags, positional arguments and help.
struct CommandShape {
  const char* name;
  std::vector<const char*> value_flags;
  std::vector<const char*> switch_flags;
  std::vector<const char*> positionals;  // exactly these, by name
  const char* synopsis;                  // after "autodistill "
  const char* help;                      // indented description
};

const std::vector<CommandShape>& commands() {
  static const std::vector<CommandShape> kCommands = {
      {"submit",
       {"--spec", "--key", "--teacher", "--corpus"},
       {"--wait"},
       {},
       "submit --spec FILE [--key K] [--teacher PATH] [--corpus PATH] [--wait]",
       R"(submit a study spec (docs/study-spec.md); --teacher and
--corpus upload the files and set their digests; --key is
the idempotency key (default: derived from the spec, so a
retried submit returns the same study); --wait watches it
until it ends and exits with its outcome)"},
      {"distill",
       {"--teacher", "--corpus", "--space", "--objectives", "--baseline", "--region",
        "--warm-start", "--select", "--budget", "--max-wall", "--out", "--key", "--seed",
        "--glue-task"},
       {"--wait", "--no-onnx"},
       {},
       "distill --teacher DIR --corpus PATH --space FILE [--objectives LIST]\n"
       "        [--baseline default|none|FILE] [--region front|baseline] [--warm-start STUDY]\n"
       "        [--select pareto[:K]|top:K:METRIC] [--budget N] [--max-wall SECONDS]\n"
       "        [--seed N] [--key K] [--out DIR] [--wait] [--no-onnx]\n"
       "        [--glue-task DIR[,DIR...]]",
       R"(distill a teacher: pack and upload it and the corpus, submit
a Distill study over the design space in FILE (a study spec;
the flags override it) with a MobileBERT-like baseline
(--region baseline: hypervolume counts only beyond it); the
key defaults to one derived from teacher, corpus and spec, so
re-running resumes the same study; --wait follows it, then
downloads the chosen students into DIR/<study>/student-<c>/
(default DIR: autodistill-out) with report.md and pareto.svg,
and exports each to student-<c>/onnx/model.onnx with
autodistill-export-onnx (python3-torch; exit 1 when that
fails; --no-onnx skips it); --glue-task uploads GLUE-format
task directories: the delivered students, the teacher and the
baseline are fine-tuned on them and report.md gets a GLUE table)"},
      {"report",
       {"--out"},
       {"--no-students", "--no-onnx"},
       {"ID"},
       "report ID [--out DIR] [--no-students] [--no-onnx]",
       R"(print a Distill study's table (candidates vs the baseline),
write report.md and pareto.svg into DIR (default
autodistill-out/<study>) and, when the study succeeded,
download its students into DIR/student-<c>/ with their
ONNX export, as distill --wait does (--no-students: the
report alone; --no-onnx: no export))"},
      {"get", {}, {"--trials"}, {"ID"}, "get ID [--trials]", "show a study (and its trials)"},
      {"list", {"--limit"}, {}, {}, "list [--limit N]", "list studies, newest first"},
      {"watch", {}, {}, {"ID"}, "watch ID", "follow a study's events until it ends"},
      {"cancel", {"--reason"}, {}, {"ID"}, "cancel ID [--reason R]", "cancel a study"},
      {"upload",
       {},
       {},
       {"PATH"},
       "upload PATH",
       "upload a file as a blob; prints its sha256 digest"},
      {"fetch",
       {"--out"},
       {},
       {"DIGEST"},
       "fetch DIGEST --out PATH",
       "download a blob (an artifact) to PATH"},
      {"workers", {}, {}, {}, "workers", "list the workers the daemon knows"},
      {"landscape",
       {"--out"},
       {},
       {"ID"},
       "landscape ID [--out FILE]",
       R"(the study's measured latencies (every completed probe) as
CSV, on stdout or into FILE)"},
      {"keygen",
       {"--out", "--name"},
       {},
       {},
       "keygen --out DIR --name NAME",
       R"(make a CURVE key pair: DIR/NAME.key (public, give it to the
daemon's operator or to clients) and DIR/NAME.secret (0600))"},
  };
  return kCommands;
}

const std::vector<const char*> kGlobalValueFlags = {"--endpoint", "--timeout-ms", "--server-key",
                                                    "--key-file"};

const CommandShape* find_command(const std::string& name) {
  for (const CommandShape& c : commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

bool is_global_value_flag(const std::string& arg) {
  for (const char* flag : kGlobalValueFlags) {
    if (arg == flag) return true;
  }
  return false;
}

Status usage(const std::string& message, const std::string& field = {}) {
  return Status(Code::kInvalidArgument, message, field);
}

// `text` with every line but the first indented by `indent` spaces.
std::string indented(const std::string& text, size_t indent) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out.append(indent, ' ');
  }
  return out;
}

constexpr const char* kGlobalOptions = R"(global options:
  --endpoint E          the daemon's client endpoint
                        (default $AUTODISTILL_ENDPOINT, else tcp://127.0.0.1:5556)
  --json                machine-readable output (JSON; JSON lines for watch); errors
                        too: {"error": {"code", "message", "field"}, "exit_code"}
  --timeout-ms N        per-attempt request timeout (default 5000; 3 attempts)
  --server-key FILE     the daemon's CURVE public key file (default
                        $AUTODISTILL_SERVER_KEY; unset: no CURVE)
  --key-file FILE       this client's CURVE secret key file (default
                        $AUTODISTILL_KEY_FILE)
  -h, --help            this text (COMMAND --help: that command's)
  --version             the version
)";

constexpr const char* kExitCodes = R"(exit codes:
  0  success (watch / submit --wait: the study succeeded; distill --wait: it
     succeeded and its students were delivered)
  1  any other error
  2  usage error
  3  input rejected (INVALID_ARGUMENT, ALREADY_EXISTS, FAILED_PRECONDITION,
     DIGEST_MISMATCH, RESOURCE_EXHAUSTED; also a client endpoint that is the
     daemon's worker endpoint)
  4  not found (study, blob or local file)
  5  daemon unreachable, timed out or UNAVAILABLE
  6  the study failed (watch / submit --wait / distill --wait; distill also when
     it succeeded without a student to deliver)
  7  the study was cancelled (watch / submit --wait / distill --wait)
)";

}  // namespace

std::optional<std::string> Invocation::value(const std::string& flag) const {
  auto it = values.find(flag);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

Result<uint64_t> parse_number(const std::string& text, const std::string& what) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return usage(what + " must be a non-negative integer, got \"" + text + "\"", what);
  }
  return value;
}

Result<Invocation> parse_args(int argc, char** argv) {
  Invocation inv;
  std::vector<std::string> args(argv + 1, argv + argc);
  // The subcommand is the first word that is not a flag or a global flag's
  // value; its flags are known once it is.
  const CommandShape* shape = nullptr;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (is_global_value_flag(a)) {
      ++i;
      continue;
    }
    if (a.rfind("-", 0) == 0) continue;
    if (a == "help") {  // `help` or `help COMMAND`
      inv.help = true;
      if (i + 1 < args.size() && find_command(args[i + 1]) != nullptr) inv.command = args[i + 1];
      return inv;
    }
    shape = find_command(a);
    if (shape == nullptr) return usage("unknown command \"" + a + "\"", a);
    inv.command = a;
    args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    break;
  }

  FlagParser parser("");
  auto store_global = [&inv](const std::string& flag, const std::string& value) -> Status {
    if (flag == "--endpoint") {
      inv.global.endpoint = value;
    } else if (flag == "--server-key") {
      inv.global.server_key_file = value;
    } else if (flag == "--key-file") {
      inv.global.key_file = value;
    } else {
      auto ms = parse_number(value, flag);
      if (!ms) return ms.status();
      if (*ms == 0 || *ms > 86'400'000) return usage("must be 1..86400000", flag);
      inv.global.timeout_ms = static_cast<int>(*ms);
    }
    return Status::ok();
  };
  // The tables name flags with their "--"; the parser without it (flag + 2).
  for (const char* flag : kGlobalValueFlags) {
    parser.add(flag + 2, "VALUE", "",
               [store_global, flag](const std::string& v) { return store_global(flag, v); });
  }
  parser.add_switch("json", "", [&inv] { inv.global.json = true; });
  if (shape != nullptr) {
    for (const char* flag : shape->value_flags) {
      parser.add(flag + 2, "VALUE", "", [&inv, flag](const std::string& v) {
        inv.values[flag] = v;
        return Status::ok();
      });
    }
    for (const char* flag : shape->switch_flags) {
      parser.add_switch(flag + 2, "", [&inv, flag] { inv.switches.insert(flag); });
    }
    parser.set_positionals(shape->positionals.empty() ? "argument" : shape->positionals[0],
                           [&inv](const std::string& arg) {
                             inv.positionals.push_back(arg);
                             return Status::ok();
                           });
  }
  Status parsed = parser.parse(args);
  if (!parsed) {
    std::string message = parsed.message();
    if (shape != nullptr && message.rfind("unknown flag", 0) == 0) {
      message = "unknown option " + parsed.field() + " for " + inv.command + " (see autodistill " +
                inv.command + " --help)";
    }
    return usage(message, parsed.field());
  }
  inv.help = parser.help_requested();
  inv.version = parser.version_requested();
  if (inv.help || inv.version) return inv;
  if (shape == nullptr) return usage("no command given", "COMMAND");
  if (inv.positionals.size() != shape->positionals.size()) {
    const std::string field = inv.positionals.size() < shape->positionals.size()
                                  ? shape->positionals[inv.positionals.size()]
                                  : inv.positionals[shape->positionals.size()];
    return usage(std::string("expected: autodistill ") + shape->synopsis, field);
  }
  if (inv.global.endpoint.empty()) {
    if (const char* env = std::getenv("AUTODISTILL_ENDPOINT"); env != nullptr && *env != '\0') {
      inv.global.endpoint = env;
    }
  }
  return inv;
}

std::string usage_text() {
  std::string text =
      "usage: autodistill [--endpoint E] [--json] [--timeout-ms N] COMMAND [ARGS]\n\n"
      "Talks to autodistilld (docs/cli.md has the details). `autodistill COMMAND --help`\n"
      "prints one command's usage.\n\ncommands:\n";
  for (const CommandShape& c : commands()) {
    std::string synopsis = indented(c.synopsis, 2);
    const size_t last_line =
        synopsis.rfind('\n') == std::string::npos ? 0 : synopsis.rfind('\n') + 1;
    const size_t width = synopsis.size() - last_line + 2;
    text += "  " + synopsis;
    if (width < 24) {
      text += std::string(24 - width, ' ') + indented(c.help, 24) + "\n";
    } else {
      text += "\n" + std::string(24, ' ') + indented(c.help, 24) + "\n";
    }
  }
  return text + "\n" + kGlobalOptions + "\n" + kExitCodes;
}

std::string command_usage_text(const std::string& command) {
  const CommandShape* shape = find_command(command);
  if (shape == nullptr) return usage_text();
  return std::string("usage: autodistill ") + indented(shape->synopsis, 11) + "\n\n" + shape->help +
         "\n\n" + kGlobalOptions + "\n" + kExitCodes;
}

}  // namespace autodistill::cli
