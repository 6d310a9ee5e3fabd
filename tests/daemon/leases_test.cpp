// study::Leases: one leased attempt's per-rank leases (docs/protocol.md
// "Leases", "Gangs"), as pure bookkeeping with the clock passed in.
#include <catch2/catch.hpp>

#include "study/leases.hpp"

using autodistill::daemon::study::Leases;

TEST_CASE("a single trial's lease: renewed by signs of life, runs out once", "[leases]") {
  Leases none;
  CHECK(none.empty());
  CHECK_FALSE(none.gang());
  CHECK(none.rank_of("w1") == -1);
  CHECK_FALSE(none.held(0));
  CHECK_FALSE(none.expired(1'000'000).has_value());

  Leases one({"w1"}, 1'000);
  CHECK_FALSE(one.empty());
  CHECK_FALSE(one.gang());
  CHECK(one.rank_of("w1") == 0);
  CHECK(one.rank_of("w2") == -1);
  CHECK(one.expires_ms(0) == 1'000);
  CHECK_FALSE(one.expired(999).has_value());
  REQUIRE(one.expired(1'000).has_value());  // runs out at its expiry time, inclusive
  CHECK(*one.expired(1'000) == "w1");

  SECTION("a Heartbeat renews it, to an earlier time too") {
    one.renew(0, 5'000);
    CHECK_FALSE(one.expired(4'999).has_value());
    CHECK(one.expired(5'000).has_value());
    one.renew(0, 3'000);  // a shorter lease_ms after a restart: the new one holds
    CHECK(one.expires_ms(0) == 3'000);
  }
  SECTION("a Hello or recovery only stretches it") {
    one.extend_to(0, 500);
    CHECK(one.expires_ms(0) == 1'000);
    one.extend_to(0, 2'000);
    CHECK(one.expires_ms(0) == 2'000);
  }
  SECTION("ranks that do not exist are ignored") {
    one.renew(1, 9'000);
    one.extend_to(-1, 9'000);
    CHECK_FALSE(one.end(1));
    CHECK_FALSE(one.end(-1));
    CHECK(one.expires_ms(1) == 0);
    CHECK(one.expires_ms(0) == 1'000);
  }
}

TEST_CASE("a gang's leases: one per rank, the lowest expired rank ends the attempt",
          "[leases][gang]") {
  Leases gang({"a", "b", "c"}, 1'000);
  CHECK(gang.gang());
  REQUIRE(gang.all().size() == 3);
  CHECK(gang.rank_of("a") == 0);
  CHECK(gang.rank_of("b") == 1);
  CHECK(gang.rank_of("c") == 2);

  SECTION("each rank renews only its own lease") {
    gang.renew(0, 5'000);
    gang.renew(2, 5'000);
    REQUIRE(gang.expired(1'000).has_value());
    CHECK(*gang.expired(1'000) == "b");  // rank 1 was silent
    gang.renew(1, 4'000);
    CHECK_FALSE(gang.expired(3'999).has_value());
    CHECK(*gang.expired(4'000) == "b");
    CHECK(*gang.expired(5'000) == "a");  // all ran out: rank 0 first
  }
  SECTION("a rank whose Result came holds no lease: it never runs out, and is not renewed") {
    CHECK(gang.end(2));
    CHECK_FALSE(gang.end(2));  // a redelivered Result
    CHECK_FALSE(gang.held(2));
    CHECK(gang.rank_of("c") == 2);  // still the rank it ran
    gang.renew(0, 9'000);
    gang.renew(1, 9'000);
    gang.renew(2, 9'000);
    gang.extend_to(2, 9'000);
    CHECK(gang.expires_ms(2) == 1'000);
    CHECK_FALSE(gang.expired(8'999).has_value());
    CHECK(*gang.expired(9'000) == "a");
  }
  SECTION("a worker named twice holds its lowest rank") {
    Leases twice({"a", "a"}, 1'000);
    CHECK(twice.rank_of("a") == 0);
  }
}
