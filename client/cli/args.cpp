#include "args.hpp"

#include <charconv>
#include <cstdlib>

namespace autodistill::cli {

namespace {

struct CommandShape {
  const char* name;
  std::set<std::string> value_flags;
  std::set<std::string> switch_flags;
  size_t positionals;  // exactly this many
  const char* synopsis;
};

const std::vector<CommandShape>& commands() {
  static const std::vector<CommandShape> kCommands = {
      {"submit",
       {"--spec", "--key", "--teacher", "--corpus"},
       {"--wait"},
       0,
       "submit --spec FILE [--key K] [--teacher PATH] [--corpus PATH] [--wait]"},
      {"distill",
       {"--teacher", "--corpus", "--space", "--objectives", "--baseline", "--warm-start",
        "--select", "--budget", "--max-wall", "--out", "--key", "--seed", "--glue-task"},
       {"--wait", "--no-onnx"},
       0,
       "distill --teacher DIR --corpus PATH --space FILE [--objectives LIST] "
       "[--baseline default|none|FILE] [--warm-start STUDY] [--select pareto[:K]|top:K:METRIC] "
       "[--budget N] [--max-wall SECONDS] [--seed N] [--key K] [--out DIR] [--wait] "
       "[--no-onnx] [--glue-task DIR[,DIR...]]"},
      {"report", {"--out"}, {}, 1, "report ID [--out DIR]"},
      {"get", {}, {"--trials"}, 1, "get ID [--trials]"},
      {"list", {"--limit"}, {}, 0, "list [--limit N]"},
      {"watch", {}, {}, 1, "watch ID"},
      {"cancel", {"--reason"}, {}, 1, "cancel ID [--reason R]"},
      {"upload", {}, {}, 1, "upload PATH"},
      {"fetch", {"--out"}, {}, 1, "fetch DIGEST --out PATH"},
      {"workers", {}, {}, 0, "workers"},
      {"landscape", {"--out"}, {}, 1, "landscape ID [--out FILE]"},
      {"keygen", {"--out", "--name"}, {}, 0, "keygen --out DIR --name NAME"},
  };
  return kCommands;
}

Status usage(const std::string& message, const std::string& field = {}) {
  return Status(Code::kInvalidArgument, message, field);
}

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
  // First pass: find the subcommand (the first word that is not a flag or a
  // global flag's value) so its flags are known.
  const CommandShape* shape = nullptr;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--endpoint" || a == "--timeout-ms" || a == "--server-key" || a == "--key-file") {
      ++i;
      continue;
    }
    if (a.rfind("-", 0) == 0) continue;
    if (a == "help") {
      inv.help = true;
      return inv;
    }
    for (const CommandShape& c : commands()) {
      if (a == c.name) shape = &c;
    }
    if (shape == nullptr) return usage("unknown command \"" + a + "\"", a);
    inv.command = a;
    args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    break;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (flag == "-h" || flag == "--help") {
      inv.help = true;
      return inv;
    }
    if (flag.rfind("--", 0) != 0) {
      inv.positionals.push_back(flag);
      continue;
    }
    if (auto eq = flag.find('='); eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    const bool global_value = flag == "--endpoint" || flag == "--timeout-ms" ||
                              flag == "--server-key" || flag == "--key-file";
    const bool command_value = shape != nullptr && shape->value_flags.count(flag) != 0;
    if (global_value || command_value) {
      std::string value;
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return usage(flag + " needs a value", flag);
      }
      if (flag == "--endpoint") {
        inv.global.endpoint = value;
      } else if (flag == "--server-key") {
        inv.global.server_key_file = value;
      } else if (flag == "--key-file") {
        inv.global.key_file = value;
      } else if (flag == "--timeout-ms") {
        auto ms = parse_number(value, flag);
        if (!ms) return ms.status();
        if (*ms == 0 || *ms > 86'400'000) return usage("--timeout-ms must be 1..86400000", flag);
        inv.global.timeout_ms = static_cast<int>(*ms);
      } else {
        inv.values[flag] = value;
      }
      continue;
    }
    const bool is_switch =
        flag == "--json" || (shape != nullptr && shape->switch_flags.count(flag) != 0);
    if (!is_switch) {
      return usage("unknown option " + flag + (shape ? " for " + inv.command : std::string()),
                   flag);
    }
    if (inline_value) return usage(flag + " takes no value", flag);
    if (flag == "--json") {
      inv.global.json = true;
    } else {
      inv.switches.insert(flag);
    }
  }
  if (shape == nullptr) return usage("no command given");
  if (inv.positionals.size() != shape->positionals) {
    return usage(std::string("expected: autodistill ") + shape->synopsis);
  }
  if (inv.global.endpoint.empty()) {
    if (const char* env = std::getenv("AUTODISTILL_ENDPOINT"); env != nullptr && *env != '\0') {
      inv.global.endpoint = env;
    }
  }
  return inv;
}

const char* usage_text() {
  return R"(usage: autodistill [--endpoint E] [--json] [--timeout-ms N] COMMAND [ARGS]

Talks to autodistilld (docs/cli.md has the details).

commands:
  submit --spec FILE [--key K] [--teacher PATH] [--corpus PATH] [--wait]
                        submit a study spec (docs/study-spec.md); --teacher and
                        --corpus upload the files and set their digests; --key is
                        the idempotency key (default: derived from the spec, so a
                        retried submit returns the same study); --wait watches it
                        until it ends and exits with its outcome
  distill --teacher DIR --corpus PATH --space FILE [--objectives LIST]
          [--baseline default|none|FILE] [--warm-start STUDY]
          [--select pareto[:K]|top:K:METRIC] [--budget N] [--max-wall SECONDS]
          [--seed N] [--key K] [--out DIR] [--wait] [--no-onnx]
          [--glue-task DIR[,DIR...]]
                        distill a teacher: pack and upload it and the corpus, submit
                        a Distill study over the design space in FILE (a study spec;
                        the flags override it) with a MobileBERT-like baseline; the
                        key defaults to one derived from teacher, corpus and spec, so
                        re-running resumes the same study; --wait follows it, then
                        downloads the chosen students into DIR/<study>/student-<c>/
                        (default DIR: autodistill-out) with report.md and pareto.svg,
                        and exports each to student-<c>/onnx/model.onnx with
                        autodistill-export-onnx (python3-torch; exit 1 when that
                        fails; --no-onnx skips it); --glue-task fine-tunes the
                        teacher, the baseline and every student on each GLUE-format
                        task directory and adds the GLUE table to the report
  report ID [--out DIR] print a Distill study's table (candidates vs the baseline) and
                        write report.md and pareto.svg into DIR
                        (default autodistill-out/<study>)
  get ID [--trials]     show a study (and its trials)
  list [--limit N]      list studies, newest first
  watch ID              follow a study's events until it ends
  cancel ID [--reason R]
                        cancel a study
  upload PATH           upload a file as a blob; prints its sha256 digest
  fetch DIGEST --out PATH
                        download a blob (an artifact) to PATH
  workers               list the workers the daemon knows
  keygen --out DIR --name NAME
                        make a CURVE key pair: DIR/NAME.key (public, give it to the
                        daemon's operator or to clients) and DIR/NAME.secret (0600)
  landscape ID [--out FILE]
                        the study's measured latencies (every completed probe) as
                        CSV, on stdout or into FILE

global options:
  --endpoint E          the daemon's client endpoint
                        (default $AUTODISTILL_ENDPOINT, else tcp://127.0.0.1:5556)
  --json                machine-readable output (JSON; JSON lines for watch)
  --timeout-ms N        per-attempt request timeout (default 5000; 3 attempts)
  --server-key FILE     the daemon's CURVE public key file (default
                        $AUTODISTILL_SERVER_KEY; unset: no CURVE)
  --key-file FILE       this client's CURVE secret key file (default
                        $AUTODISTILL_KEY_FILE)
  -h, --help            this text

exit codes:
  0  success (watch / submit --wait: the study succeeded; distill --wait: it
     succeeded and its students were delivered)
  1  any other error
  2  usage error
  3  input rejected (INVALID_ARGUMENT, ALREADY_EXISTS, FAILED_PRECONDITION,
     DIGEST_MISMATCH, RESOURCE_EXHAUSTED)
  4  not found (study, blob or local file)
  5  daemon unreachable, timed out or UNAVAILABLE
  6  the study failed (watch / submit --wait / distill --wait; distill also when
     it succeeded without a student to deliver)
  7  the study was cancelled (watch / submit --wait / distill --wait)
)";
}

}  // namespace autodistill::cli
