// The worker session registry (daemon/src/protocol/session_registry.hpp):
// sessions by routing id, the worker_id index kept in step, penalties.
#include "protocol/session_registry.hpp"

#include <catch2/catch.hpp>

using autodistill::daemon::protocol::SessionRegistry;
using autodistill::daemon::protocol::WorkerSession;

namespace {

std::unique_ptr<WorkerSession> session(const std::string& peer, const std::string& id) {
  auto s = std::make_unique<WorkerSession>();
  s->peer = peer;
  s->worker_id = id;
  return s;
}

// Both indices agree: every session is found by its worker_id, and the
// worker_id index names no other session.
void require_consistent(const SessionRegistry& r, const std::vector<std::string>& ids) {
  size_t indexed = 0;
  for (const auto& id : ids) {
    if (WorkerSession* s = r.session_of(id)) {
      ++indexed;
      CHECK(s->worker_id == id);
      CHECK(r.find(s->peer) == s);
      CHECK(r.connected(id));
    } else {
      CHECK_FALSE(r.connected(id));
    }
  }
  CHECK(indexed == r.size());
  for (const auto& [peer, s] : r.sessions()) CHECK(r.session_of(s->worker_id) == s.get());
}

}  // namespace

TEST_CASE("a new peer for the same worker_id replaces the session", "[sessions]") {
  SessionRegistry r;
  r.start(session("p1", "w"));
  r.session_of("w")->leased.insert(7);
  WorkerSession& fresh = r.start(session("p2", "w"));
  CHECK(r.size() == 1);
  CHECK(r.find("p1") == nullptr);
  CHECK(r.find("p2") == &fresh);
  CHECK(r.session_of("w") == &fresh);
  CHECK(fresh.leased.empty());  // the registry keeps no leases across sessions
  require_consistent(r, {"w"});
}

TEST_CASE("a peer that says Hello under another worker_id ends its old session", "[sessions]") {
  SessionRegistry r;
  r.start(session("p", "a"));
  r.start(session("p", "b"));
  CHECK(r.size() == 1);
  CHECK(r.session_of("a") == nullptr);
  CHECK(r.session_of("b") == r.find("p"));
  require_consistent(r, {"a", "b"});
}

TEST_CASE("end keeps both indices in step", "[sessions]") {
  SessionRegistry r;
  r.start(session("p1", "a"));
  r.start(session("p2", "b"));
  r.start(session("p3", "a"));  // a moved to p3
  r.end("p1");                  // already replaced: nothing
  CHECK(r.session_of("a") == r.find("p3"));
  r.end("p3");
  CHECK(r.session_of("a") == nullptr);
  CHECK(r.session_of("b") == r.find("p2"));
  r.end("nobody");
  require_consistent(r, {"a", "b"});
  r.clear();
  CHECK(r.size() == 0);
  require_consistent(r, {"a", "b"});
}

TEST_CASE("quarantine after two expiries in a row, doubling to the maximum", "[sessions]") {
  SessionRegistry r;
  const SessionRegistry::Quarantine q{1000, 3000};
  uint32_t n = 0;
  CHECK(r.penalize("w", 100, q, &n) == 0);  // one expiry: bad luck, no quarantine
  CHECK(n == 1);
  CHECK_FALSE(r.quarantined("w", 100));
  CHECK(r.penalize("w", 200, q, &n) == 1000);
  CHECK(n == 2);
  CHECK(r.quarantined("w", 200));
  CHECK(r.quarantined("w", 1199));
  CHECK_FALSE(r.quarantined("w", 1200));
  CHECK(r.penalize("w", 1300, q) == 2000);
  CHECK(r.penalize("w", 1400, q) == 3000);  // capped
  CHECK(r.penalize("w", 1500, q) == 3000);
  CHECK(r.quarantined("w", 4499));
  CHECK_FALSE(r.quarantined("other", 1500));
  // Quarantines outlive sessions: they are by worker_id.
  r.start(session("p", "w"));
  r.end("p");
  CHECK(r.quarantined("w", 4000));
}

TEST_CASE("a result resets the run of expiries, and stale penalties are forgotten", "[sessions]") {
  SessionRegistry r;
  const SessionRegistry::Quarantine q{1000, 3000};
  r.penalize("w", 100, q);
  r.delivered("w");
  CHECK(r.penalize("w", 200, q) == 0);  // a first expiry again
  CHECK_FALSE(r.quarantined("w", 200));
  REQUIRE(r.penalty("w") != nullptr);
  r.forget_stale_penalties(3200, q);  // 200 + 3000 is not yet past
  CHECK(r.penalty("w") != nullptr);
  r.forget_stale_penalties(3201, q);
  CHECK(r.penalty("w") == nullptr);
  r.delivered("nobody");  // nothing to reset
  CHECK(r.penalty("nobody") == nullptr);
}

TEST_CASE("a quarantine of 0 ms disables it", "[sessions]") {
  SessionRegistry r;
  const SessionRegistry::Quarantine q{0, 0};
  r.penalize("w", 1, q);
  CHECK(r.penalize("w", 2, q) == 0);
  CHECK_FALSE(r.quarantined("w", 2));
}
