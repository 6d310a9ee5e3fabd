#include <catch2/catch.hpp>

#include "autodistill/landscape.hpp"

using namespace autodistill;

namespace {
TrialInfo probe(uint64_t id, double hidden, double latency, const std::string& fp) {
  TrialInfo t;
  t.trial_id = id;
  t.candidate = static_cast<uint32_t>(id);
  t.kind = TrialKind::kProbe;
  t.state = TrialState::kCompleted;
  t.params = {{"hidden_size", hidden, ""}, {"act", 0, "ge,lu"}};
  t.objectives = {{"latency_ms", latency}};
  t.metrics = {{"p90_ms", latency * 1.1}};
  t.hardware_fingerprint = fp;
  return t;
}
}  // namespace

TEST_CASE("landscape: completed probes become CSV rows", "[landscape]") {
  std::vector<TrialInfo> trials = {probe(1, 128, 2.5, "fp"), probe(2, 256, 4, "fp")};
  TrialInfo flash = probe(3, 512, 9, "fp");
  flash.kind = TrialKind::kFlash;
  TrialInfo running = probe(4, 512, 9, "fp");
  running.state = TrialState::kLeased;
  trials.push_back(flash);
  trials.push_back(running);
  trials[1].metrics.clear();  // a probe without p90 leaves that cell empty
  const std::string csv = landscape_csv(trials);
  CHECK(csv ==
        "trial_id,candidate,hidden_size,act,latency_ms,p90_ms,hardware_fingerprint\n"
        "1,1,128,\"ge,lu\",2.5,2.75,fp\n"
        "2,2,256,\"ge,lu\",4,,fp\n");
}

TEST_CASE("landscape: a study without probes gives only the header", "[landscape]") {
  CHECK(landscape_csv({}) == "trial_id,candidate,hardware_fingerprint\n");
}
