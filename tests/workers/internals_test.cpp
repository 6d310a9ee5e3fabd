// The pull loop's internal pieces with contracts of their own: the reconnect
// backoff and the outbox.

#include <catch2/catch.hpp>

#include "backoff.hpp"
#include "outbox.hpp"

namespace {

using autodistill::worker::Backoff;
using autodistill::worker::Outbox;
using autodistill::worker::TrialKey;
using std::chrono::milliseconds;

}  // namespace

TEST_CASE("Backoff doubles from min to max with jitter between half and all of the ceiling",
          "[workers][backoff]") {
  Backoff backoff(milliseconds(100), milliseconds(5000), 42);
  const int64_t ceilings[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
  for (int64_t ceiling : ceilings) {
    milliseconds d = backoff.next();
    CHECK(d.count() >= ceiling / 2);
    CHECK(d.count() <= ceiling);
  }
  backoff.reset();
  milliseconds d = backoff.next();
  CHECK(d.count() >= 50);
  CHECK(d.count() <= 100);
}

TEST_CASE("Outbox re-sends what is due and forgets what is acknowledged", "[workers][outbox]") {
  using Clock = Outbox::Clock;
  Outbox outbox;
  const Clock::time_point t0 = Clock::now();
  outbox.put(TrialKey{1, 1}, "r1", 11, t0);
  outbox.put(TrialKey{2, 1}, "r2", 12, Clock::time_point{});  // never sent
  CHECK(outbox.keys() == std::vector<TrialKey>{{1, 1}, {2, 1}});

  auto due = outbox.take_due(t0, milliseconds(300));
  CHECK(due == std::vector<std::string>{"r2"});
  CHECK(outbox.next_due(milliseconds(300)) == t0 + milliseconds(300));
  CHECK(outbox.take_due(t0 + milliseconds(299), milliseconds(300)).empty());
  CHECK(outbox.take_due(t0 + milliseconds(300), milliseconds(300)).size() == 2);
  // Period zero (after a Welcome): everything at once.
  CHECK(outbox.take_due(t0 + milliseconds(301), Clock::duration::zero()).size() == 2);

  CHECK(outbox.erase(TrialKey{1, 1}));
  CHECK_FALSE(outbox.erase(TrialKey{1, 1}));
  CHECK_FALSE(outbox.contains(TrialKey{1, 1}));
  CHECK(outbox.contains(TrialKey{2, 1}));
  // A report the daemon refused, found by its request id.
  CHECK_FALSE(outbox.erase_request(11));
  CHECK(outbox.erase_request(12) == TrialKey{2, 1});
  CHECK(outbox.empty());
  CHECK(outbox.next_due(milliseconds(300)) == Clock::time_point::max());
}
