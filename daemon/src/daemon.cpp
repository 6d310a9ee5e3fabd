#include "autodistill/daemon/daemon.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <csignal>
#include <filesystem>
#include <zmq.hpp>

#include "autodistill/daemon/blob_store.hpp"
#include "autodistill/daemon/controller.hpp"
#include "autodistill/daemon/log.hpp"
#include "autodistill/daemon/store.hpp"

#ifdef AUTODISTILL_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace autodistill::daemon {

namespace asio = boost::asio;

namespace {

// The transport drops frames above this; verify() answers 16..64 MiB ones.
constexpr int64_t kTransportMaxMessage = 64ll << 20;

// One ZeroMQ socket whose ZMQ_FD is watched by the loop. ZMQ_FD is
// edge-triggered: after every recv/send, ZMQ_EVENTS must be re-checked.
struct WatchedSocket {
  WatchedSocket(asio::io_context& io, zmq::context_t& ctx, Endpoint ep)
      : endpoint(ep), socket(ctx, zmq::socket_type::router), descriptor(io) {}

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
  asio::steady_timer tick_timer{io};
  asio::signal_set signals{io};
  int lock_fd = -1;
  bool stopping = false;
  bool pump_posted = false;
  std::string bound_workers, bound_clients;

  explicit Impl(Config c, DaemonOptions o) : config(std::move(c)), options(o), ctx(1) {}

  ~Impl() {
    for (WatchedSocket* s : {workers.get(), clients.get()}) {
      // The fd belongs to ZeroMQ: never let asio close it.
      if (s && s->descriptor.is_open()) s->descriptor.release();
    }
    workers.reset();
    clients.reset();
    if (lock_fd >= 0) ::close(lock_fd);
  }

  Status bind(WatchedSocket& s, const std::string& endpoint, std::string* bound) {
    try {
      s.socket.set(zmq::sockopt::router_mandatory, 1);
      s.socket.set(zmq::sockopt::linger, 0);
      s.socket.set(zmq::sockopt::sndhwm, 100000);
      s.socket.set(zmq::sockopt::rcvhwm, 100000);
      s.socket.set(zmq::sockopt::maxmsgsize, kTransportMaxMessage);
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
    std::error_code ec;
    std::filesystem::create_directories(config.data_dir, ec);
    if (ec) {
      return Status(Code::kInternal, "cannot create " + config.data_dir + ": " + ec.message(),
                    "data_dir");
    }
    const std::string lock_path = config.data_dir + "/autodistilld.lock";
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
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
    if (Status s = controller->recover(); !s) return s;
    controller->commit();

    workers = std::make_unique<WatchedSocket>(io, ctx, Endpoint::kWorker);
    clients = std::make_unique<WatchedSocket>(io, ctx, Endpoint::kClient);
    if (Status s = bind(*workers, config.worker_endpoint, &bound_workers); !s) return s;
    if (Status s = bind(*clients, config.client_endpoint, &bound_clients); !s) return s;
    LOG_INFO("serving workers on " << bound_workers << ", clients on " << bound_clients
                                   << ", data in " << config.data_dir << " (schema v"
                                   << store->schema_version() << ")");
    return Status::ok();
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
      controller->on_message(s.endpoint, peer_id, body.data(), body.size());
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
    drain(*workers);
    drain(*clients);
    flush();
    if (workers->readable() || clients->readable()) {
      if (!pump_posted) {
        pump_posted = true;
        asio::post(io, [this] { pump(); });
      }
      return;
    }
    arm(*workers);
    arm(*clients);
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

  void schedule_tick() {
    tick_timer.expires_after(std::chrono::milliseconds(config.tick_ms));
    tick_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      controller->tick();
      pump();
      schedule_tick();
    });
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
    signals.cancel();
    boost::system::error_code ignored;
    workers->descriptor.cancel(ignored);
    clients->descriptor.cancel(ignored);
    io.stop();
  }

  Status run() {
    if (!controller) return Status(Code::kFailedPrecondition, "start() was not called");
    if (options.handle_signals) {
      signals.add(SIGTERM);
      signals.add(SIGINT);
      wait_signal();
    }
#ifdef AUTODISTILL_HAVE_SYSTEMD
    if (options.notify_systemd) sd_notify(0, "READY=1");
#endif
    schedule_tick();
    pump();
    io.run();
    LOG_INFO("stopped cleanly");
    return Status::ok();
  }

  void wait_signal() {
    signals.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      LOG_INFO("received " << (signo == SIGTERM ? "SIGTERM" : "SIGINT"));
      shutdown();
    });
  }
};

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

}  // namespace autodistill::daemon
