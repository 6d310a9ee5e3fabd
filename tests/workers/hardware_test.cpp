// describe_host() and hardware_fingerprint() on fixture /proc files.

#include <fstream>

#include <catch2/catch.hpp>

#include "autodistill/worker/hardware.hpp"
#include "worker_test_support.hpp"

namespace {

using autodistill::test::TempDir;
using autodistill::worker::describe_host;
using autodistill::worker::hardware_fingerprint;

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("describe_host reads the CPU model and physical cores and memory",
          "[workers][hardware]") {
  TempDir dir;
  // Two physical cores, one of them with a second hardware thread.
  write(dir.path() / "cpuinfo",
        "processor\t: 0\nmodel name\t: Test CPU @ 2.0GHz\nphysical id\t: 0\ncore id\t\t: 0\n\n"
        "processor\t: 1\nmodel name\t: Test CPU @ 2.0GHz\nphysical id\t: 0\ncore id\t\t: 1\n\n"
        "processor\t: 2\nmodel name\t: Test CPU @ 2.0GHz\nphysical id\t: 0\ncore id\t\t: 0\n");
  write(dir.path() / "meminfo", "MemTotal:        1024 kB\nMemFree:          512 kB\n");
  auto hw =
      describe_host("a100", (dir.path() / "cpuinfo").string(), (dir.path() / "meminfo").string());
  CHECK(hw.tag == "a100");
  CHECK(hw.cpu_model == "Test CPU @ 2.0GHz");
  CHECK(hw.cores == 2);
  CHECK(hw.threads >= 1);
  CHECK(hw.memory_bytes == 1024u * 1024u);
  CHECK(hw.fingerprint == hardware_fingerprint(hw));
  CHECK(hw.fingerprint.size() == 64);

  // The tag routes work; it does not describe the machine.
  auto other_tag =
      describe_host("cpu", (dir.path() / "cpuinfo").string(), (dir.path() / "meminfo").string());
  CHECK(other_tag.fingerprint == hw.fingerprint);
  auto changed = hw;
  changed.accelerator = "NVIDIA H100";
  CHECK(hardware_fingerprint(changed) != hw.fingerprint);
}

TEST_CASE("describe_host falls back when /proc files are missing", "[workers][hardware]") {
  auto hw = describe_host("cpu", "/nonexistent/cpuinfo", "/nonexistent/meminfo");
  CHECK(hw.cpu_model.empty());
  CHECK(hw.cores == hw.threads);
  CHECK(hw.threads >= 1);
  CHECK(hw.memory_bytes > 0);  // from sysconf
}
