#include "autodistill/daemon/daemon.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "autodistill/daemon/blob_store.hpp"
#include "autodistill/daemon/controller.hpp"
#include "autodistill/daemon/log.hpp"
#include "autodistill/daemon/store.hpp"
#include "autodistill/wire/curve.hpp"
#include "http_server.hpp"
#include "private_fs.hpp"
#include "web/web_view.hpp"

#ifdef AUTODISTILL_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace autodistill::daemon {

namespace asio = boost::asio;

namespace {

// The transport drops frames above this; verify() answers 16..64 MiB ones.
constexpr int64_t kTransportMaxMessage = 64ll << 20;
// Threads that compute BO suggestions off the event loop (issue #3); a
// study has at most one suggestion in flight, so this bounds how many
// studies compute at once.
constexpr size_t kSuggestThreads = 2;
// At shutdown the running suggestions are cancelled (they poll a flag) and
// waited for this long; one still running then (a factorization over a
// large data set is not interrupted) is left to finish on its own thread,
// its result dropped, so SIGTERM never waits for a suggestion (issue #11).
constexpr std::chrono::milliseconds kSuggestionGrace{2000};

// Between the suggestion threads and the loop: how many jobs run, and
// where their results go (null once the daemon takes no more results).
struct SuggestBridge {
  std::mutex mutex;
  std::condition_variable idle;
  asio::io_context* io = nullptr;
  int running = 0;
};

// One ZeroMQ socket whose ZMQ_FD is watched by the loop. ZMQ_FD is
// edge-triggered: after every recv/send, ZMQ_EVENTS must be re-checked.
struct WatchedSocket {
  WatchedSocket(asio::io_context& io, zmq::context_t& ctx, Endpoint ep,
                zmq::socket_type type = zmq::socket_type::router)
      : endpoint(ep), socket(ctx, type), descriptor(io) {}

  bool readable() { return (socket.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0; }

  Endpoint endpoint;
  zmq::socket_t socket;
  asio::posix::stream_descriptor descriptor;
  bool armed = false;
};

}  // namespace

struct Daemon::Impl {
  Config config;
  DaemonOptions options;
  asio::io_context io;
  zmq::context_t ctx;
  std::unique_ptr<Store> store;
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<Controller> controller;
  std::unique_ptr<WatchedSocket> workers;
  std::unique_ptr<WatchedSocket> clients;
  // CURVE: the ZAP handler (REP on inproc://zeromq.zap.01) and the allowed
  // public keys per endpoint, key -> admin.
  std::unique_ptr<WatchedSocket> zap;
  wire::CurveKeyPair server_keys;
  std::map<std::string, bool> allowed[2];
  asio::steady_timer tick_timer{io};
  // SIGTERM / SIGINT / SIGHUP, read from a signalfd (handle_signals).
  asio::posix::stream_descriptor signals{io};
  signalfd_siginfo signal_buffer[16];
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<web::WebView> web_view;
  int lock_fd = -1;
  uint64_t reload_generation = 0;
  std::chrono::steady_clock::time_point last_status{};
  std::string last_status_line;
  uint64_t watchdog_usec = 0;
  std::chrono::steady_clock::time_point last_watchdog{};
  bool stopping = false;
  bool pump_posted = false;
  std::string bound_workers, bound_clients;
  // Stopped by stop_suggestions() (run()'s end, or the destructor): queued
  // jobs are abandoned, running ones cancelled and waited for a bounded time.
  std::unique_ptr<asio::thread_pool> suggest_pool;
  std::shared_ptr<SuggestBridge> bridge = std::make_shared<SuggestBridge>();

  explicit Impl(Config c, DaemonOptions o) : config(std::move(c)), options(o), ctx(1) {}

  ~Impl() {
    if (controller && !controller->shutting_down()) controller->begin_shutdown();
    stop_suggestions();
    for (WatchedSocket* s : {workers.get(), clients.get(), zap.get()}) {
      // The fd belongs to ZeroMQ: never let asio close it.
      if (s && s->descriptor.is_open()) s->descriptor.release();
    }
    workers.reset();
    clients.reset();
    zap.reset();
    if (lock_fd >= 0) ::close(lock_fd);
  }

  Status bind(WatchedSocket& s, const std::string& endpoint, std::string* bound) {
    try {
      s.socket.set(zmq::sockopt::router_mandatory, 1);
      s.socket.set(zmq::sockopt::linger, 0);
      s.socket.set(zmq::sockopt::sndhwm, 100000);
      s.socket.set(zmq::sockopt::rcvhwm, 100000);
      s.socket.set(zmq::sockopt::maxmsgsize, kTransportMaxMessage);
      if (zap) {
        s.socket.set(zmq::sockopt::curve_server, 1);
        s.socket.set(zmq::sockopt::curve_secretkey, server_keys.secret_key);
        s.socket.set(zmq::sockopt::zap_domain,
                     s.endpoint == Endpoint::kWorker ? "workers" : "clients");
      }
      s.socket.bind(endpoint);
      *bound = s.socket.get(zmq::sockopt::last_endpoint);
      s.descriptor.assign(s.socket.get(zmq::sockopt::fd));
    } catch (const zmq::error_t& e) {
      return Status(Code::kUnavailable, "cannot bind " + endpoint + ": " + e.what(),
                    s.endpoint == Endpoint::kWorker ? "worker_endpoint" : "client_endpoint");
    }
    return Status::ok();
  }

  Status start() {
    LogLevel level;
    if (parse_log_level(config.log_level, &level)) set_log_level(level);
    if (Status s = make_private_dirs(config.data_dir); !s) {
      return Status(s.code(), s.message(), "data_dir");
    }
    const std::string lock_path = config.data_dir + "/autodistilld.lock";
    lock_fd = open_private(lock_path, O_RDWR);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      return Status(Code::kFailedPrecondition,
                    "another autodistilld holds " + config.data_dir + " (" + lock_path + ")",
                    "data_dir");
    }
    auto opened = Store::open(config.data_dir + "/autodistill.db");
    if (!opened) return opened.status();
    store = std::move(opened.value());
    auto blob_store = BlobStore::open(config.data_dir + "/blobs", config.max_blob_bytes);
    if (!blob_store) return blob_store.status();
    blobs = std::make_unique<BlobStore>(std::move(blob_store.value()));
    controller = std::make_unique<Controller>(config, *store, *blobs);
    start_suggest_pool();
    if (Status s = controller->recover(); !s) return s;
    controller->commit();

    if (!config.curve_secret_key_file.empty()) {
      auto keys = wire::read_curve_key_file(config.curve_secret_key_file, true);
      if (!keys) return keys.status();
      server_keys = keys.value();
      if (Status s = load_allow_lists(config); !s) return s;
      // The ZAP handler must exist before a CURVE socket binds: without one,
      // libzmq lets any client that knows the server key in.
      zap = std::make_unique<WatchedSocket>(io, ctx, Endpoint::kClient, zmq::socket_type::rep);
      zap->socket.set(zmq::sockopt::linger, 0);
      zap->socket.bind("inproc://zeromq.zap.01");
      zap->descriptor.assign(zap->socket.get(zmq::sockopt::fd));
      LOG_INFO("CURVE on both endpoints; server key " << server_keys.public_key << ", "
                                                      << allowed[0].size() << " worker keys, "
                                                      << allowed[1].size() << " client keys");
    }
    workers = std::make_unique<WatchedSocket>(io, ctx, Endpoint::kWorker);
    clients = std::make_unique<WatchedSocket>(io, ctx, Endpoint::kClient);
    if (Status s = bind(*workers, config.worker_endpoint, &bound_workers); !s) return s;
    if (Status s = bind(*clients, config.client_endpoint, &bound_clients); !s) return s;
    if (!config.http_listen.empty()) {
      auto token = web_token(config);
      if (!token) return token.status();
      web_view = std::make_unique<web::WebView>(*store, *controller);
      apply_web_view(config, std::move(token.value()));
      auto http_server = HttpServer::start(
          io, config.http_listen, [this](const HttpServer::Request& r) { return serve_http(r); });
      if (!http_server) return http_server.status();
      http = std::move(http_server.value());
      const std::string base = "http://" +
                               config.http_listen.substr(0, config.http_listen.rfind(':')) + ":" +
                               std::to_string(http->port());
      LOG_INFO("metrics and health on " << base << "/metrics, the web view on " << base << "/");
    }
    LOG_INFO("serving workers on " << bound_workers << ", clients on " << bound_clients
                                   << ", data in " << config.data_dir << " (schema v"
                                   << store->schema_version() << ")");
    return Status::ok();
  }

  // BO suggestions run on suggest_pool (a copy of the study's engine); the
  // result comes back to the loop, where the controller stores the
  // candidates and pump() commits and dispatches them. The pool's threads
  // block every signal: the loop alone handles them.
  void start_suggest_pool() {
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    suggest_pool = std::make_unique<asio::thread_pool>(kSuggestThreads);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    bridge->io = &io;
    controller->set_suggest_runner(
        [this](SuggestJob job, std::function<void(std::vector<Params>)> deliver) {
          asio::post(*suggest_pool, [this, bridge = bridge, job = std::move(job),
                                     deliver = std::move(deliver)]() mutable {
            {
              std::lock_guard<std::mutex> lock(bridge->mutex);
              if (bridge->io == nullptr) return;
              ++bridge->running;
            }
            std::vector<Params> result = job();
            std::lock_guard<std::mutex> lock(bridge->mutex);
            --bridge->running;
            bridge->idle.notify_all();
            if (bridge->io == nullptr) return;  // the daemon stopped meanwhile
            asio::post(*bridge->io,
                       [this, deliver = std::move(deliver), result = std::move(result)]() mutable {
                         if (stopping) return;  // nothing was stored: a restart suggests again
                         deliver(std::move(result));
                         pump();
                       });
          });
        });
    // Deferred model fits (Proposer::background()): like a suggestion, not
    // started once the daemon stops, and waited for as one by
    // stop_suggestions(); the work holds only its own engine copy.
    controller->set_background_runner([this](std::function<void()> work) {
      asio::post(*suggest_pool, [bridge = bridge, work = std::move(work)] {
        {
          std::lock_guard<std::mutex> lock(bridge->mutex);
          if (bridge->io == nullptr) return;
          ++bridge->running;
        }
        work();
        std::lock_guard<std::mutex> lock(bridge->mutex);
        --bridge->running;
        bridge->idle.notify_all();
      });
    });
  }

  // After controller->begin_shutdown() (which cancels the running jobs):
  // no result is delivered any more; waits up to kSuggestionGrace for the
  // running jobs, then leaves any still running to finish on their own.
  void stop_suggestions() {
    if (!suggest_pool) return;
    std::unique_lock<std::mutex> lock(bridge->mutex);
    bridge->idle.wait_for(lock, kSuggestionGrace, [&] { return bridge->running == 0; });
    const int stuck = bridge->running;
    bridge->io = nullptr;
    lock.unlock();
    suggest_pool->stop();
    if (stuck > 0) {
      LOG_WARN("a suggestion did not stop within " << kSuggestionGrace.count()
                                                   << " ms; its thread finishes on its own");
      // The pool's threads hold only the job's own snapshot and the bridge:
      // leaving them (and the pool) behind is safe; joining could take minutes.
      (void)suggest_pool.release();
      return;
    }
    suggest_pool->join();
    suggest_pool.reset();
  }

  // Reads both allow-lists (start and SIGHUP: a removed key is revoked) and
  // tells the controller which client keys are admins.
  Status load_allow_lists(const Config& c) {
    std::map<std::string, bool> next[2];
    std::set<std::string> admins;
    for (int i = 0; i < 2; ++i) {
      auto list = wire::read_allow_list(i == 0 ? c.worker_keys_file : c.client_keys_file);
      if (!list) return list.status();
      for (const auto& k : list.value()) {
        next[i][k.public_key] = k.admin;
        if (i == 1 && k.admin) admins.insert(k.public_key);
      }
    }
    allowed[0] = std::move(next[0]);
    allowed[1] = std::move(next[1]);
    if (controller) controller->set_admin_keys(std::move(admins));
    return Status::ok();
  }

  // ZAP (RFC 27): authenticate a CURVE handshake against the allow-list of
  // the endpoint's domain. The user id we return is the client's Z85 key.
  void drain_zap() {
    for (int i = 0; i < 64; ++i) {
      std::vector<zmq::message_t> frames;
      zmq::message_t frame;
      if (!zap->socket.recv(frame, zmq::recv_flags::dontwait)) return;
      bool more = frame.more();
      frames.push_back(std::move(frame));
      while (more) {
        zmq::message_t next;
        if (!zap->socket.recv(next, zmq::recv_flags::none)) break;
        more = next.more();
        frames.push_back(std::move(next));
      }
      std::string status = "400", text = "malformed ZAP request", user;
      if (frames.size() >= 7 && frames[5].to_string() == "CURVE" && frames[6].size() == 32) {
        char z85[41];
        zmq_z85_encode(z85, frames[6].data<uint8_t>(), 32);
        const std::string domain = frames[2].to_string();
        const int list = domain == "workers" ? 0 : 1;
        if (allowed[list].count(z85)) {
          status = "200";
          text = "OK";
          user = z85;
        } else {
          text = "key not allowed";
          LOG_WARN("refused a " << (list == 0 ? "worker" : "client") << " connection from "
                                << frames[3].to_string() << ": key " << z85
                                << " is not on the allow-list");
        }
      }
      const std::string request_id = frames.size() > 1 ? frames[1].to_string() : "";
      const std::string reply[] = {"1.0", request_id, status, text, user, ""};
      for (size_t k = 0; k < 6; ++k) {
        zap->socket.send(zmq::buffer(reply[k]),
                         k < 5 ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    }
  }

  // Receives up to max_batch_messages messages from a socket into the
  // controller: bounds the latency a batch adds while amortizing the fsync.
  void drain(WatchedSocket& s) {
    for (uint32_t i = 0; i < config.max_batch_messages; ++i) {
      zmq::message_t peer, body;
      if (!s.socket.recv(peer, zmq::recv_flags::dontwait)) return;
      if (!peer.more()) continue;  // a ROUTER always prefixes the routing id
      if (!s.socket.recv(body, zmq::recv_flags::dontwait)) return;
      bool extra = false;
      while (body.more()) {
        zmq::message_t rest;
        if (!s.socket.recv(rest, zmq::recv_flags::dontwait)) break;
        extra = true;
        if (!rest.more()) break;
      }
      std::string peer_id(peer.data<char>(), peer.size());
      if (extra) {
        LOG_WARN("dropping a multi-frame message (the protocol sends one frame per message)");
        controller->on_message(s.endpoint, peer_id, nullptr, 0);
        continue;
      }
      const char* user = zap ? zmq_msg_gets(body.handle(), "User-Id") : nullptr;
      controller->on_message(s.endpoint, peer_id, body.data(), body.size(),
                             user ? std::string(user) : std::string());
    }
  }

  void flush() {
    for (Outbound& out : controller->commit()) {
      WatchedSocket& s = out.endpoint == Endpoint::kWorker ? *workers : *clients;
      try {
        if (!s.socket.send(zmq::buffer(out.peer),
                           zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
            !s.socket.send(zmq::buffer(out.bytes), zmq::send_flags::dontwait)) {
          LOG_WARN("send queue full; dropped a message to a peer");
        }
      } catch (const zmq::error_t& e) {
        // EHOSTUNREACH: the peer is gone. Its session times out normally.
        LOG_DEBUG("send to a departed peer dropped: " << e.what());
      }
    }
  }

  // Receive everything ready, commit the batch, send its replies; then
  // re-check ZMQ_EVENTS (edge-triggered fds) and either go again or wait.
  void pump() {
    pump_posted = false;
    if (!workers) return;
    if (zap) drain_zap();
    drain(*workers);
    drain(*clients);
    flush();
    if (workers->readable() || clients->readable() || (zap && zap->readable())) {
      if (!pump_posted) {
        pump_posted = true;
        asio::post(io, [this] { pump(); });
      }
      return;
    }
    arm(*workers);
    arm(*clients);
    if (zap) arm(*zap);
  }

  void arm(WatchedSocket& s) {
    if (s.armed || stopping) return;
    s.armed = true;
    s.descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                            [this, &s](const boost::system::error_code& ec) {
                              s.armed = false;
                              if (!ec && !stopping) pump();
                            });
  }

  // The web view's token from `c` ("" when none); reading it is checked
  // before anything of a reload is applied.
  static Result<std::string> web_token(const Config& c) {
    if (c.web_token_file.empty()) return std::string();
    return web::read_web_token(c.web_token_file);
  }

  // The web view's access from `c` (start and SIGHUP).
  void apply_web_view(const Config& c, std::string token) {
    if (!web_view) return;
    std::string why;
    const web::Access access = web::access_for(c, !token.empty(), &why);
    if (access == web::Access::kOff) LOG_WARN("web view off: " << why);
    web_view->set_access(access, std::move(token), why);
  }

  HttpServer::Response serve_http(const HttpServer::Request& request) {
    const std::string& path = request.path;
    if (auto page = web_view->serve(request)) return std::move(*page);
    if (path == "/metrics") {
      return {200, "text/plain; version=0.0.4; charset=utf-8", controller->render_metrics()};
    }
    if (path == "/healthz") {
      bool ok = false;
      std::string body = controller->health_json(&ok);
      return {ok ? 200 : 503, "application/json", body + "\n"};
    }
    return {404, "text/plain; charset=utf-8", "not found: try /, /metrics or /healthz\n"};
  }

  void schedule_tick() {
    tick_timer.expires_after(std::chrono::milliseconds(config.tick_ms));
    tick_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      // Read what arrived first: a heartbeat waiting in the socket after a
      // stall of the loop keeps its lease rather than letting it expire.
      pump();
      controller->tick();
      pump();
      notify_progress();
      schedule_tick();
    });
  }

  // STATUS= once a second when it changed; WATCHDOG=1 at half the watchdog
  // interval (systemd's WatchdogSec), from the loop itself: a stuck loop
  // stops the pings and systemd restarts the daemon.
  void notify_progress() {
#ifdef AUTODISTILL_HAVE_SYSTEMD
    if (!options.notify_systemd) return;
    const auto now = std::chrono::steady_clock::now();
    if (watchdog_usec > 0 && now - last_watchdog >= std::chrono::microseconds(watchdog_usec / 2)) {
      last_watchdog = now;
      sd_notify(0, "WATCHDOG=1");
    }
    if (now - last_status >= std::chrono::seconds(1)) {
      last_status = now;
      std::string line = controller->status_line();
      if (line != last_status_line) {
        last_status_line = line;
        sd_notify(0, ("STATUS=" + line).c_str());
      }
    }
#endif
  }

  // SIGHUP: apply every field that does not need a restart, then report.
  void reload() {
    ++reload_generation;
#ifdef AUTODISTILL_HAVE_SYSTEMD
    if (options.notify_systemd) sd_notify(0, "RELOADING=1");
#endif
    std::string report;
    if (!options.reload) {
      report = "error: this daemon cannot reload";
    } else if (auto next = options.reload(); !next) {
      report = "error: " + next.status().to_string();
    } else {
      Config& c = next.value();
      for (const auto& [name, changed] :
           {std::pair<const char*, bool>{"data_dir", c.data_dir != config.data_dir},
            {"worker_endpoint", c.worker_endpoint != config.worker_endpoint},
            {"client_endpoint", c.client_endpoint != config.client_endpoint},
            {"http_listen", c.http_listen != config.http_listen}}) {
        if (changed) LOG_WARN("reload: " << name << " changes only at restart; kept");
      }
      c.data_dir = config.data_dir;
      c.worker_endpoint = config.worker_endpoint;
      c.client_endpoint = config.client_endpoint;
      c.http_listen = config.http_listen;
      c.curve_secret_key_file = config.curve_secret_key_file;
      auto token = web_token(c);
      Status lists = !token ? token.status() : zap ? load_allow_lists(c) : Status::ok();
      if (!lists) {
        report = "error: " + lists.to_string();
      } else {
        apply_web_view(c, std::move(token.value()));
        config = c;  // the controller holds a reference to this object
        LogLevel level;
        if (parse_log_level(config.log_level, &level)) set_log_level(level);
        report = "ok";
      }
    }
    LOG_INFO("reload " << reload_generation << ": " << report);
    const std::string line = std::to_string(reload_generation) + " " + report + "\n";
    if (const int fd = open_private(reload_report_path(config.data_dir), O_WRONLY | O_TRUNC);
        fd >= 0) {
      if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        LOG_WARN("cannot write " << reload_report_path(config.data_dir));
      }
      ::close(fd);
    }
#ifdef AUTODISTILL_HAVE_SYSTEMD
    if (options.notify_systemd) sd_notify(0, ("READY=1\nSTATUS=reload: " + report).c_str());
#endif
  }

  void shutdown() {
    if (stopping) return;
    LOG_INFO("stopping: no new work, flushing the store");
#ifdef AUTODISTILL_HAVE_SYSTEMD
    if (options.notify_systemd) sd_notify(0, "STOPPING=1");
#endif
    controller->begin_shutdown();
    drain(*workers);
    drain(*clients);
    flush();
    stopping = true;
    tick_timer.cancel();
    boost::system::error_code ignored;
    if (signals.is_open()) signals.cancel(ignored);
    if (http) http->stop();
    workers->descriptor.cancel(ignored);
    clients->descriptor.cancel(ignored);
    io.stop();
  }

  Status run() {
    if (!controller) return Status(Code::kFailedPrecondition, "start() was not called");
    if (options.handle_signals) {
      if (auto s = open_signalfd(); !s) return s;
      wait_signal();
    }
#ifdef AUTODISTILL_HAVE_SYSTEMD
    if (options.notify_systemd) {
      sd_notify(0, "READY=1");
      if (sd_watchdog_enabled(0, &watchdog_usec) <= 0) watchdog_usec = 0;
    }
#endif
    schedule_tick();
    pump();
    io.run();
    stop_suggestions();
    LOG_INFO("stopped cleanly");
    return Status::ok();
  }

  Status open_signalfd() {
    if (auto s = block_daemon_signals(); !s) return s;
    sigset_t set;
    sigemptyset(&set);
    for (int signo : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, signo);
    const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
      return Status(Code::kInternal, std::string("signalfd: ") + std::strerror(errno));
    }
    signals.assign(fd);
    return Status::ok();
  }

  // Reads every pending signal at once: a burst of SIGHUPs is one reload,
  // and a SIGTERM in the same burst wins over them.
  void wait_signal() {
    signals.async_read_some(
        asio::buffer(signal_buffer), [this](const boost::system::error_code& ec, size_t n) {
          if (ec) return;
          bool hangup = false;
          int stop_signal = 0;
          for (size_t i = 0; i < n / sizeof(signalfd_siginfo); ++i) {
            const int signo = static_cast<int>(signal_buffer[i].ssi_signo);
            if (signo == SIGHUP) hangup = true;
            if (signo == SIGTERM || signo == SIGINT) stop_signal = signo;
          }
          if (stop_signal != 0) {
            LOG_INFO("received " << (stop_signal == SIGTERM ? "SIGTERM" : "SIGINT"));
            shutdown();
            return;
          }
          if (hangup) reload();
          wait_signal();
        });
  }
};

Status block_daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, signo);
  if (const int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    return Status(Code::kInternal, std::string("pthread_sigmask: ") + std::strerror(err));
  }
  return Status::ok();
}

Daemon::Daemon(Config config, DaemonOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), options)) {}

Daemon::~Daemon() = default;

Status Daemon::start() {
  return impl_->start();
}
Status Daemon::run() {
  return impl_->run();
}

void Daemon::stop() {
  asio::post(impl_->io, [impl = impl_.get()] {
    if (impl->controller) impl->shutdown();
  });
}

std::string Daemon::worker_endpoint() const {
  return impl_->bound_workers;
}
std::string Daemon::client_endpoint() const {
  return impl_->bound_clients;
}
uint16_t Daemon::http_port() const {
  return impl_->http ? impl_->http->port() : 0;
}

std::string reload_report_path(const std::string& data_dir) {
  return data_dir + "/autodistilld.reloaded";
}

Status request_reload(int pid, const std::string& data_dir) {
  auto read_report = [&] {
    std::ifstream in(reload_report_path(data_dir));
    std::string line;
    std::getline(in, line);
    return line;
  };
  auto generation = [](const std::string& report) {
    return report.empty() ? 0ull : std::strtoull(report.c_str(), nullptr, 10);
  };
  const uint64_t before = generation(read_report());
  if (::kill(pid, SIGHUP) != 0) {
    return Status(Code::kNotFound, "cannot signal process " + std::to_string(pid), "reload");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string report = read_report();
    if (generation(report) > before) {
      if (report.find(" ok") != std::string::npos) return Status::ok();
      return Status(Code::kInvalidArgument, "reload refused: " + report, "config");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status(Code::kUnavailable, "the daemon did not report the reload within 30 s", "reload");
}

}  // namespace autodistill::daemon
