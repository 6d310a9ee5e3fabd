#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "../daemon/temp_dir.hpp"
#include "autodistill/wire/curve.hpp"

using namespace autodistill;

TEST_CASE("curve: key files round-trip and secret files must be private", "[curve]") {
  testing::TempDir dir;
  // Keys with '#' in them must survive (Z85 uses it).
  wire::CurveKeyPair keys{"#" + std::string(39, 'a'), "#" + std::string(39, 'b')};
  REQUIRE(wire::write_curve_key_files(dir.path(), "k", keys));
  auto pub = wire::read_curve_key_file(dir.path() + "/k.key", false);
  REQUIRE(pub);
  CHECK(pub->public_key == keys.public_key);
  CHECK(pub->secret_key.empty());
  auto sec = wire::read_curve_key_file(dir.path() + "/k.secret", true);
  REQUIRE(sec);
  CHECK(sec->secret_key == keys.secret_key);
  CHECK(wire::write_curve_key_files(dir.path(), "k", keys).code() == Code::kAlreadyExists);
  ::chmod((dir.path() + "/k.secret").c_str(), 0640);
  auto loose = wire::read_curve_key_file(dir.path() + "/k.secret", true);
  CHECK(loose.status().code() == Code::kFailedPrecondition);
  ::chmod((dir.path() + "/k.key").c_str(), 0600);  // private, but holds no secret
  CHECK(wire::read_curve_key_file(dir.path() + "/k.key", true).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("curve: allow-lists parse keys, admin and comments", "[curve]") {
  testing::TempDir dir;
  const std::string a = "#" + std::string(39, 'x'), b(40, 'y');
  std::ofstream(dir.path() + "/allow") << "# comment line\n\n"
                                       << a << " admin # release\n"
                                       << b << "\n";
  auto list = wire::read_allow_list(dir.path() + "/allow");
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK(list->at(0).public_key == a);
  CHECK(list->at(0).admin);
  CHECK(list->at(0).comment == "release");
  CHECK_FALSE(list->at(1).admin);
  std::ofstream(dir.path() + "/bad") << b << " root\n";
  auto bad = wire::read_allow_list(dir.path() + "/bad");
  CHECK(bad.status().field() == dir.path() + "/bad:1");
  std::ofstream(dir.path() + "/short") << "abc\n";
  CHECK(wire::read_allow_list(dir.path() + "/short").status().code() == Code::kInvalidArgument);
}

TEST_CASE("curve: generated key pairs are valid Z85", "[curve]") {
  auto keys = wire::generate_curve_keypair();
  REQUIRE(keys);
  CHECK(wire::is_z85_key(keys->public_key));
  CHECK(wire::is_z85_key(keys->secret_key));
  CHECK(keys->public_key != keys->secret_key);
}
