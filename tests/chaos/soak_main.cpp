// chaos_soak: the daemon-kill scenario of chaos test (a), long: twenty and
// more SIGKILLs at random points, then a summary. scripts/soak.sh builds and
// runs it; docs/RELIABILITY.md records its figures.
//
// usage: chaos_soak [--kills N] [--seed S] [--min-up-ms MS] [--max-up-ms MS]
//                   [--study-trials N] [--result-delay-ms MS]
//                   [--main-result-delay-ms MS] [--work-dir DIR]
//                   [--daemon PATH] [--worker PATH]
// Exit status: 0 when every claim held, 1 on a violation, 2 on bad usage.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "kill_scenario.hpp"

using namespace autodistill::chaos;

int main(int argc, char** argv) {
  KillScenarioOptions options;
  options.daemon_binary = AUTODISTILLD_PATH;
  options.worker_binary = AUTODISTILL_TEST_WORKER_PATH;
  options.kills = 25;
  std::string work_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "chaos_soak: %s needs a value\n", flag.c_str());
      return 2;
    }
    const char* value = argv[++i];
    if (flag == "--kills") {
      options.kills = std::atoi(value);
    } else if (flag == "--seed") {
      options.seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--min-up-ms") {
      options.min_up_ms = std::atoi(value);
    } else if (flag == "--max-up-ms") {
      options.max_up_ms = std::atoi(value);
    } else if (flag == "--study-trials") {
      options.study_trials = static_cast<uint32_t>(std::atoi(value));
    } else if (flag == "--result-delay-ms") {
      options.result_delay_ms = std::atoi(value);
    } else if (flag == "--main-result-delay-ms") {
      options.main_result_delay_ms = std::atoi(value);
    } else if (flag == "--work-dir") {
      work_dir = value;
    } else if (flag == "--daemon") {
      options.daemon_binary = value;
    } else if (flag == "--worker") {
      options.worker_binary = value;
    } else {
      std::fprintf(stderr, "chaos_soak: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (options.kills < 1 || options.min_up_ms < 0 || options.max_up_ms < options.min_up_ms ||
      options.study_trials < 1) {
    std::fprintf(stderr,
                 "chaos_soak: need --kills >= 1, 0 <= --min-up-ms <= --max-up-ms, "
                 "--study-trials >= 1\n");
    return 2;
  }
  const bool own_dir = work_dir.empty();
  if (own_dir) {
    work_dir = (std::filesystem::temp_directory_path() /
                ("autodistill-soak-" + std::to_string(::getpid())))
                   .string();
  }
  std::filesystem::create_directories(work_dir);
  options.work_dir = work_dir;
  options.progress = [](const std::string& line) {
    std::printf("  %s\n", line.c_str());
    std::fflush(stdout);
  };
  std::printf("chaos soak: %d SIGKILLs of autodistilld, up %d..%d ms between kills, data in %s\n",
              options.kills, options.min_up_ms, options.max_up_ms, work_dir.c_str());
  std::fflush(stdout);
  const KillReport report = run_kill_scenario(options);
  std::printf("%s", summarize(report).c_str());
  const bool ok = report.violations.empty() && report.kills == options.kills;
  std::printf("%s\n", ok ? "PASS: nothing acknowledged was lost, every study completed, "
                           "every trial counted once"
                         : "FAIL (the data directory and logs are kept)");
  if (ok && own_dir) std::filesystem::remove_all(work_dir);
  return ok ? 0 : 1;
}
