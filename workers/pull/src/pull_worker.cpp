#include "autodistill/worker/pull_worker.hpp"

#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "autodistill/log.hpp"
#include "autodistill/wire/blob_transfer.hpp"
#include "autodistill/wire/codec.hpp"
#include "autodistill/worker/hardware.hpp"
#include "backoff.hpp"
#include "blob_cache.hpp"
#include "blob_connection.hpp"
#include "outbox.hpp"
#include "trial_runner.hpp"
#include "wake_pipe.hpp"
#include "zmq_util.hpp"

namespace autodistill::worker {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Session timing until the first Welcome says otherwise (docs/protocol.md).
constexpr uint32_t kDefaultHeartbeatMs = 1000;
constexpr uint32_t kDefaultLiveness = 3;
// How long a Bye may wait in the socket for delivery when the worker exits.
constexpr milliseconds kByeLinger{500};
// Largest blob chunk this worker uses: a frame must fit in kMaxMessageBytes.
constexpr uint32_t kMaxChunkBytes = wire::kMaxMessageBytes - (64u << 10);

std::string describe(TrialKey key) {
  return "trial " + std::to_string(key.trial_id) + " attempt " + std::to_string(key.attempt);
}

bool valid_worker_id(const std::string& id) {
  if (id.empty() || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(),
                     [](unsigned char c) { return c > ' ' && c != '/' && c < 127; });
}

}  // namespace

struct PullWorker::Impl {
  enum class State { kDisconnected, kAwaitingWelcome, kReady };
  wire::CurveClientKeys curve;  // loaded by prepare() from the key files

  struct Running {
    std::unique_ptr<TrialContext> ctx;
    std::thread thread;
  };

  Impl(PullWorkerOptions opts, Evaluator& eval)
      : options(std::move(opts)),
        evaluator(eval),
        backoff(options.reconnect_min, options.reconnect_max, std::random_device{}()),
        wake_status(wake.open()) {}

  // ---- shared with trial threads and stop() ----
  PullWorkerOptions options;  // read-only once run() has validated it
  Evaluator& evaluator;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> started{false};
  WakePipe wake;
  std::atomic<uint32_t> chunk_bytes{wire::kDefaultChunkBytes};
  std::mutex finished_mu;
  std::vector<std::pair<TrialKey, std::optional<wire::MessageUnion>>> finished;
  std::unique_ptr<BlobCache> cache;
  zmq::context_t context;
  // The daemon of the current session records checkpoints (Welcome.features).
  std::atomic<bool> daemon_checkpoints{false};

  // ---- loop thread only ----
  std::unique_ptr<zmq::socket_t> socket;
  State state = State::kDisconnected;
  std::map<TrialKey, Running> running;
  Outbox outbox;
  Backoff backoff;
  milliseconds heartbeat_period{kDefaultHeartbeatMs};
  milliseconds silence_limit{kDefaultHeartbeatMs * kDefaultLiveness};
  Clock::time_point last_heard, next_heartbeat, next_connect, drain_deadline;
  uint64_t next_request_id = 1;
  // Checkpoint reports awaiting CheckpointAck, newest per trial.
  struct PendingCheckpoint {
    std::string frame;
    uint64_t step = 0;
    uint64_t request_id = 0;
    Clock::time_point sent;
  };
  std::map<TrialKey, PendingCheckpoint> pending_checkpoints;
  // Trials whose gang address was sent in this session.
  std::set<TrialKey> announced;
  bool stopping = false;
  Status fatal;
  // Whether `wake` opened; it is opened in the constructor so that stop()
  // never races with its setup.
  Status wake_status;

  // To options.log when set, else the shared logger: "[worker id] line".
  void log(LogLevel level, const std::string& line) const {
    if (options.log) {
      options.log(line);
    } else if (log_enabled(level)) {
      log_line(level, "[" + options.worker_id + "] " + line);
    }
  }

  uint32_t free_slots() const {
    return options.slots > running.size() ? options.slots - static_cast<uint32_t>(running.size())
                                          : 0;
  }

  Status prepare();
  Status loop();
  void shutdown(bool clean);

  // Session.
  Status connect(Clock::time_point now);
  void disconnect() {
    socket.reset();
    state = State::kDisconnected;
  }
  void send(const std::string& frame);
  template <class T>
  void send_message(T body) {
    send(wire::encode_message(next_request_id++, std::move(body)));
  }
  void send_hello(Clock::time_point now);
  void send_pull(uint32_t credits);
  void send_heartbeat();
  void receive_all(Clock::time_point now);
  void handle(wire::EnvelopeT& envelope, Clock::time_point now);
  void on_welcome(const wire::WelcomeT& welcome, Clock::time_point now);
  void on_assign(const wire::AssignT& assign, Clock::time_point now);
  void on_cancel(const wire::CancelT& cancel);
  void on_error(const wire::EnvelopeT& envelope, Clock::time_point now);
  void on_checkpoint_ack(const wire::CheckpointAckT& ack);
  void on_gang_address(const wire::GangAddressT& address);

  // Checkpoint reports and gang announcements of running trials.
  void send_trial_messages(Clock::time_point now);
  Clock::time_point next_checkpoint_due() const;

  // Trials.
  void start_trial(const wire::AssignT& assign, Clock::time_point now);
  void trial_main(TrialKey key, TrialContext& ctx);
  void collect_finished(Clock::time_point now);
  void report(TrialKey key, wire::MessageUnion body, Clock::time_point now);
  Result<std::filesystem::path> fetch_blob(const std::string& digest,
                                           const std::function<bool()>& cancelled);
  Result<std::string> upload(const std::filesystem::path& file,
                             const std::function<bool()>& cancelled);
};

// ---------------------------------------------------------------------------
// Setup and the loop
// ---------------------------------------------------------------------------

Status PullWorker::Impl::prepare() {
  auto keys = wire::load_client_keys(options.server_key_file, options.key_file);
  if (!keys) return keys.status();
  curve = keys.value();
  if (!valid_worker_id(options.worker_id)) {
    return Status(Code::kInvalidArgument,
                  "worker_id must be non-empty printable text without spaces or '/'", "worker_id");
  }
  if (options.endpoint.empty()) {
    return Status(Code::kInvalidArgument, "endpoint is required", "endpoint");
  }
  if (options.slots == 0) {
    return Status(Code::kInvalidArgument, "slots must be at least 1", "slots");
  }
  if (options.role == wire::Role::External && options.studies.empty()) {
    return Status(Code::kInvalidArgument, "an External worker must name at least one study",
                  "studies");
  }
  if (options.role != wire::Role::External && !options.studies.empty()) {
    return Status(Code::kInvalidArgument, "only External workers name studies", "studies");
  }
  if (options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min) {
    return Status(Code::kInvalidArgument,
                  "reconnect_min must be positive and not above reconnect_max", "reconnect_min");
  }
  if (options.blob_timeout.count() <= 0 || options.blob_attempts == 0) {
    return Status(Code::kInvalidArgument, "blob_timeout and blob_attempts must be positive",
                  "blob_timeout");
  }
  if (options.hardware.tag.empty()) options.hardware = describe_host("cpu");
  if (options.hardware.fingerprint.empty()) {
    options.hardware.fingerprint = hardware_fingerprint(options.hardware);
  }
  std::error_code ec;
  if (options.cache_dir.empty() || options.scratch_dir.empty()) {
    std::filesystem::path temp = std::filesystem::temp_directory_path(ec);
    if (ec) temp = "/tmp";
    if (options.cache_dir.empty()) options.cache_dir = temp / "autodistill-blobs";
    if (options.scratch_dir.empty()) {
      options.scratch_dir = temp / "autodistill-scratch" / options.worker_id;
    }
  }
  for (const auto& [dir, field] :
       {std::pair{options.cache_dir, "cache_dir"}, std::pair{options.scratch_dir, "scratch_dir"}}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return Status(Code::kInternal, "cannot create " + dir.string() + ": " + ec.message(), field);
    }
  }
  cache = std::make_unique<BlobCache>(options.cache_dir);
  backoff = Backoff(options.reconnect_min, options.reconnect_max, std::random_device{}());
  return wake_status;
}

Status PullWorker::Impl::loop() {
  next_connect = Clock::now();
  while (true) {
    Clock::time_point now = Clock::now();
    if (stop_requested.load() && !stopping) {
      stopping = true;
      drain_deadline = now + options.drain_timeout;
      for (auto& [key, trial] : running) trial.ctx->cancel();
      log(LogLevel::kInfo,
          "stopping: " + std::to_string(running.size()) + " running trial(s) cancelled");
    }
    collect_finished(now);
    if (stopping && running.empty() &&
        (outbox.empty() || state == State::kDisconnected || now >= drain_deadline)) {
      return Status::ok();
    }
    if (state == State::kDisconnected && !stopping && now >= next_connect) {
      if (Status s = connect(now); !s) return s;
    }
    if (state != State::kDisconnected && now - last_heard >= silence_limit) {
      disconnect();
      milliseconds delay = backoff.next();
      next_connect = now + delay;
      log(LogLevel::kWarn, "no message from the daemon for " +
                               std::to_string(silence_limit.count()) + " ms; reconnecting in " +
                               std::to_string(delay.count()) + " ms");
    }
    if (state == State::kReady) {
      if (now >= next_heartbeat) {
        send_heartbeat();
        next_heartbeat = now + heartbeat_period;
      }
      for (const std::string& frame : outbox.take_due(now, silence_limit)) send(frame);
      send_trial_messages(now);
    }

    // Sleep until the next timer, a daemon message or a wake-up (a trial
    // finished, stop()); never past one heartbeat period.
    Clock::time_point deadline = now + heartbeat_period;
    if (state == State::kDisconnected) {
      if (!stopping) deadline = std::min(deadline, next_connect);
    } else {
      deadline = std::min(deadline, last_heard + silence_limit);
    }
    if (state == State::kReady) {
      deadline = std::min(
          {deadline, next_heartbeat, outbox.next_due(silence_limit), next_checkpoint_due()});
    }
    if (stopping && now < drain_deadline) deadline = std::min(deadline, drain_deadline);
    long timeout = std::max<long>(0, std::chrono::ceil<milliseconds>(deadline - now).count());

    zmq_pollitem_t items[2] = {{nullptr, wake.read_fd(), ZMQ_POLLIN, 0},
                               {socket ? socket->handle() : nullptr, 0, ZMQ_POLLIN, 0}};
    const int count = socket ? 2 : 1;
    if (zmq_poll(items, count, timeout) < 0) {
      if (zmq_errno() == EINTR) continue;
      return Status(Code::kInternal, std::string("zmq_poll failed: ") + zmq_strerror(zmq_errno()));
    }
    if (items[0].revents & ZMQ_POLLIN) wake.drain();
    if (count == 2 && (items[1].revents & ZMQ_POLLIN)) receive_all(Clock::now());
    if (!fatal.is_ok()) return fatal;
  }
}

void PullWorker::Impl::shutdown(bool clean) {
  for (auto& [key, trial] : running) trial.ctx->cancel();
  for (auto& [key, trial] : running) trial.thread.join();
  running.clear();
  {
    std::lock_guard lock(finished_mu);
    finished.clear();
  }
  if (clean && socket && state != State::kDisconnected) {
    wire::ByeT bye;
    bye.reason = "worker stopping";
    send_message(std::move(bye));
    socket->set(zmq::sockopt::linger, static_cast<int>(kByeLinger.count()));
  }
  socket.reset();
  state = State::kDisconnected;
}

// ---------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------

Status PullWorker::Impl::connect(Clock::time_point now) {
  try {
    socket =
        make_dealer(context, options.endpoint, curve, options.reconnect_min, options.reconnect_max);
  } catch (const zmq::error_t& e) {
    return Status(Code::kInvalidArgument,
                  "cannot connect to \"" + options.endpoint + "\": " + e.what(), "endpoint");
  }
  send_hello(now);
  return Status::ok();
}

void PullWorker::Impl::send(const std::string& frame) {
  if (!socket) return;
  // A full queue drops the frame: heartbeats are periodic and the outbox
  // re-sends reports until they are acknowledged.
  if (!socket->send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
    log(LogLevel::kWarn, "send queue full; a message was dropped");
  }
}

void PullWorker::Impl::send_hello(Clock::time_point now) {
  wire::HelloT hello;
  hello.worker_id = options.worker_id;
  hello.role = options.role;
  hello.hardware = std::make_unique<wire::HardwareT>(options.hardware);
  hello.slots = options.slots;
  hello.software_version = options.software_version;
  hello.studies = options.studies;
  std::set<TrialKey> keep;
  for (const auto& [key, trial] : running) {
    if (!trial.ctx->cancelled()) keep.insert(key);
  }
  for (const TrialKey& key : outbox.keys()) keep.insert(key);
  for (const TrialKey& key : keep) {
    auto ref = std::make_unique<wire::TrialRefT>();
    ref->trial_id = key.trial_id;
    ref->attempt = key.attempt;
    hello.running.push_back(std::move(ref));
  }
  send_message(std::move(hello));
  state = State::kAwaitingWelcome;
  last_heard = now;
}

void PullWorker::Impl::send_pull(uint32_t credits) {
  wire::PullT pull;
  pull.credits = credits;
  send_message(pull);
}

void PullWorker::Impl::send_heartbeat() {
  wire::HeartbeatT heartbeat;
  for (const auto& [key, trial] : running) {
    if (trial.ctx->cancelled()) continue;
    ProgressReport report = trial.ctx->progress();
    auto progress = std::make_unique<wire::TrialProgressT>();
    progress->trial_id = key.trial_id;
    progress->attempt = key.attempt;
    progress->fraction = static_cast<float>(report.fraction);
    progress->message = std::move(report.message);
    for (const auto& [name, value] : report.metrics) {
      auto metric = std::make_unique<wire::MetricT>();
      metric->name = name;
      metric->value = value;
      progress->metrics.push_back(std::move(metric));
    }
    heartbeat.progress.push_back(std::move(progress));
  }
  // A finished trial's lease is kept alive until its report is acknowledged.
  for (const TrialKey& key : outbox.keys()) {
    auto progress = std::make_unique<wire::TrialProgressT>();
    progress->trial_id = key.trial_id;
    progress->attempt = key.attempt;
    progress->fraction = 1.0f;
    progress->message = "report awaiting acknowledgement";
    heartbeat.progress.push_back(std::move(progress));
  }
  send_message(std::move(heartbeat));
}

void PullWorker::Impl::receive_all(Clock::time_point now) {
  zmq::message_t message;
  while (socket && socket->recv(message, zmq::recv_flags::dontwait)) {
    auto envelope = wire::decode(message.data(), message.size());
    if (!envelope) {
      log(LogLevel::kWarn, "dropped a frame from the daemon: " + envelope.status().to_string());
      continue;
    }
    last_heard = now;
    handle(envelope.value(), now);
    if (!fatal.is_ok()) return;
  }
}

void PullWorker::Impl::handle(wire::EnvelopeT& envelope, Clock::time_point now) {
  wire::MessageUnion& body = envelope.body;
  switch (body.type) {
    case wire::Message::Welcome:
      on_welcome(*body.AsWelcome(), now);
      break;
    case wire::Message::Reject: {
      Status reason = wire::from_wire(body.AsReject()->error.get());
      fatal = Status(reason.code(), "the daemon rejected this worker: " + reason.message(),
                     reason.field());
      log(LogLevel::kError, fatal.to_string());
      break;
    }
    case wire::Message::Assign:
      on_assign(*body.AsAssign(), now);
      break;
    case wire::Message::Cancel:
      on_cancel(*body.AsCancel());
      break;
    case wire::Message::Ack: {
      const wire::AckT& ack = *body.AsAck();
      outbox.erase(TrialKey{ack.trial_id, ack.attempt});
      break;
    }
    case wire::Message::Heartbeat:
      break;
    case wire::Message::CheckpointAck:
      on_checkpoint_ack(*body.AsCheckpointAck());
      break;
    case wire::Message::GangAddress:
      on_gang_address(*body.AsGangAddress());
      break;
    case wire::Message::Error:
      on_error(envelope, now);
      break;
    default:
      log(LogLevel::kWarn, std::string("ignored an unexpected ") + wire::message_name(body.type) +
                               " from the daemon");
      break;
  }
}

void PullWorker::Impl::on_welcome(const wire::WelcomeT& welcome, Clock::time_point now) {
  const uint32_t interval =
      welcome.heartbeat_interval_ms > 0 ? welcome.heartbeat_interval_ms : kDefaultHeartbeatMs;
  const uint32_t liveness = welcome.liveness > 0 ? welcome.liveness : kDefaultLiveness;
  silence_limit = milliseconds(static_cast<int64_t>(interval) * liveness);
  // Heartbeats extend leases: send them at least twice per lease.
  heartbeat_period = milliseconds(interval);
  if (welcome.lease_ms > 0) {
    heartbeat_period = std::min(heartbeat_period, milliseconds(std::max(1u, welcome.lease_ms / 2)));
  }
  chunk_bytes.store(welcome.max_chunk_bytes > 0 ? std::min(welcome.max_chunk_bytes, kMaxChunkBytes)
                                                : wire::kDefaultChunkBytes);
  daemon_checkpoints.store(std::find(welcome.features.begin(), welcome.features.end(),
                                     "checkpoint") != welcome.features.end());
  announced.clear();
  for (auto& [key, pending] : pending_checkpoints) pending.sent = Clock::time_point{};
  state = State::kReady;
  backoff.reset();
  next_heartbeat = now + heartbeat_period;
  log(LogLevel::kInfo, "session established with " + options.endpoint + " (heartbeat " +
                           std::to_string(interval) + " ms, liveness " + std::to_string(liveness) +
                           ", lease " + std::to_string(welcome.lease_ms) + " ms)");
  if (!stopping && free_slots() > 0) send_pull(free_slots());
  for (const std::string& frame : outbox.take_due(now, Clock::duration::zero())) send(frame);
  send_trial_messages(now);
}

void PullWorker::Impl::on_assign(const wire::AssignT& assign, Clock::time_point now) {
  const TrialKey key{assign.trial_id, assign.attempt};
  if (stopping) {
    log(LogLevel::kInfo,
        "ignored " + describe(key) + ": the worker is stopping (Bye re-queues it)");
    return;
  }
  if (running.count(key) > 0 || outbox.contains(key)) {
    log(LogLevel::kInfo, "ignored a repeated Assign for " + describe(key));
    return;
  }
  if (free_slots() == 0) {
    report(key,
           make_failure(key.trial_id, key.attempt,
                        Status(Code::kResourceExhausted,
                               "the worker has no free slot (assigned more than it pulled)")),
           now);
    return;
  }
  start_trial(assign, now);
}

void PullWorker::Impl::on_cancel(const wire::CancelT& cancel) {
  const TrialKey key{cancel.trial_id, cancel.attempt};
  if (auto it = running.find(key); it != running.end()) {
    if (!it->second.ctx->cancelled()) {
      it->second.ctx->cancel();
      log(LogLevel::kInfo, describe(key) + ": cancelled by the daemon (" + cancel.reason + ")");
    }
  } else if (outbox.erase(key)) {
    log(LogLevel::kInfo, describe(key) + ": cancelled by the daemon; its report is dropped");
  }
}

void PullWorker::Impl::on_checkpoint_ack(const wire::CheckpointAckT& ack) {
  auto it = pending_checkpoints.find(TrialKey{ack.trial_id, ack.attempt});
  if (it != pending_checkpoints.end() && ack.step >= it->second.step) {
    pending_checkpoints.erase(it);
  }
}

void PullWorker::Impl::on_gang_address(const wire::GangAddressT& address) {
  const TrialKey key{address.trial_id, address.attempt};
  auto it = running.find(key);
  if (it == running.end()) {
    log(LogLevel::kWarn,
        "ignored a GangAddress for " + describe(key) + ", which this worker does not run");
    return;
  }
  it->second.ctx->set_gang_address(address.address);
}

void PullWorker::Impl::send_trial_messages(Clock::time_point now) {
  if (state != State::kReady) return;
  for (auto& [key, trial] : running) {
    if (trial.ctx->cancelled()) continue;
    if (std::optional<CheckpointRef> report = trial.ctx->take_checkpoint_report()) {
      PendingCheckpoint& pending = pending_checkpoints[key];
      pending.step = report->step;
      pending.request_id = next_request_id++;
      pending.frame = wire::encode_message(pending.request_id, checkpoint_ref_to_wire(*report));
      pending.sent = Clock::time_point{};
      log(LogLevel::kInfo,
          describe(key) + ": checkpoint at step " + std::to_string(report->step) + " uploaded");
    }
    if (!announced.count(key)) {
      if (std::optional<std::string> address = trial.ctx->gang_announcement()) {
        wire::GangAddressT message;
        message.trial_id = key.trial_id;
        message.attempt = key.attempt;
        message.address = *address;
        send_message(std::move(message));
        announced.insert(key);
      }
    }
  }
  for (auto& [key, pending] : pending_checkpoints) {
    if (pending.sent == Clock::time_point{} || pending.sent + silence_limit <= now) {
      send(pending.frame);
      pending.sent = now;
    }
  }
}

Clock::time_point PullWorker::Impl::next_checkpoint_due() const {
  Clock::time_point next = Clock::time_point::max();
  for (const auto& [key, pending] : pending_checkpoints) {
    next = std::min(next, pending.sent + silence_limit);
  }
  return next;
}

void PullWorker::Impl::on_error(const wire::EnvelopeT& envelope, Clock::time_point now) {
  Status error = wire::from_wire(envelope.body.AsError());
  for (auto it = pending_checkpoints.begin(); it != pending_checkpoints.end(); ++it) {
    if (error.code() != Code::kUnknownPeer && envelope.request_id != 0 &&
        it->second.request_id == envelope.request_id) {
      log(LogLevel::kWarn, describe(it->first) + ": the daemon refused checkpoint step " +
                               std::to_string(it->second.step) + ": " + error.to_string());
      pending_checkpoints.erase(it);
      return;
    }
  }
  if (error.code() == Code::kUnknownPeer) {
    // Errors for messages sent before our latest Hello are stale.
    if (state == State::kReady) {
      log(LogLevel::kWarn,
          "the daemon does not know this worker (it restarted?); saying Hello again");
      send_hello(now);
    }
    return;
  }
  // A report the daemon refused for good (docs/protocol.md, "Outbox"):
  // sending it again cannot change the answer. Transient errors (a full
  // disk, a failed commit, the rate limit, shutdown) keep it for a resend.
  const bool transient = error.code() == Code::kUnavailable ||
                         error.code() == Code::kResourceExhausted ||
                         error.code() == Code::kInternal;
  if (!transient) {
    if (auto key = outbox.erase_request(envelope.request_id)) {
      log(LogLevel::kWarn,
          describe(*key) + ": the daemon refused the report; it is dropped: " + error.to_string());
      return;
    }
  }
  log(LogLevel::kWarn,
      "daemon error for request " + std::to_string(envelope.request_id) + ": " + error.to_string());
}

// ---------------------------------------------------------------------------
// Trials
// ---------------------------------------------------------------------------

void PullWorker::Impl::start_trial(const wire::AssignT& assign, Clock::time_point now) {
  const TrialKey key{assign.trial_id, assign.attempt};
  // A gang's ranks may share a host and a scratch parent: one directory each.
  const std::filesystem::path dir =
      options.scratch_dir / (std::to_string(key.trial_id) + "-" + std::to_string(key.attempt) +
                             (assign.gang ? "-rank" + std::to_string(assign.gang->rank) : ""));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    report(key,
           make_failure(key.trial_id, key.attempt,
                        Status(Code::kInternal, "cannot create the scratch directory " +
                                                    dir.string() + ": " + ec.message())),
           now);
    if (state == State::kReady) send_pull(1);
    return;
  }
  Running& trial = running[key];
  TrialServices services;
  services.fetch = [this](const std::string& digest, const std::function<bool()>& cancelled) {
    return fetch_blob(digest, cancelled);
  };
  services.upload = [this](const std::filesystem::path& file,
                           const std::function<bool()>& cancelled) {
    return upload(file, cancelled);
  };
  services.checkpoints_enabled = [this] { return daemon_checkpoints.load(); };
  services.wake = [this] { wake.notify(); };
  trial.ctx =
      std::make_unique<TrialContext>(trial_spec_from_assign(assign), dir, std::move(services));
  TrialContext* ctx = trial.ctx.get();
  trial.thread = std::thread([this, key, ctx] { trial_main(key, *ctx); });
  log(LogLevel::kInfo,
      describe(key) + ": started" +
          (ctx->spec().gang ? " as rank " + std::to_string(ctx->spec().gang->rank) + " of " +
                                  std::to_string(ctx->spec().gang->world_size)
                            : std::string()) +
          (ctx->spec().resume ? " from checkpoint step " + std::to_string(ctx->spec().resume->step)
                              : std::string()));
}

void PullWorker::Impl::trial_main(TrialKey key, TrialContext& ctx) {
  TrialEnvironment env{
      evaluator, options.hardware.fingerprint,
      [this](const std::filesystem::path& file, const std::function<bool()>& cancelled) {
        return upload(file, cancelled);
      }};
  std::optional<wire::MessageUnion> report = run_trial(ctx, env);
  ctx.stop_checkpoints();
  std::error_code ec;
  std::filesystem::remove_all(ctx.scratch_dir(), ec);
  {
    std::lock_guard lock(finished_mu);
    finished.emplace_back(key, std::move(report));
  }
  wake.notify();
}

void PullWorker::Impl::collect_finished(Clock::time_point now) {
  std::vector<std::pair<TrialKey, std::optional<wire::MessageUnion>>> done;
  {
    std::lock_guard lock(finished_mu);
    done.swap(finished);
  }
  for (auto& [key, body] : done) {
    auto it = running.find(key);
    if (it == running.end()) continue;
    it->second.thread.join();
    const bool cancelled = it->second.ctx->cancelled();
    running.erase(it);
    pending_checkpoints.erase(key);
    announced.erase(key);
    if (cancelled || !body) {
      log(LogLevel::kInfo, describe(key) + ": stopped after cancel; nothing reported");
    } else {
      if (const wire::FailureT* failure = body->AsFailure()) {
        log(LogLevel::kWarn, describe(key) + ": failed (" +
                                 (failure->retryable ? "retryable" : "permanent") +
                                 "): " + wire::from_wire(failure->error.get()).to_string());
      } else {
        log(LogLevel::kInfo, describe(key) + ": finished");
      }
      report(key, std::move(*body), now);
    }
    if (!stopping && state == State::kReady) send_pull(1);
  }
}

void PullWorker::Impl::report(TrialKey key, wire::MessageUnion body, Clock::time_point now) {
  wire::EnvelopeT envelope;
  envelope.version = wire::kProtocolVersion;
  envelope.request_id = next_request_id++;
  envelope.body = std::move(body);
  std::string frame = wire::encode(envelope);
  if (state == State::kReady) {
    send(frame);
    outbox.put(key, std::move(frame), envelope.request_id, now);
  } else {
    // Sent after the next Welcome.
    outbox.put(key, std::move(frame), envelope.request_id, Clock::time_point{});
  }
}

Result<std::filesystem::path> PullWorker::Impl::fetch_blob(const std::string& digest,
                                                           const std::function<bool()>& cancelled) {
  BlobConnection connection(context, options.endpoint, options.blob_timeout, options.blob_attempts,
                            cancelled, curve);
  return cache->fetch(digest, connection.as_round_trip(), chunk_bytes.load(), cancelled);
}

Result<std::string> PullWorker::Impl::upload(const std::filesystem::path& file,
                                             const std::function<bool()>& cancelled) {
  BlobConnection connection(context, options.endpoint, options.blob_timeout, options.blob_attempts,
                            cancelled, curve);
  Result<std::string> digest = Status(Code::kInternal, "no upload attempted");
  for (uint32_t attempt = 0; attempt < options.blob_attempts; ++attempt) {
    digest = wire::upload_file(connection.as_round_trip(), file.string(), chunk_bytes.load());
    // A BlobPut applied by the daemon whose ack was lost makes the re-sent
    // chunk's offset stale (FailedPrecondition); upload_file resumes from
    // BlobStat.
    if (digest || digest.status().code() != Code::kFailedPrecondition) break;
  }
  return digest;
}

// ---------------------------------------------------------------------------

PullWorker::PullWorker(PullWorkerOptions options, Evaluator& evaluator)
    : impl_(std::make_unique<Impl>(std::move(options), evaluator)) {}

PullWorker::~PullWorker() = default;

Status PullWorker::run() {
  if (impl_->started.exchange(true)) {
    return Status(Code::kFailedPrecondition, "PullWorker::run() may be called only once");
  }
  if (Status s = impl_->prepare(); !s) return s;
  Status status;
  try {
    status = impl_->loop();
  } catch (const std::exception& e) {
    status = Status(Code::kInternal, std::string("worker loop failed: ") + e.what());
  }
  impl_->shutdown(status.is_ok());
  return status;
}

void PullWorker::stop() {
  impl_->stop_requested.store(true);
  impl_->wake.notify();
}

}  // namespace autodistill::worker
