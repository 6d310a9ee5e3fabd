#pragma once
// autodistilld configuration: defaults -> config file -> command line.
//
// The file is `key = value` lines; `#` starts a comment. Every field below is
// documented with its default; `autodistilld --print-config` prints the
// effective configuration in file syntax, with the documentation.

#include <cstdint>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::daemon {

struct Config {
  // Directory for the SQLite store and the blob store. Created if missing.
  std::string data_dir = "/var/lib/autodistill";
  // ZeroMQ endpoint (ROUTER) where workers connect.
  std::string worker_endpoint = "tcp://127.0.0.1:5555";
  // ZeroMQ endpoint (ROUTER) where clients connect.
  std::string client_endpoint = "tcp://127.0.0.1:5556";
  // Both sides of a worker session send a message at least this often.
  uint32_t heartbeat_interval_ms = 1000;
  // A worker silent for liveness * heartbeat_interval_ms is dropped from the registry.
  uint32_t liveness = 3;
  // A trial lease not extended by a heartbeat for this long expires and the
  // trial is re-queued with the next attempt number.
  uint32_t lease_ms = 15000;
  // Attempts per trial when the study does not set max_attempts.
  uint32_t max_attempts = 3;
  // Candidates in flight per study when the study does not set parallelism.
  uint32_t default_parallelism = 8;
  // Period of the housekeeping tick (lease expiry, heartbeats, dead workers).
  uint32_t tick_ms = 100;
  // Messages read from each socket before one group commit (one fsync for
  // the batch); 1 commits every message on its own.
  uint32_t max_batch_messages = 512;
  // Largest blob chunk payload, in bytes (Welcome.max_chunk_bytes).
  uint32_t max_chunk_bytes = 1u << 20;
  // Largest blob accepted, in bytes.
  uint64_t max_blob_bytes = 64ull << 30;
  // Messages per second one connection (worker or client) may send; above
  // it (after a burst of twice as many) requests get ResourceExhausted.
  // 0 = unlimited.
  uint32_t max_messages_per_second = 20000;
  // Studies that may be active (not finished) at once; Submit beyond it
  // gets ResourceExhausted.
  uint32_t max_active_studies = 1000;
  // Blob bytes are refused when the data directory's file system would
  // keep less than this free.
  uint64_t min_free_disk_bytes = 256ull << 20;
  // Largest candidate budget (max_trials) a study may ask for.
  uint32_t max_trials_limit = 1000000;
  // Design-space size a study may ask for (docs/study-spec.md, "Limits"):
  // factors, values (or categories) of one factor, and values of all
  // factors together. Beyond them a Submit gets ResourceExhausted naming the
  // field; stored studies beyond them are failed at start.
  uint32_t max_factors = 64;
  uint32_t max_factor_values = 4096;
  uint32_t max_design_values = 65536;
  // Largest settings_json of a study, in bytes (it goes out with every Assign).
  uint32_t max_settings_bytes = 1u << 20;
  // A worker whose leases expire twice in a row (no result in between) gets
  // no new work for this long; each further expiry doubles it, up to
  // quarantine_max_ms. (After any expiry, other workers get that trial
  // first.) 0 disables the quarantine.
  uint32_t quarantine_ms = 30000;
  // Longest quarantine after repeated lease expiries.
  uint32_t quarantine_max_ms = 600000;
  // A Probe result that says it did not converge (its median's confidence
  // interval missed the probe worker's precision, e.g. on a loaded host) is
  // measured again, as a new Probe trial of the candidate, this many times
  // at most; the candidate's flash goes on meanwhile with the provisional
  // latency. When none converged, the latest measurement is marked
  // (latency_unconverged) and reports warn. 0 marks the first at once.
  uint32_t max_reprobes = 2;
  // The first re-probe waits this long after the unconverged result; each
  // further one twice as long as the one before.
  uint32_t reprobe_backoff_ms = 60000;
  // Worker rows (ListWorkers) not seen for this long, not connected and
  // holding no lease, are deleted. 0 keeps them forever.
  uint64_t worker_retention_seconds = 7 * 24 * 3600;
  // An unfinished blob upload not written to for this long is deleted (a
  // later BlobStat says to start at offset 0). 0 keeps them forever.
  uint64_t partial_upload_max_age_seconds = 24 * 3600;
  // HTTP listener for /metrics (Prometheus), /healthz and the read-only web
  // view (docs/operations.md, "Web view"), host:port; empty disables it.
  // Keep it on loopback or behind a proxy.
  std::string http_listen = "127.0.0.1:9464";
  // File holding the web view's token (one line, at least 16 characters,
  // chmod 600; re-read on SIGHUP). Set: every web view request carries it.
  // Empty: the view is open only where the client endpoint is open too (no
  // CURVE, http_listen on loopback or allow_insecure_bind = 1), off otherwise.
  std::string web_token_file;
  // CURVE: the daemon's key pair file (`autodistill keygen`). When set, both
  // endpoints encrypt and authenticate every peer against the allow-lists
  // below; empty = no CURVE.
  std::string curve_secret_key_file;
  // Allow-list of worker public keys (one per line) for the worker endpoint.
  std::string worker_keys_file;
  // Allow-list of client public keys; `admin` after a key lets that client
  // see and cancel every study, others only their own.
  std::string client_keys_file;
  // 1 lets the daemon bind a non-loopback endpoint without CURVE (trusted
  // networks only); 0 refuses to start instead.
  uint32_t allow_insecure_bind = 0;
  // debug | info | warn | error.
  std::string log_level = "info";

  // Loads `key = value` lines from `path` over the current values.
  Status load_file(const std::string& path);
  // Sets one field from text; kInvalidArgument with the field name when the
  // key is unknown or the value does not parse.
  Status set(const std::string& key, const std::string& value);
  // Cross-field checks (e.g. lease_ms must exceed one heartbeat interval).
  Status validate() const;
  // The configuration in file syntax, each field preceded by its documentation.
  std::string render() const;
};

// Parses autodistilld's command line with the shared FlagParser:
// `--config FILE`, `--KEY VALUE`, `--KEY=VALUE` (dashes or underscores),
// `--print-config`, `--reload PID`, `--help`, `--version`. Errors name the
// flag (`--no-such-key`) or, for a bad value, the config key (`lease_ms`).
struct CommandLine {
  Config config;
  bool print_config = false;
  bool help = false;
  bool version = false;
  // `--reload PID`: send SIGHUP to the daemon PID and wait until it reports
  // the reload applied (systemd's ExecReload).
  int reload_pid = 0;
};
Result<CommandLine> parse_command_line(const std::vector<std::string>& args);
// tcp://127.x.y.z:*, tcp://localhost:*, tcp://[::1]:*, ipc:// and inproc://.
bool is_loopback_endpoint(const std::string& endpoint);
std::string usage();

}  // namespace autodistill::daemon
