// Prometheus text exposition: label values are escaped (issue #11, item 8).
#include <catch2/catch.hpp>

#include "autodistill/daemon/metrics.hpp"

using namespace autodistill::daemon;

TEST_CASE("metrics: label values are escaped per the text exposition format", "[metrics]") {
  CHECK(escape_label_value("cpu-1") == "cpu-1");
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  // A value that tries to end its label and add a sample stays one label.
  const std::string line =
      metric_line("m", {{"role", "probe"}, {"tag", "x\"} 1\nevil_total 1\n#"}}, 2);
  CHECK(line == "m{role=\"probe\",tag=\"x\\\"} 1\\nevil_total 1\\n#\"} 2\n");
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(metric_line("m", {}, 0.5) == "m 0.5\n");
}

TEST_CASE("metrics: enum label values are snake_case", "[metrics]") {
  CHECK(label_name("Probe") == "probe");
  CHECK(label_name("Exploring") == "exploring");
  CHECK(label_name("LeaseExpired") == "lease_expired");
  CHECK(label_name("already_snake") == "already_snake");
  CHECK(label_name("") == "");
}
