// A Result's validity (daemon/src/study/result_check.hpp): each refusal
// names its field, the first refusal wins, and an accepted Result's values
// are the finite ones, without a Store or a blob store.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "spec_builder.hpp"
#include "study/result_check.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using namespace autodistill::testing;
using autodistill::wire::TrialKind;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

study::ResultTrialView probe_of(const wire::StudySpecT* spec) {
  return {TrialKind::Probe, {"latency_ms"}, spec};
}

study::AnnouncedArtifact artifact(const std::string& name, uint64_t announced,
                                  std::optional<uint64_t> stored) {
  return {name, "sha-" + name, announced, stored, "/blobs/sha-" + name};
}

Status refusal(const study::ResultTrialView& t, const study::ResultFields& f) {
  auto r = study::check_result(t, f);
  REQUIRE_FALSE(r);
  CHECK(r.status().code() == Code::kTrialError);
  return r.status();
}

}  // namespace

TEST_CASE("check_result: an objective the trial must report is missing", "[study][result_check]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  Status s = refusal(probe_of(&spec), {{{"accuracy", 0.9}}, {}, {}});
  CHECK(s.field() == "objectives");
  CHECK(s.message() == "result lacks objective \"latency_ms\"");
}

TEST_CASE("check_result: a required objective is NaN or infinite", "[study][result_check]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  for (double bad : {kNaN, kInf, -kInf}) {
    Status s = refusal(probe_of(&spec), {{{"latency_ms", bad}}, {}, {}});
    CHECK(s.field() == "objectives");
    CHECK(s.message() == "objective \"latency_ms\" is not finite");
  }
}

TEST_CASE("check_result: a latency <= 0 under the log transform is refused by field",
          "[study][result_check]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  Status s = refusal(probe_of(&spec), {{{"latency_ms", 0.0}}, {}, {}});
  CHECK(s.field() == "objectives.latency_ms");
  CHECK(s.message().find("its transform is log") != std::string::npos);
}

TEST_CASE("check_result: a non-finite extra objective is refused by the measurement check",
          "[study][result_check]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  Status s = refusal(probe_of(&spec), {{{"latency_ms", 2.0}, {"extra", kNaN}}, {}, {}});
  CHECK(s.field() == "objectives.extra");
}

TEST_CASE("check_result: without its study's spec only the required objectives are checked",
          "[study][result_check]") {
  auto r = study::check_result(probe_of(nullptr), {{{"latency_ms", 0.0}, {"extra", kNaN}}, {}, {}});
  REQUIRE(r);
  CHECK(r.value().objectives == Values{{"latency_ms", 0.0}});
}

TEST_CASE("check_result: an artifact whose blob was not uploaded", "[study][result_check]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  const study::ResultTrialView t{TrialKind::Regular, {"accuracy"}, &spec};
  Status s =
      refusal(t, {{{"accuracy", 0.8}}, {}, {artifact("model.safetensors", 10, std::nullopt)}});
  CHECK(s.field() == "artifacts.model.safetensors");
  CHECK(s.message() ==
        "artifact \"model.safetensors\" names blob sha-model.safetensors that was not uploaded");
}

TEST_CASE("check_result: an artifact announced with another size than its blob's",
          "[study][result_check]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  const study::ResultTrialView t{TrialKind::Regular, {"accuracy"}, &spec};
  Status s = refusal(t, {{{"accuracy", 0.8}},
                         {},
                         {artifact("manifest.json", 5, 5), artifact("model.safetensors", 10, 12)}});
  CHECK(s.field() == "artifacts.model.safetensors");
  CHECK(s.message() == "artifact \"model.safetensors\" is announced as 10 bytes; its blob has 12");
}

TEST_CASE("check_result: the objectives are refused before the artifacts",
          "[study][result_check]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  const study::ResultTrialView t{TrialKind::Regular, {"accuracy"}, &spec};
  Status s = refusal(t, {{}, {}, {artifact("model.safetensors", 10, std::nullopt)}});
  CHECK(s.field() == "objectives");
}

TEST_CASE("check_result: an accepted Result keeps its finite values", "[study][result_check]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  auto r = study::check_result(probe_of(&spec), {{{"latency_ms", 2.5}},
                                                 {{"latency_ci_low", 2.0}, {"broken", kNaN}},
                                                 {artifact("trace.json", 3, 3)}});
  REQUIRE(r);
  CHECK(r.value().objectives == Values{{"latency_ms", 2.5}});
  CHECK(r.value().metrics == Values{{"latency_ci_low", 2.0}});
  // Not a Regular trial: no student to check.
  CHECK(r.value().student_files.empty());
}

TEST_CASE("check_result: a Regular trial's accepted artifacts are its student's files",
          "[study][result_check]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  const study::ResultTrialView t{TrialKind::Regular, {"accuracy"}, &spec};
  auto r = study::check_result(
      t, {{{"accuracy", 0.8}},
          {},
          {artifact("model.safetensors", 10, 10), artifact("manifest.json", 5, 5)}});
  REQUIRE(r);
  REQUIRE(r.value().student_files.size() == 2);
  const DeliveredFile& f = r.value().student_files[0];
  CHECK(f.name == "model.safetensors");
  CHECK(f.digest == "sha-model.safetensors");
  CHECK(f.announced_size == 10);
  CHECK(f.path == "/blobs/sha-model.safetensors");
  CHECK(r.value().student_files[1].name == "manifest.json");
}
