// Time per suggest(1) of the "bo" engine (two objectives) as a study grows,
// on three spaces: the 576-point Table 1 space and a 98,304-point extension
// of it (SYNTHETIC landscape of table1_landscape.hpp), and the 15,625-point
// categorical cell space of nas_cell.hpp (SYNTHETIC). The observations are
// random feasible points, so only the GP's data, not the search, decide the
// cost.
//
// For each space and size N the engine first receives N - W observations
// (W = min(100, N / 2)), then W rounds of: observe one more point, time
// suggest(1). The window's p50, p99 and maximum are reported twice:
//   background  after each suggestion Engine::prefit() runs (timed apart, as
//               the daemon runs it on its suggestion pool), so the
//               hyper-parameter refits that BoOptions::refit_lag defers are
//               ready before suggest() needs them;
//   inline      no prefit(): suggest() fits whenever a fit is due.
// Both runs see the same observations and must suggest the same points (the
// replay contract); the last column says whether they did. Times are the
// calling thread's CPU time (the cost on a core of its own) and, for the
// background run, also wall time (on a shared machine it includes the time
// other processes held the core). "acq mean" is the mean acquisition value
// (EHVI, Engine::score on the full models, untimed) of the background run's
// suggestions: what a cheaper acquisition search loses.
//
//   suggest_latency [--sizes 50,200,500,1000] [--spaces table1,nas,large]
//                   [--generations G] [--population P] [--search-model-points S]
//                   [--search-pool K] [--background-only]
// --generations / --population / --search-model-points / --search-pool set
// the BoOptions of the same names (evolution_*); --background-only skips the inline run (its
// columns print as 0 and "same" as -).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/space.hpp"
#include "autodistill/flag_parser.hpp"
#include "nas_cell.hpp"
#include "table1_landscape.hpp"

using namespace autodistill::bo;

namespace {

BoOptions bo_options;  // --generations, --population, ..., --front-every

// Wall-clock and this thread's CPU milliseconds. The CPU time is what a call
// costs on a core of its own; on the shared machine the wall time also holds
// the time other processes ran on the core.
struct Stopwatch {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = thread_cpu_ms();

  static double thread_cpu_ms() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
  }
  double wall_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall)
        .count();
  }
  double cpu_ms() const { return thread_cpu_ms() - cpu; }
};

DesignSpace large_space() {
  auto range = [](double lo, double step, int count) {
    std::vector<double> v;
    for (int i = 0; i < count; ++i) v.push_back(lo + step * i);
    return v;
  };
  DesignSpace s = table1_space();
  s.factors[0].values = {6, 12, 18, 24};
  s.factors[1].values = range(128, 64, 16);
  s.factors[2].values = range(64, 32, 8);
  s.factors[4].values = range(256, 128, 8);
  s.factors[5].values = range(1, 1, 6);
  return s;
}

std::map<std::string, double> measure(const std::string& space, const Point& p) {
  if (space == "nas") {
    const auto v = nas_cell::evaluate(p);
    return {{"accuracy", v.accuracy}, {"latency_ms", v.latency_ms}};
  }
  return {{"accuracy", synthetic::accuracy(p)}, {"latency_ms", synthetic::latency_ms(p)}};
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double x = q * static_cast<double>(v.size() - 1);
  const auto i = static_cast<size_t>(x);
  return i + 1 < v.size() ? v[i] + (x - static_cast<double>(i)) * (v[i + 1] - v[i]) : v[i];
}

struct Window {
  std::vector<double> suggest_ms, suggest_cpu_ms;
  double prefit_cpu_ms = 0;  // total
  std::vector<Point> suggested;
  std::vector<double> acquisition;  // of each suggested point, on the full models
};

Window run(const std::string& name, size_t n, bool background) {
  const DesignSpace spec = name == "large" ? large_space()
                           : name == "nas" ? nas_cell::space()
                                           : table1_space();
  EngineConfig config;
  config.space = spec;
  config.objectives = {{"accuracy", true, false, std::nullopt},
                       {"latency_ms", false, true, std::nullopt}};
  config.seed = 1;
  config.bo = bo_options;
  auto engine = Engine::create(config);
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.status().to_string().c_str());
    std::exit(1);
  }
  auto space = Space::build(spec).value();
  Rng rng(5);
  const size_t window = std::min<size_t>(100, n / 2);
  for (size_t i = 0; i + window < n; ++i) {
    const Point p = *space.sample_valid(rng);
    (void)engine->observe(p, measure(name, p));
  }
  // The study's history up to here: its fits were made earlier.
  if (background) engine->prefit();
  (void)engine->suggest(1);
  Window w;
  for (size_t k = 0; k < window; ++k) {
    const Point p = *space.sample_valid(rng);
    (void)engine->observe(p, measure(name, p));
    const Stopwatch t;
    auto s = engine->suggest(1);
    w.suggest_cpu_ms.push_back(t.cpu_ms());
    w.suggest_ms.push_back(t.wall_ms());
    if (s && !s->empty()) {
      w.suggested.push_back(s->front());
      // Untimed: the suggestion's acquisition value on the full models (the
      // same for any search settings), what a cheaper search may lose.
      auto a = engine->score({s->front()});
      if (a && !a->empty()) w.acquisition.push_back(a->front());
    }
    if (background) {
      const Stopwatch b;
      engine->prefit();
      w.prefit_cpu_ms += b.cpu_ms();
    }
  }
  return w;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) out.push_back(x);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {50, 200, 500, 1000};
  std::vector<std::string> spaces = {"table1", "nas", "large"};
  autodistill::FlagParser parser(
      "suggest_latency: milliseconds per suggest() against the observations.\n\n"
      "Usage:\n  suggest_latency [flags]");
  parser.add_int_list("sizes", "Observation counts N (default 50,200,500,1000).", &sizes, 2,
                      1000000);
  parser.add("spaces", "LIST", "table1, nas, large (default all three).",
             [&spaces](const std::string& v) {
               spaces = split(v);
               return autodistill::Status::ok();
             });
  parser.add_int("generations", "BoOptions::evolution_generations (default 8).",
                 &bo_options.evolution_generations, 1, 1000);
  parser.add_int("population", "BoOptions::evolution_population (default 256).",
                 &bo_options.evolution_population, 2, 100000);
  parser.add_int("search-model-points", "BoOptions::search_model_points (default 300).",
                 &bo_options.search_model_points, 2, 100000);
  parser.add_int("search-pool", "BoOptions::search_pool (default 0: the population).",
                 &bo_options.search_pool, 0, 100000);
  parser.add_int("front-every",
                 "BoOptions::front_reference_every (default 2; 0: the observed rule alone).",
                 &bo_options.front_reference_every, 0, 1000);
  bool background_only = false;
  parser.add_switch("background-only", "Skip the inline (no prefit) run.",
                    [&background_only] { background_only = true; });
  const autodistill::Status parsed = parser.parse(argc, argv);
  if (!parsed) return autodistill::usage_error("suggest_latency", parsed);
  if (auto status = parser.answer_help_or_version("suggest_latency")) return *status;
  std::printf(
      "SYNTHETIC landscapes; milliseconds per suggest(1) over the last W suggestions up to N "
      "observations (W = min(100, N/2)): CPU time of the calling thread (the cost on a core of "
      "its own) and wall time; prefit = background CPU time per suggestion\n\n");
  std::printf("%-6s %5s %4s | %-44s | %-23s | %s\n", "", "", "", "background (prefit after each)",
              "inline (no prefit)", "");
  std::printf("%-6s %5s %4s | %7s %7s %7s %7s %6s | %7s %7s %7s | %-4s | %s\n", "space", "N", "W",
              "cpu p50", "cpu p99", "wall50", "wall99", "prefit", "cpu p50", "cpu p99", "cpu max",
              "same", "acq mean");
  for (const auto& name : spaces) {
    for (size_t n : sizes) {
      const Window bg = run(name, n, true);
      Window in;
      if (!background_only) in = run(name, n, false);
      if (in.suggest_cpu_ms.empty()) in.suggest_cpu_ms = {0.0};
      double acq = 0.0;
      for (double a : bg.acquisition) acq += a / static_cast<double>(bg.acquisition.size());
      std::printf(
          "%-6s %5zu %4zu | %7.1f %7.1f %7.1f %7.1f %6.1f | %7.1f %7.1f %7.1f | %-4s | %.4g\n",
          name.c_str(), n, bg.suggest_ms.size(), percentile(bg.suggest_cpu_ms, 0.5),
          percentile(bg.suggest_cpu_ms, 0.99), percentile(bg.suggest_ms, 0.5),
          percentile(bg.suggest_ms, 0.99),
          bg.prefit_cpu_ms / static_cast<double>(bg.suggest_ms.size()),
          percentile(in.suggest_cpu_ms, 0.5), percentile(in.suggest_cpu_ms, 0.99),
          *std::max_element(in.suggest_cpu_ms.begin(), in.suggest_cpu_ms.end()),
          background_only                ? "-"
          : bg.suggested == in.suggested ? "yes"
                                         : "NO",
          acq);
      std::fflush(stdout);
    }
  }
  return 0;
}
