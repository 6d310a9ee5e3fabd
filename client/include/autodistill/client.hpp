#pragma once
// The autodistill client: submits studies to autodistilld, follows them and
// fetches what they produce (docs/protocol.md, "Client protocol").
//
//   autodistill::Client client({.endpoint = "tcp://build-host:5556"});
//   auto spec = autodistill::parse_study_spec(text);
//   auto submitted = client.submit(*spec, "release-42");
//   client.watch(submitted->study.study_id, 0, [](const autodistill::Event& e) {
//     std::cout << e.kind << "\n";
//     return true;
//   });
//
// Every request is retried "lazy pirate" style: when no reply comes within
// request_timeout_ms the socket is closed, a fresh one connects and the
// request is sent again, up to `retries` more times; then the call returns
// kUnavailable. That is safe because every request is idempotent (a submit
// carries its idempotency key). A reply the daemon sends as an Error comes
// back as a Status with the daemon's code, message and field.
//
// Thread-safety: a Client may be used from one thread at a time (it owns
// one socket). Use one Client per thread for concurrent requests. Methods
// never throw; errors are returned as Status / Result. A moved-from Client
// may only be destroyed or assigned to.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/status.hpp"
#include "autodistill/study.hpp"

namespace autodistill {

// Out-of-range values are clamped to the nearest allowed one.
struct ClientOptions {
  // The daemon's client endpoint (ZeroMQ address).
  std::string endpoint = "tcp://127.0.0.1:5556";
  // How long one attempt of a request waits for its reply (at least 1).
  int request_timeout_ms = 5000;
  // Further attempts after a timeout, each on a fresh socket (at least 0).
  int retries = 2;
  // watch(): re-send Watch (with the last seq seen) after this long without
  // a message; the daemon sends keep-alives every second, so silence means
  // it restarted or the connection broke (at least 1).
  int watch_silence_ms = 5000;
  // watch(): give up with kUnavailable after this long without any message
  // from the daemon; 0 = keep trying forever.
  int watch_give_up_ms = 120000;
  // Payload bytes per BlobPut / BlobGet, 1 .. 1 MiB (the daemon's limit).
  uint32_t chunk_bytes = 1u << 20;
  // CURVE (docs/operations.md): the daemon's public key file and this
  // client's secret key file (`autodistill keygen`); both empty = no CURVE.
  // A key file that cannot be used makes every request fail with its error.
  std::string server_key_file;
  std::string key_file;
};

// The answer to submit(): the study, and whether this call created it
// (false when the idempotency key matched an existing study).
struct SubmitResult {
  StudyInfo study;
  bool created = false;
};

// The answer to get(): the study and, when asked for, its trials.
struct StudyDetails {
  StudyInfo study;
  std::vector<TrialInfo> trials;
};

class Client {
 public:
  // Connects lazily: nothing is sent (and no error can occur) until the
  // first request.
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  const ClientOptions& options() const;

  // Starts a study, or returns the one an earlier submit with the same
  // `idempotency_key` started (created = false). An empty key makes a
  // random one for this call, so its own retries never start two studies.
  // A different spec under a used key is kAlreadyExists; a bad spec is
  // kInvalidArgument with the field at fault ("spec.factors[0].values").
  Result<SubmitResult> submit(const StudySpec& spec, const std::string& idempotency_key);

  // The study and, with include_trials, all its trials. kNotFound if unknown.
  Result<StudyDetails> get(uint64_t study_id, bool include_trials = true);

  // Studies, newest first; `limit` 0 = all.
  Result<std::vector<StudyInfo>> list(uint32_t limit = 0);

  // Called for each event in seq order; return false to stop watching.
  using EventCallback = std::function<bool(const Event&)>;

  // Streams the study's events with seq > after_seq to `on_event`: first the
  // stored ones, then new ones as they happen. Returns ok when the daemon
  // signals the end of the study (a terminal state) or `on_event` returns
  // false. After watch_silence_ms of silence it re-sends Watch from the last
  // seq it delivered, so a daemon restart loses nothing and no durable event
  // is delivered twice. trial_progress events (a running trial's heartbeat,
  // not stored) are delivered as they arrive, between the durable ones.
  // kUnavailable after watch_give_up_ms of silence. The
  // callback must not use this Client.
  Status watch(uint64_t study_id, uint64_t after_seq, const EventCallback& on_event);

  // Cancels the study and returns it. kFailedPrecondition if it already
  // finished.
  Result<StudyInfo> cancel(uint64_t study_id, const std::string& reason);

  // The workers the daemon knows.
  Result<std::vector<WorkerInfo>> workers();

  // Uploads the file at `path` as a blob and returns its sha256 digest.
  // Bytes the daemon already holds are skipped (the whole file when it has
  // the blob), so an interrupted upload resumes where it stopped.
  Result<std::string> upload(const std::string& path);

  // Downloads blob `digest` (an artifact, a teacher, ...) to `dest_path`,
  // which afterwards is either absent or complete and verified.
  Status fetch_artifact(const std::string& digest, const std::string& dest_path);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill
