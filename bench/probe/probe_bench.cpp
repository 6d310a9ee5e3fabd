// bench/probe: how repeatable and how fast the latency probe is, and how
// well the naive proxies (parameters, FLOPs) rank the latencies it measures.
//
// For A architectures of the paper's Table 1 space (hidden {128, 256, 384,
// 512}, bottleneck {64, 96, 128, 160}, heads {1, 2, 4, 8}, intermediate
// {384, 512, 640}, stacked FFNs {2, 4, 6}; "246" in the paper is read as
// 256), scaled to run on a CPU in seconds (K blocks instead of MobileBERT's
// 24, batch 1, S tokens), it probes each architecture R times with the
// real LibTorch student and the probe worker's default options, and reports
// per architecture: the mean of the R reported medians, their coefficient of
// variation (CV = sample std / mean), the probe's wall time (build, warm-up,
// timed runs, re-probes), timed runs, how many probes converged, the share
// of timed runs set aside as preempted, and the CV of the fastest kept run
// (what the host's noise floor allows). Then the Spearman rank correlation of
// the measured latency with the parameter count and the FLOPs, and the load
// average at the start and the end (how busy the host was).
//
// Baseline, measured in the same run: a naive probe (10 timed runs, no
// warm-up, no trimming, their mean), repeated R times too; the table shows
// its CV next to the probe's.
//
// The first four architectures are Table 2's Model_512_128_1_640_2,
// 512_128_1_640_4, 512_128_4_512_2 and 512_128_2_640_2; the others are drawn
// from the space with a fixed seed.
//
// usage: probe_bench [--archs 20] [--repeats 5] [--blocks 2] [--seq-len 128]
//                    [--threads 1] [--cpus LIST] [--lock-file PATH]

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "../common/rank_correlation.hpp"
#include "autodistill/flag_parser.hpp"
#include "autodistill/probe/cpu_set.hpp"
#include "autodistill/probe/latency_stats.hpp"
#include "autodistill/probe/prober.hpp"
#include "autodistill/probe/student_model.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::probe;

struct Config {
  int archs = 20;
  int repeats = 5;
  int64_t blocks = 2;
  int64_t seq_len = 128;
  int threads = 1;
  std::string cpus;
  std::string lock_file = "/tmp/autodistill-probe.lock";
};

struct Row {
  std::string name;
  int64_t params = 0;
  double flops = 0;
  std::vector<double> medians;  // one per repeat
  std::vector<double> wall_ms;
  std::vector<double> runs;
  std::vector<double> mins;  // the fastest kept run per repeat
  int preempted = 0;
  int timed = 0;
  int converged = 0;
  std::vector<double> naive;  // the baseline's mean per repeat
};

double cv(const std::vector<double>& x) {
  return standard_deviation(x) / mean(x);
}

std::vector<StudentArch> table1_architectures(const Config& c) {
  using Point = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>;  // H, B, A, I, F
  std::vector<Point> points = {
      {512, 128, 1, 640, 2}, {512, 128, 1, 640, 4}, {512, 128, 4, 512, 2}, {512, 128, 2, 640, 2}};
  const int64_t hidden[] = {128, 256, 384, 512}, bottleneck[] = {64, 96, 128, 160},
                heads[] = {1, 2, 4, 8}, inter[] = {384, 512, 640}, ffn[] = {2, 4, 6};
  std::mt19937 rng(2022);
  std::set<Point> seen(points.begin(), points.end());
  while (points.size() < static_cast<size_t>(c.archs)) {
    Point p{hidden[rng() % 4], bottleneck[rng() % 4], heads[rng() % 4], inter[rng() % 3],
            ffn[rng() % 3]};
    if (seen.insert(p).second) points.push_back(p);
  }
  points.resize(static_cast<size_t>(c.archs));
  std::vector<StudentArch> out;
  for (const auto& [h, b, a, i, f] : points) {
    StudentArch arch;
    arch.num_blocks = c.blocks;
    arch.hidden_size = h;
    arch.bottleneck_size = b;
    arch.num_heads = a;
    arch.intermediate_size = i;
    arch.num_stacked_ffn = f;
    out.push_back(arch);
  }
  return out;
}

// The baseline: 10 timed runs straight after the build, no warm-up, no
// trimming, no stop rule; their mean.
Result<double> naive_probe(const ProbeRequest& request) {
  auto model = student_model_factory()(request);
  if (!model) return model.status();
  TimingOptions naive;
  naive.warmup_runs = 0;
  naive.warmup_time = std::chrono::milliseconds(0);
  naive.min_runs = naive.max_runs = 10;
  naive.fence_k = 1e12;
  naive.max_reprobes = 0;
  ProbeModel& m = *model.value();
  auto measured = measure_latency([&] { return m.run_once(1); }, naive);
  if (!measured) return measured.status();
  return measured->summary.mean;
}

// The 1, 5 and 15 minute load averages: how busy the host was.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  in >> one >> five >> fifteen;
  char text[64];
  std::snprintf(text, sizeof text, "%.2f %.2f %.2f", one, five, fifteen);
  return text;
}

Status parse_flags(int argc, char** argv, Config& c) {
  autodistill::FlagParser parser("probe_bench: repeatability and speed of the latency probe");
  auto count = [&parser](const char* name, auto& out, int64_t min, int64_t max, const char* help) {
    parser.add_int(name, help, &out, min, max);
  };
  count("archs", c.archs, 2, 576, "Architectures (default 20).");
  count("repeats", c.repeats, 2, 100, "Probes per architecture (default 5).");
  count("blocks", c.blocks, 1, 24, "Blocks K of every student (default 2).");
  count("seq-len", c.seq_len, 1, 512, "Tokens per sequence (default 128).");
  count("threads", c.threads, 1, 256, "Intra-op threads (default 1).");
  parser.add("cpus", "LIST", "Pin the benchmark to these CPUs (default: no pinning).",
             [&c](const std::string& v) {
               c.cpus = v;
               return parse_cpu_list(v).status();
             });
  parser.add_text("lock-file", "PATH", "The host probe lock (default /tmp/autodistill-probe.lock).",
                  &c.lock_file);
  Status s = parser.parse(argc, argv);
  if (s) {
    if (auto status = parser.answer_help_or_version("probe_bench")) std::exit(*status);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  if (Status s = parse_flags(argc, argv, c); !s) return autodistill::usage_error("probe_bench", s);
  std::vector<int> cpus = allowed_cpus();
  if (!c.cpus.empty()) {
    cpus = parse_cpu_list(c.cpus).value();
    if (Status s = pin_process_to_cpus(cpus); !s) {
      std::fprintf(stderr, "probe_bench: %s\n", s.message().c_str());
      return 2;
    }
  }
  ProbeOptions options;  // the probe worker's defaults
  options.lock_path = c.lock_file;
  options.max_threads = static_cast<int>(cpus.size());
  std::printf(
      "probe_bench: %d architectures x %d probes, %lld blocks, batch 1, seq %lld, "
      "%d thread(s), CPUs %s, precision %.0f%%, max %lld ms timed per attempt, "
      "%lld ms per probe\n\n",
      c.archs, c.repeats, static_cast<long long>(c.blocks), static_cast<long long>(c.seq_len),
      c.threads, format_cpu_list(cpus).c_str(), options.timing.precision * 100,
      static_cast<long long>(options.timing.max_time.count()),
      static_cast<long long>(options.timing.max_total_time.count()));

  std::printf("load average at start: %s\n", load_average().c_str());
  std::vector<Row> rows;
  for (const StudentArch& arch : table1_architectures(c)) {
    ProbeRequest request;
    request.arch = arch;
    request.serving.seq_len = c.seq_len;
    request.serving.threads = c.threads;
    Row row;
    row.name = std::to_string(arch.hidden_size) + "_" + std::to_string(arch.bottleneck_size) + "_" +
               std::to_string(arch.num_heads) + "_" + std::to_string(arch.intermediate_size) + "_" +
               std::to_string(arch.num_stacked_ffn);
    row.params = parameter_count(arch);
    row.flops = forward_flops(arch, c.seq_len);
    for (int r = 0; r < c.repeats; ++r) {
      auto report = run_probe(request, options, student_model_factory());
      auto naive = naive_probe(request);
      if (!report || !naive) {
        std::fprintf(stderr, "probe_bench: %s: %s\n", row.name.c_str(),
                     (!report ? report.status() : naive.status()).to_string().c_str());
        return 1;
      }
      row.medians.push_back(report->latency.summary.median);
      row.wall_ms.push_back(report->wall_ms);
      row.runs.push_back(static_cast<double>(report->latency.timed_runs));
      row.mins.push_back(report->latency.summary.min);
      row.preempted += report->latency.preempted_runs;
      row.timed += report->latency.timed_runs;
      row.converged += report->latency.converged ? 1 : 0;
      row.naive.push_back(naive.value());
    }
    rows.push_back(std::move(row));
    const Row& w = rows.back();
    std::string medians;
    for (double m : w.medians) medians += " " + std::to_string(m).substr(0, 6);
    std::fprintf(stderr, "%2zu/%d %-16s CV %5.2f%%, medians (ms):%s\n", rows.size(), c.archs,
                 w.name.c_str(), 100 * cv(w.medians), medians.c_str());
  }

  std::printf("%-16s %7s %7s %10s %6s %7s %6s %6s %8s %9s %10s\n", "H_B_A_I_F", "params", "MFLOPs",
              "latency ms", "CV %", "probe s", "runs", "conv", "preempt", "min CV %", "naive CV %");
  std::vector<double> latency, params, flops, cvs, naive_cvs, walls;
  for (const Row& r : rows) {
    std::printf("%-16s %6.2fM %7.1f %10.3f %6.2f %7.2f %6.0f %3d/%-2d %7.1f%% %9.2f %10.2f\n",
                r.name.c_str(), static_cast<double>(r.params) / 1e6, r.flops / 1e6, mean(r.medians),
                100 * cv(r.medians), mean(r.wall_ms) / 1000, mean(r.runs), r.converged, c.repeats,
                100.0 * r.preempted / std::max(1, r.timed), 100 * cv(r.mins), 100 * cv(r.naive));
    latency.push_back(mean(r.medians));
    params.push_back(static_cast<double>(r.params));
    flops.push_back(r.flops);
    cvs.push_back(cv(r.medians));
    naive_cvs.push_back(cv(r.naive));
    walls.insert(walls.end(), r.wall_ms.begin(), r.wall_ms.end());
  }
  const auto within = std::count_if(cvs.begin(), cvs.end(), [](double v) { return v <= 0.03; });
  std::vector<double> sorted_walls = walls;
  std::sort(sorted_walls.begin(), sorted_walls.end());
  std::printf(
      "\nCV of the reported median over %d probes: median %.2f%%, max %.2f%%; "
      "%ld/%zu architectures within 3%%\n",
      c.repeats, 100 * median(cvs), 100 * *std::max_element(cvs.begin(), cvs.end()),
      static_cast<long>(within), cvs.size());
  std::printf("naive baseline CV: median %.2f%% (%.1fx the probe's)\n", 100 * median(naive_cvs),
              median(naive_cvs) / median(cvs));
  std::vector<double> min_cvs;
  for (const Row& r : rows) min_cvs.push_back(cv(r.mins));
  std::printf("CV of the fastest kept run: median %.2f%%\n", 100 * median(min_cvs));
  std::printf("probe wall time: median %.2f s, p90 %.2f s, max %.2f s\n",
              percentile(sorted_walls, 50) / 1000, percentile(sorted_walls, 90) / 1000,
              sorted_walls.back() / 1000);
  std::printf("Spearman(latency, params) = %.3f, Spearman(latency, FLOPs) = %.3f\n",
              autodistill::bench::spearman(latency, params),
              autodistill::bench::spearman(latency, flops));
  std::printf("load average at end: %s\n", load_average().c_str());
  return 0;
}
