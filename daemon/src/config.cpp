#include "autodistill/daemon/config.hpp"

#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "autodistill/daemon/log.hpp"
#include "autodistill/flag_parser.hpp"

namespace autodistill::daemon {

namespace {

struct Field {
  const char* key;
  const char* doc;
  std::function<Status(Config&, const std::string&)> set;
  std::function<std::string(const Config&)> get;
};

template <class T>
Status parse_unsigned(const std::string& key, const std::string& text, T* out) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return Status(Code::kInvalidArgument, "not a non-negative integer: \"" + text + "\"", key);
  }
  *out = value;
  return Status::ok();
}

#define AD_STRING_FIELD(name, doc)                                                      \
  Field {                                                                               \
#name, doc, [](Config& c, const std::string& v) { c.name = v; return Status::ok(); }, \
        [](const Config& c) { return c.name; } \
  }
#define AD_NUMBER_FIELD(name, doc)                                                   \
  Field {                                                                            \
#name, doc,                                                                        \
        [](Config& c, const std::string& v) { return parse_unsigned(#name, v, &c.name); }, \
        [](const Config& c) { return std::to_string(c.name); } \
  }

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = {
      AD_STRING_FIELD(data_dir, "Directory for the SQLite store and the blob store."),
      AD_STRING_FIELD(worker_endpoint, "ZeroMQ endpoint (ROUTER) where workers connect."),
      AD_STRING_FIELD(client_endpoint, "ZeroMQ endpoint (ROUTER) where clients connect."),
      AD_NUMBER_FIELD(heartbeat_interval_ms,
                      "Both sides of a worker session send a message at least this often."),
      AD_NUMBER_FIELD(liveness, "A worker silent for liveness * heartbeat_interval_ms is dropped."),
      AD_NUMBER_FIELD(lease_ms,
                      "A trial lease not extended for this long expires; the trial is "
                      "re-queued with the next attempt number."),
      AD_NUMBER_FIELD(max_attempts, "Attempts per trial when a study does not set max_attempts."),
      AD_NUMBER_FIELD(default_parallelism,
                      "Candidates in flight per study when a study does not set parallelism."),
      AD_NUMBER_FIELD(tick_ms,
                      "Period of the housekeeping tick (lease expiry, heartbeats, dead workers)."),
      AD_NUMBER_FIELD(max_batch_messages,
                      "Messages read from each socket before one group commit (one fsync for "
                      "the batch); 1 commits every message on its own."),
      AD_NUMBER_FIELD(max_chunk_bytes, "Largest blob chunk payload, in bytes."),
      AD_NUMBER_FIELD(max_blob_bytes, "Largest blob accepted, in bytes."),
      AD_NUMBER_FIELD(max_messages_per_second,
                      "Messages per second one connection may send (after a burst of twice "
                      "as many); 0 = unlimited."),
      AD_NUMBER_FIELD(max_active_studies, "Studies that may be active at once."),
      AD_NUMBER_FIELD(min_free_disk_bytes,
                      "Blob bytes are refused when the data directory would keep less free."),
      AD_NUMBER_FIELD(max_trials_limit,
                      "Largest candidate budget (max_trials) a study may ask for."),
      AD_NUMBER_FIELD(max_factors, "Most factors a study's design space may have."),
      AD_NUMBER_FIELD(max_factor_values,
                      "Most values (ordinal) or categories (categorical) of one factor."),
      AD_NUMBER_FIELD(max_design_values,
                      "Most values and categories of all factors of a study together."),
      AD_NUMBER_FIELD(max_settings_bytes, "Largest settings_json of a study, in bytes."),
      AD_NUMBER_FIELD(quarantine_ms,
                      "A worker whose leases expire twice in a row gets no new work for this "
                      "long; each further expiry doubles it (up to quarantine_max_ms); 0 "
                      "disables it."),
      AD_NUMBER_FIELD(quarantine_max_ms, "Longest quarantine after repeated lease expiries."),
      AD_NUMBER_FIELD(max_reprobes,
                      "A Probe result that did not converge is measured again (a new Probe "
                      "trial) this many times at most; then the latest is marked "
                      "latency_unconverged. 0 marks the first at once."),
      AD_NUMBER_FIELD(reprobe_backoff_ms,
                      "The first re-probe waits this long after the unconverged result; each "
                      "further one twice as long."),
      AD_NUMBER_FIELD(worker_retention_seconds,
                      "Worker rows not seen for this long (not connected, holding no lease) are "
                      "deleted; 0 keeps them forever."),
      AD_NUMBER_FIELD(partial_upload_max_age_seconds,
                      "An unfinished blob upload not written to for this long is deleted; 0 "
                      "keeps them forever."),
      AD_STRING_FIELD(http_listen,
                      "HTTP listener (host:port) for /metrics, /healthz and the web view; empty "
                      "disables it."),
      AD_STRING_FIELD(web_token_file,
                      "File holding the web view's token (chmod 600); set: every web view "
                      "request carries it; empty: the view is open only where the client "
                      "endpoint is (no CURVE, loopback http_listen)."),
      AD_STRING_FIELD(curve_secret_key_file,
                      "CURVE key pair file of the daemon; set: encrypt and authenticate both "
                      "endpoints against the allow-lists; empty: no CURVE."),
      AD_STRING_FIELD(worker_keys_file, "Allow-list of worker public keys (one per line)."),
      AD_STRING_FIELD(client_keys_file,
                      "Allow-list of client public keys; `admin` after a key sees every study."),
      AD_NUMBER_FIELD(allow_insecure_bind,
                      "1 lets a non-loopback endpoint run without CURVE; 0 refuses to start."),
      AD_STRING_FIELD(log_level, "debug | info | warn | error."),
  };
  return kFields;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string normalize_key(std::string key) {
  for (char& c : key) {
    if (c == '-') c = '_';
  }
  return key;
}

}  // namespace

Status Config::set(const std::string& key, const std::string& value) {
  std::string k = normalize_key(key);
  for (const Field& f : fields()) {
    if (k == f.key) return f.set(*this, value);
  }
  return Status(Code::kInvalidArgument, "unknown configuration key \"" + key + "\"", key);
}

Status Config::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kNotFound, "cannot open config file " + path, "config");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      return Status(Code::kInvalidArgument,
                    path + ":" + std::to_string(number) + ": expected `key = value`", "config");
    }
    Status s = set(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    if (!s) {
      return Status(s.code(), path + ":" + std::to_string(number) + ": " + s.message(), s.field());
    }
  }
  return Status::ok();
}

bool is_loopback_endpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  if (endpoint.rfind("tcp://", 0) != 0) return false;
  const std::string host = endpoint.substr(6, endpoint.rfind(':') - 6);
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]";
}

Status Config::validate() const {
  if (data_dir.empty()) return Status(Code::kInvalidArgument, "must not be empty", "data_dir");
  if (worker_endpoint == client_endpoint) {
    return Status(Code::kInvalidArgument, "must differ from worker_endpoint", "client_endpoint");
  }
  if (heartbeat_interval_ms == 0) {
    return Status(Code::kInvalidArgument, "must be positive", "heartbeat_interval_ms");
  }
  if (liveness == 0) return Status(Code::kInvalidArgument, "must be positive", "liveness");
  if (lease_ms <= heartbeat_interval_ms) {
    return Status(Code::kInvalidArgument, "must exceed heartbeat_interval_ms", "lease_ms");
  }
  if (max_attempts == 0) return Status(Code::kInvalidArgument, "must be positive", "max_attempts");
  if (default_parallelism == 0) {
    return Status(Code::kInvalidArgument, "must be positive", "default_parallelism");
  }
  if (tick_ms == 0) return Status(Code::kInvalidArgument, "must be positive", "tick_ms");
  if (max_batch_messages == 0) {
    return Status(Code::kInvalidArgument, "must be positive", "max_batch_messages");
  }
  for (const auto& [field, value] : {std::pair<const char*, uint32_t>{"max_factors", max_factors},
                                     {"max_factor_values", max_factor_values},
                                     {"max_design_values", max_design_values}}) {
    if (value == 0) return Status(Code::kInvalidArgument, "must be positive", field);
  }
  if (quarantine_max_ms < quarantine_ms) {
    return Status(Code::kInvalidArgument, "must be at least quarantine_ms", "quarantine_max_ms");
  }
  if (max_chunk_bytes < 1024 || max_chunk_bytes > (8u << 20)) {
    return Status(Code::kInvalidArgument, "must be within [1024, 8388608]", "max_chunk_bytes");
  }
  if (!curve_secret_key_file.empty()) {
    if (worker_keys_file.empty()) {
      return Status(Code::kInvalidArgument, "CURVE needs an allow-list of worker keys",
                    "worker_keys_file");
    }
    if (client_keys_file.empty()) {
      return Status(Code::kInvalidArgument, "CURVE needs an allow-list of client keys",
                    "client_keys_file");
    }
  } else if (allow_insecure_bind == 0) {
    for (const auto& [field, endpoint] :
         {std::pair<const char*, const std::string&>{"worker_endpoint", worker_endpoint},
          {"client_endpoint", client_endpoint}}) {
      if (!is_loopback_endpoint(endpoint)) {
        return Status(Code::kFailedPrecondition,
                      endpoint +
                          " is not a loopback address: set curve_secret_key_file (and the "
                          "allow-lists), or allow_insecure_bind = 1 on a trusted network",
                      field);
      }
    }
  }
  LogLevel level;
  if (!parse_log_level(log_level, &level)) {
    return Status(Code::kInvalidArgument, "must be debug, info, warn or error", "log_level");
  }
  return Status::ok();
}

std::string Config::render() const {
  std::ostringstream out;
  out << "# autodistilld configuration (`key = value`; `#` starts a comment).\n";
  for (const Field& f : fields()) {
    out << "\n# " << f.doc << "\n# default: " << f.get(Config{}) << "\n"
        << f.key << " = " << f.get(*this) << "\n";
  }
  return out.str();
}

namespace {

constexpr const char* kUsageHead =
    "usage: autodistilld [--config FILE] [--KEY VALUE | --KEY=VALUE]... [--print-config]\n"
    "\n"
    "Runs the autodistill controller. Settings are applied in order: defaults, then\n"
    "the config file, then command-line overrides (every key below; dashes or\n"
    "underscores).\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop taking work, flush the store and exit 0;\n"
    "a second SIGINT exits at once. SIGHUP re-reads the config file and applies\n"
    "every field but data_dir, the endpoints and http_listen (those need a restart).\n"
    "Exit status: 0 after a clean stop, 1 when the daemon failed, 2 for a bad\n"
    "command line or config file.";

// The daemon's flags on the shared parser: the config file, the modes, and
// one flag per Config field, collected in order and applied after the file.
struct Flags {
  CommandLine cl;
  std::string config_file;
  std::vector<std::pair<std::string, std::string>> overrides;
};

void add_flags(FlagParser& parser, Flags& f) {
  parser.add("config", "FILE", "Read `key = value` settings from FILE (before the overrides).",
             [&f](const std::string& v) {
               if (v.empty()) return Status(Code::kInvalidArgument, "needs a file");
               f.config_file = v;
               return Status::ok();
             });
  parser.add_switch("print-config",
                    "Print the effective configuration in file syntax, with each field's\n"
                    "documentation and default, and exit.",
                    [&f] { f.cl.print_config = true; });
  parser.add("reload", "PID",
             "Send SIGHUP to the daemon PID and wait until it applied the reload\n"
             "(systemd's ExecReload).",
             [&f](const std::string& v) {
               auto pid = parse_uint(v, 1, std::numeric_limits<int>::max());
               if (!pid) return Status(Code::kInvalidArgument, "needs the daemon's PID");
               f.cl.reload_pid = static_cast<int>(*pid);
               return Status::ok();
             });
  const Config defaults;
  for (const Field& field : fields()) {
    parser.add(field.key, "VALUE",
               std::string(field.doc) + " (default " + field.get(defaults) + ")",
               [&f, key = std::string(field.key)](const std::string& v) {
                 f.overrides.emplace_back(key, v);
                 return Status::ok();
               });
  }
}

}  // namespace

std::string usage() {
  Flags f;
  FlagParser parser(kUsageHead);
  add_flags(parser, f);
  return parser.usage();
}

Result<CommandLine> parse_command_line(const std::vector<std::string>& args) {
  Flags f;
  FlagParser parser(kUsageHead);
  add_flags(parser, f);
  if (Status s = parser.parse(args); !s) return s;
  CommandLine& cl = f.cl;
  cl.help = parser.help_requested();
  cl.version = parser.version_requested();
  // The config file is applied first, overrides after it, whatever their
  // order. --help and --version read no config file (it may not exist yet)
  // but still check that every --KEY has a value of its type.
  const bool informational = cl.help || cl.version;
  if (!f.config_file.empty() && !informational) {
    if (Status s = cl.config.load_file(f.config_file); !s) return s;
  }
  for (auto& [key, value] : f.overrides) {
    if (Status s = cl.config.set(key, value); !s) return s;
  }
  if (informational) return cl;
  if (Status s = cl.config.validate(); !s) return s;
  return cl;
}

}  // namespace autodistill::daemon
