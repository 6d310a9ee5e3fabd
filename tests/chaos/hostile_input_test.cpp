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
