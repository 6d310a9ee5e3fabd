#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "autodistill/daemon/proposer.hpp"
#include "spec_builder.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::testing::distill_spec;
using autodistill::testing::external_spec;

TEST_CASE("random proposer: every factor value is drawn", "[proposer]") {
  auto spec = external_spec(100);
  auto codec = std::make_unique<wire::FactorT>();
  codec->name = "codec";
  codec->kind = wire::FactorKind::Categorical;
  codec->categories = {"zstd", "lz4"};
  spec.factors.push_back(std::move(codec));
  auto proposer = make_proposer(spec, 1);
  std::map<std::string, int> categories;
  std::set<double> widths;
  double lo = 1, hi = 0;
  for (const Params& p : proposer->propose(100)) {
    REQUIRE(p.size() == 3);
    lo = std::min(lo, p[0].number);
    hi = std::max(hi, p[0].number);
    widths.insert(p[1].number);
    categories[p[2].category]++;
  }
  CHECK(widths == std::set<double>{64, 128, 256});
  CHECK(categories["zstd"] > 20);
  CHECK(categories["lz4"] > 20);
  CHECK(lo >= 0);
  CHECK(hi <= 1);
  CHECK(hi - lo > 0.5);
}

TEST_CASE("random proposer: discrete spaces are never proposed twice", "[proposer]") {
  auto spec = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
  auto proposer = make_proposer(spec, 1);
  // 2^6 = 64 points, minus those where heads do not divide the bottleneck (none here).
  std::set<std::string> seen;
  auto first = proposer->propose(40);
  auto known = make_proposer(spec, 1);
  for (const Params& p : first) {
    seen.insert(params_to_json(p));
    known->add_known(p);  // a restarted daemon replays what it proposed
  }
  CHECK(seen.size() == 40);
  auto rest = known->propose(100);
  CHECK(rest.size() == 24);  // only the unproposed points remain
  for (const Params& p : rest) CHECK(seen.insert(params_to_json(p)).second);
  CHECK(known->propose(1).empty());
}
