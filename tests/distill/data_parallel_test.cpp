// The gang (data_parallel.hpp) with two ranks on threads of this process,
// over loopback: rendezvous, broadcast, agreement checks, and the bucketed
// gradient sum (several buckets, launched in order, a parameter backward
// never reaches, a second step), then a peer that leaves.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "autodistill/distill/data_parallel.hpp"

using autodistill::Code;
using autodistill::Status;
using namespace autodistill::distill;
using namespace std::chrono_literals;

namespace {

GangOptions options(uint32_t rank, const std::string& prefix,
                    std::chrono::milliseconds timeout = 10s) {
  GangOptions o;
  o.rank = rank;
  o.world_size = 2;
  o.host = "127.0.0.1";
  o.timeout = timeout;
  o.key_prefix = prefix;
  return o;
}

// Runs `body(rank, gang)` on two threads with a formed gang each.
template <class Body>
void with_gang(const std::string& prefix, Body body, std::chrono::milliseconds timeout = 10s) {
  std::promise<std::string> address;
  auto rank0 = std::async(std::launch::async, [&] {
    auto gang = Gang::host(options(0, prefix, timeout));
    REQUIRE(gang);
    address.set_value((*gang)->address());
    REQUIRE((*gang)->form());
    body(0u, **gang);
  });
  auto rank1 = std::async(std::launch::async, [&] {
    auto gang = Gang::join(options(1, prefix, timeout), address.get_future().get());
    REQUIRE(gang);
    REQUIRE((*gang)->form());
    body(1u, **gang);
  });
  rank0.get();
  rank1.get();
}

}  // namespace

TEST_CASE("a gang of two sums gradients bucket by bucket and agrees on its state",
          "[data_parallel]") {
  at::set_num_threads(1);
  std::mutex mu;  // Catch's assertions are not thread-safe
  with_gang("sum", [&](uint32_t rank, Gang& gang) {
    const double r = rank;
    // p2 takes no part in the loss: backward never reaches it.
    at::Tensor p0 = at::arange(12, at::kFloat).reshape({3, 4}).requires_grad_(true);
    at::Tensor p1 = at::full({5}, 0.5f).requires_grad_(true);
    at::Tensor p2 = at::ones({7, 2}).requires_grad_(true);
    at::Tensor p3 = at::linspace(-1, 1, 100).requires_grad_(true);
    auto sync = gang.gradient_sync(64);  // 16 floats: p3 and p0 each need a bucket of their own
    REQUIRE(sync->begin_phase({p0, p1, p2, p3}));
    for (int step = 1; step <= 2; ++step) {
      for (at::Tensor* p : {&p0, &p1, &p2, &p3}) p->mutable_grad() = at::Tensor();
      // loss_r = sum((p0 (r+1))^2) + step * r * sum(p1) + (r+2) * sum(p3)
      at::Tensor loss = (p0 * (r + 1)).pow(2).sum() + step * r * p1.sum() + (r + 2) * p3.sum();
      const double local = loss.item<double>();
      loss.backward();
      auto global = sync->finish_step(local);
      std::lock_guard lock(mu);
      INFO("rank " << rank << " step " << step);
      REQUIRE(global);
      // d/dp0 = 2 (r+1)^2 p0, summed over r = 0, 1: 2 (1 + 4) p0.
      CHECK(at::allclose(p0.grad(), 10 * p0.detach()));
      CHECK(at::allclose(p1.grad(), at::full({5}, static_cast<float>(step))));
      CHECK_FALSE(p2.grad().defined());
      CHECK(at::allclose(p3.grad(), at::full({100}, 5.0f)));
      const double sum0 = (p0.detach().pow(2).sum()).item<double>();
      const double expected = sum0 * (1 + 4) + step * 2.5 + 5 * p3.detach().sum().item<double>();
      CHECK(*global == Approx(expected).epsilon(1e-6));
    }
    sync->end_phase();

    // Broadcast: rank 0's values everywhere.
    at::Tensor a = at::full({4}, static_cast<float>(rank + 1));
    at::Tensor b = at::full({2, 2}, static_cast<float>(10 * (rank + 1)));
    Status sent = gang.broadcast({a, b});
    std::lock_guard lock(mu);
    REQUIRE(sent);
    CHECK(at::equal(a, at::full({4}, 1.0f)));
    CHECK(at::equal(b, at::full({2, 2}, 10.0f)));
  });

  with_gang("check", [&](uint32_t rank, Gang& gang) {
    Status same = gang.check_same(0xfeedface12345678ull, "a value");
    Status differ = gang.check_same(rank, "the rank");
    std::lock_guard lock(mu);
    CHECK(same);
    CHECK(differ.code() == Code::kTrialError);
    CHECK_THAT(differ.message(), Catch::Contains("disagree on the rank"));
  });
}

TEST_CASE("a gang whose peer is gone fails its collectives as unavailable", "[data_parallel]") {
  // The collective timeout is long (60 s) so that only a peer noticed gone
  // (a closed connection, milliseconds) ends the barrier well before it; a
  // loaded machine gets 30 s of slack, a barrier that waits for the timeout
  // (or hangs) still fails.
  constexpr auto kTimeout = 60s;
  std::mutex mu;
  std::promise<void> left;
  with_gang(
      "gone",
      [&](uint32_t rank, Gang& gang) {
        if (rank == 1) {
          left.set_value();
          return;  // leaves: its connections close when the gang is destroyed
        }
        left.get_future().wait();
        std::this_thread::sleep_for(200ms);
        const auto start = std::chrono::steady_clock::now();
        Status s = gang.barrier();
        const double waited =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::lock_guard lock(mu);
        CHECK(s.code() == Code::kUnavailable);
        CHECK_THAT(s.message(), Catch::Contains("gang is lost"));
        CHECK(waited < 30.0);  // noticed as gone, not waited out (the 60 s timeout)
      },
      kTimeout);
}

TEST_CASE("gang options and addresses are checked", "[data_parallel]") {
  CHECK(Gang::host(options(1, "x")).status().field() == "rank");
  GangOptions one = options(0, "x");
  one.world_size = 1;
  CHECK(Gang::host(one).status().field() == "world_size");
  CHECK(Gang::join(options(0, "x"), "127.0.0.1:1").status().field() == "rank");
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:x", "h:70000"}) {
    INFO(bad);
    auto joined = Gang::join(options(1, "x"), bad);
    CHECK(joined.status().code() == Code::kInvalidArgument);
    CHECK(joined.status().field() == "gang.address");
  }
  auto host = Gang::host(options(0, "x"));
  REQUIRE(host);
  CHECK((*host)->address().rfind("127.0.0.1:", 0) == 0);
  CHECK((*host)->barrier().code() == Code::kFailedPrecondition);  // not formed
}
