// Hostile input the Verifier lets through.
//
// A frame of 36 KiB whose offsets point again and again at the same
// sub-objects, so that unpacking it (wire::decode unpacks every inbound
// frame into the object API) would copy them into 64 GiB. The daemon must
// refuse it with an Error, without first allocating the gigabytes, and keep
// serving. It runs under a 2 GiB
// address-space limit (prlimit), so a daemon that does try to unpack the
// frame fails fast instead of taking the machine's memory.
//
// A Submit whose Integer factor spans more values than a size_t can count
// (found by fuzz_study_spec) must be refused or served, never crash it.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "chaos_rig.hpp"
#include "hostile_frames.hpp"

using namespace autodistill;
using namespace autodistill::chaos;
using namespace std::chrono_literals;

namespace {

// The process's peak resident set size (VmHWM) in KiB; 0 when unknown.
long peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  long kib = 0;
  while (std::getline(status, line)) {
    if (std::sscanf(line.c_str(), "VmHWM: %ld kB", &kib) == 1) break;
  }
  return kib;
}

}  // namespace

TEST_CASE("chaos: a frame that unpacks to gigabytes is refused, the daemon keeps serving",
          "[chaos]") {
  ChaosRig rig(1500, "", {}, {"/usr/bin/prlimit", "--as=2147483648", "--"});
  // 4096 references to a factor with 4096 references to a 4 KiB label.
  const std::string frame = aliased_submit(4096, 4096, 4096);
  REQUIRE(frame.size() < wire::kMaxMessageBytes);
  REQUIRE(wire::verify(frame.data(), frame.size()));
  rig.client().peer().send_raw(frame);

  std::optional<wire::EnvelopeT> reply;
  testing::wait_until(
      [&] { return (reply = rig.client().peer().receive(200ms)) || !rig.daemon().running(); }, 20s);
  INFO(rig.status() << "\n" << rig.logs());
  REQUIRE(reply);
  INFO(describe(*reply));
  REQUIRE(reply->body.AsError());
  const auto code = reply->body.AsError()->code;
  CHECK((code == wire::ErrorCode::ResourceExhausted || code == wire::ErrorCode::Malformed));
  CHECK(rig.daemon().running());
  // Refused before unpacking, not after running out of memory: without the
  // address-space limit a daemon that unpacks would take the host's memory.
  const long peak_mib = peak_rss_kib(rig.daemon().process().pid()) / 1024;
  INFO("daemon peak RSS " << peak_mib << " MiB");
  CHECK(peak_mib < 256);
  // Still serving: a well-formed study is accepted.
  CHECK(rig.submit("after", queue_spec(1, 1)) > 0);
}

TEST_CASE("chaos: an Integer factor with an astronomic range is handled, the daemon keeps serving",
          "[chaos]") {
  ChaosRig rig;
  // Integer-valued and finite, so every field is well-formed; the range has
  // 1e78 points, beyond any size_t. (Found by fuzz_study_spec.)
  wire::StudySpecT spec = queue_spec(4, 2);
  auto wide = std::make_unique<wire::FactorT>();
  wide->name = "wide";
  wide->kind = wire::FactorKind::Integer;
  wide->low = 0;
  wide->high = 1e78;
  spec.factors.push_back(std::move(wide));
  for (const char* algorithm : {"bo", "random"}) {
    spec.algorithm = algorithm;
    INFO("algorithm " << algorithm);
    auto reply = rig.client().submit(std::string("wide-") + algorithm, spec, 5s);
    INFO(rig.status() << "\n" << rig.logs());
    REQUIRE(reply);
    // Refused with a clear error, or accepted: either way the daemon lives.
    if (const auto* error = reply->body.AsError()) {
      std::printf("astronomic range (%s): %s\n", algorithm, describe(*reply).c_str());
      CHECK(error->code == wire::ErrorCode::InvalidArgument);
      CHECK(error->field.rfind("spec.", 0) == 0);
    } else {
      CHECK(reply->body.AsStudyReply());
    }
    CHECK(rig.daemon().running());
  }
  CHECK(rig.submit("after", queue_spec(1, 1)) > 0);
}

TEST_CASE("chaos: enormous design spaces are refused without taking memory", "[chaos]") {
  // Issue #11, item 4: 8,000 or 100,000 integer factors took the daemon's
  // RSS to gigabytes (the initial design alone is 2n+1 points of n
  // coordinates); 200,000 ordinal values stalled the loop for 15-35 s.
  ChaosRig rig(1500, "", {}, {"/usr/bin/prlimit", "--as=2147483648", "--"});
  auto integers = [](size_t n) {
    wire::StudySpecT s = queue_spec(4, 1);
    s.factors.clear();
    for (size_t i = 0; i < n; ++i) {
      auto f = std::make_unique<wire::FactorT>();
      f->name = "i" + std::to_string(i);
      f->kind = wire::FactorKind::Integer;
      f->low = 0;
      f->high = 10;
      s.factors.push_back(std::move(f));
    }
    return s;
  };
  wire::StudySpecT values = queue_spec(4, 1);
  values.factors[0]->kind = wire::FactorKind::Ordinal;
  for (int v = 1; v <= 200000; ++v) values.factors[0]->values.push_back(v);
  std::vector<std::pair<std::string, wire::StudySpecT>> specs;
  specs.emplace_back("factors-8000", integers(8000));
  specs.emplace_back("factors-100000", integers(100000));
  specs.emplace_back("values-200000", std::move(values));
  for (auto& [key, spec] : specs) {
    INFO(key);
    const auto start = std::chrono::steady_clock::now();
    auto reply = rig.client().submit(key, std::move(spec), 30s);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    INFO(rig.status() << "\n" << rig.logs());
    REQUIRE(reply);
    INFO(describe(*reply) << " after " << ms << " ms");
    REQUIRE(reply->body.AsError());
    CHECK(reply->body.AsError()->code == wire::ErrorCode::ResourceExhausted);
    CHECK(rig.daemon().running());
    std::printf("enormous space %s: %s in %lld ms\n", key.c_str(), describe(*reply).c_str(),
                static_cast<long long>(ms));
  }
  const long peak_mib = peak_rss_kib(rig.daemon().process().pid()) / 1024;
  INFO("daemon peak RSS " << peak_mib << " MiB");
  CHECK(peak_mib < 256);
  CHECK(rig.submit("after", queue_spec(1, 1)) > 0);
}
