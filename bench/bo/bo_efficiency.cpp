// Search efficiency of the BO engine against random search and the
// evolutionary baselines, one suggestion per iteration as in the paper
// (section 4.3). Problems:
//   table1  the Table 1 space (576 points) with latencies MEASURED by the
//           project's probe worker (data/table1_latency_cpu.csv,
//           table1_measured.hpp) and the synthetic accuracy surrogate of
//           table1_landscape.hpp; also counts evaluations until the first and
//           the third architecture dominating the MobileBERT-like reference
//           (its measured latency and surrogate accuracy)
//   table1-synthetic  the same with the SYNTHETIC latency model as well
//   zdt1, zdt2  (Zitzler et al. 2000) on 4 variables, each on a 6-level grid
//           (1,296 points), both objectives minimized
//   dtlz2   (Deb et al. 2002) with 3 objectives on 5 variables, 5 levels each
//           (3,125 points)
// For every problem: evaluations until 95% of the hypervolume of the whole
// grid (reference: the worst value of each objective over the grid).
// Prints medians and means over seeds and, per algorithm, the first
// algorithm's median (mean) divided by its own: "bo/x" = 0.4 means BO needed
// 0.4 times its evaluations.
//
//   bo_efficiency [--problem table1|table1-synthetic|zdt1|zdt2|dtlz2] [--seeds N]
//                 [--max-iter N] [--algorithms bo,random,firefly,nsga2] [--initial N]
//                 [--latency-csv FILE] [--weights N] [--samples N] [--no-bound-repeated-best]
// --weights / --samples set BoOptions::scalarization_weights / _samples (3+
// objectives); --no-bound-repeated-best clears BoOptions::bound_repeated_best.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/pareto.hpp"
#include "autodistill/bo/space.hpp"
#include "table1_landscape.hpp"
#include "table1_measured.hpp"

using namespace autodistill::bo;

namespace {

struct Problem {
  std::string name;
  DesignSpace space;
  std::vector<std::string> objectives;  // all minimized except table1's accuracy
  std::vector<bool> maximize;
  std::vector<bool> log_transform;
  std::function<Objectives(const Point&)> evaluate;  // raw values, objective order
  std::function<bool(const Point&)> target;          // table1 only
  std::string description;                           // the first line printed
};

Objectives as_max(const Problem& problem, const Objectives& values) {
  Objectives y = values;
  for (size_t j = 0; j < y.size(); ++j) y[j] = problem.maximize[j] ? y[j] : -y[j];
  return y;
}

DesignSpace grid_space(int variables, int levels) {
  DesignSpace s;
  for (int i = 0; i < variables; ++i) {
    Factor f;
    f.name = "x" + std::to_string(i);
    for (int l = 0; l < levels; ++l) f.values.push_back(static_cast<double>(l) / (levels - 1));
    s.factors.push_back(f);
  }
  return s;
}

std::string latency_csv;  // --latency-csv; "" = measured::default_latency_csv()

Problem make_problem(const std::string& name) {
  Problem p;
  p.name = name;
  if (name == "table1" || name == "table1-synthetic") {
    p.objectives = {"accuracy", "latency_ms"};
    p.maximize = {true, false};
    p.log_transform = {false, true};
    char line[512];
    if (name == "table1-synthetic") {
      p.space = table1_space();
      p.evaluate = [](const Point& x) {
        return Objectives{synthetic::accuracy(x), synthetic::latency_ms(x)};
      };
      p.target = synthetic::dominates_reference;
      const Point ref = synthetic::mobilebert_reference();
      std::snprintf(line, sizeof line,
                    "SYNTHETIC problem table1-synthetic (surrogate accuracy, modelled latency); "
                    "reference %s: accuracy %.2f, latency %.3f ms",
                    "(24, 512, 128, 4, 512, 4)", synthetic::accuracy(ref),
                    synthetic::latency_ms(ref));
      p.description = line;
      return p;
    }
    const std::string path = latency_csv.empty() ? measured::default_latency_csv() : latency_csv;
    auto loaded = measured::load_latency_table(path);
    if (!loaded) {
      std::fprintf(stderr, "%s\n", loaded.status().to_string().c_str());
      std::exit(1);
    }
    auto table = std::make_shared<const measured::LatencyTable>(std::move(loaded.value()));
    p.space = table->space();
    p.evaluate = [table](const Point& x) {
      return Objectives{synthetic::accuracy(x), table->at(x)};
    };
    Point ref = synthetic::mobilebert_reference();
    ref[0] = table->num_blocks;
    const double ref_accuracy = synthetic::accuracy(ref), ref_latency = table->at(ref);
    p.target = [table, ref_accuracy, ref_latency](const Point& x) {
      return synthetic::accuracy(x) > ref_accuracy && table->at(x) < ref_latency;
    };
    std::snprintf(line, sizeof line,
                  "problem table1: MEASURED latency (%s, %d blocks, host %.12s...), SURROGATE "
                  "accuracy; reference (%d, 512, 128, 4, 512, 4): accuracy %.2f, latency %.3f ms",
                  path.c_str(), table->num_blocks, table->hardware_fingerprint.c_str(),
                  table->num_blocks, ref_accuracy, ref_latency);
    p.description = line;
    return p;
  }
  if (name == "zdt1" || name == "zdt2") {
    p.space = grid_space(4, 6);
    p.objectives = {"f1", "f2"};
    p.maximize = {false, false};
    p.log_transform = {false, false};
    const bool convex = name == "zdt1";
    p.evaluate = [convex](const Point& x) {
      double g = 0.0;
      for (size_t i = 1; i < x.size(); ++i) g += x[i];
      g = 1.0 + 9.0 * g / static_cast<double>(x.size() - 1);
      const double r = x[0] / g;
      return Objectives{x[0], g * (1.0 - (convex ? std::sqrt(r) : r * r))};
    };
    p.description = "SYNTHETIC problem " + name;
    return p;
  }
  if (name == "dtlz2") {
    p.space = grid_space(5, 5);
    p.objectives = {"f1", "f2", "f3"};
    p.maximize = {false, false, false};
    p.log_transform = {false, false, false};
    p.evaluate = [](const Point& x) {
      double g = 0.0;
      for (size_t i = 2; i < x.size(); ++i) g += (x[i] - 0.5) * (x[i] - 0.5);
      const double a = x[0] * std::numbers::pi / 2, b = x[1] * std::numbers::pi / 2;
      return Objectives{(1 + g) * std::cos(a) * std::cos(b), (1 + g) * std::cos(a) * std::sin(b),
                        (1 + g) * std::sin(a)};
    };
    p.description = "SYNTHETIC problem dtlz2";
    return p;
  }
  std::fprintf(stderr, "unknown problem '%s' (table1, table1-synthetic, zdt1, zdt2, dtlz2)\n",
               name.c_str());
  std::exit(2);
}

struct Run {
  int first = -1;  // evaluations until the first target point (-1: not within max_iter)
  int third = -1;
  int hv95 = -1;
  double suggest_ms = 0.0;  // mean time per suggest(1)
};

int initial_points = -1;
BoOptions bo_options;  // --weights, --samples

Run run(const Problem& problem, const std::string& algorithm, uint64_t seed, int max_iter,
        const Objectives& hv_ref, double best_hv) {
  EngineConfig config;
  config.space = problem.space;
  for (size_t j = 0; j < problem.objectives.size(); ++j) {
    config.objectives.push_back(
        {problem.objectives[j], problem.maximize[j], problem.log_transform[j], std::nullopt});
  }
  config.algorithm = algorithm;
  config.seed = seed;
  config.initial_points = initial_points;
  config.bo = bo_options;
  auto engine = Engine::create(config);
  if (!engine) {
    std::fprintf(stderr, "create: %s\n", engine.status().to_string().c_str());
    std::exit(1);
  }
  Run r;
  int found = 0;
  std::vector<Objectives> seen;
  double total_ms = 0.0;
  int it = 0;
  for (it = 1; it <= max_iter; ++it) {
    const auto t0 = std::chrono::steady_clock::now();
    auto s = engine->suggest(1);
    total_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!s || s->empty()) break;
    const Point& p = s->front();
    const Objectives values = problem.evaluate(p);
    std::map<std::string, double> observed;
    for (size_t j = 0; j < values.size(); ++j) observed[problem.objectives[j]] = values[j];
    (void)engine->observe(p, observed);
    seen.push_back(as_max(problem, values));
    if (problem.target && problem.target(p)) {
      ++found;
      if (found == 1) r.first = it;
      if (found == 3) r.third = it;
    }
    if (r.hv95 < 0 && hypervolume(seen, hv_ref) >= 0.95 * best_hv) r.hv95 = it;
    if ((!problem.target || r.third > 0) && r.hv95 > 0) break;
  }
  r.suggest_ms = total_ms / std::max(1, std::min(it, max_iter));
  return r;
}

// Median and mean of the evaluation counts; a run that did not get there
// counts as max_iter + 1 (and is flagged as censored).
struct Summary {
  double median = 0, mean = 0;
  int censored = 0;
};

Summary summarize(std::vector<int> v, int max_iter) {
  Summary s;
  for (int& x : v) {
    if (x < 0) {
      x = max_iter + 1;
      ++s.censored;
    }
    s.mean += x;
  }
  s.mean /= static_cast<double>(v.size());
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 20;
  int max_iter = 576;
  std::string problem_name = "table1";
  std::vector<std::string> algorithms = {"bo", "random", "firefly", "nsga2"};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seeds") && i + 1 < argc) {
      seeds = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--max-iter") && i + 1 < argc) {
      max_iter = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--problem") && i + 1 < argc) {
      problem_name = argv[++i];
    } else if (!std::strcmp(argv[i], "--initial") && i + 1 < argc) {
      initial_points = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--weights") && i + 1 < argc) {
      bo_options.scalarization_weights = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--samples") && i + 1 < argc) {
      bo_options.scalarization_samples = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--no-bound-repeated-best")) {
      bo_options.bound_repeated_best = false;
    } else if (!std::strcmp(argv[i], "--latency-csv") && i + 1 < argc) {
      latency_csv = argv[++i];
    } else if (!std::strcmp(argv[i], "--algorithms") && i + 1 < argc) {
      algorithms.clear();
      std::stringstream ss(argv[++i]);
      for (std::string a; std::getline(ss, a, ',');) algorithms.push_back(a);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--problem table1|table1-synthetic|zdt1|zdt2|dtlz2] [--seeds N] "
                   "[--max-iter N] [--algorithms bo,random,firefly,nsga2] [--initial N] "
                   "[--latency-csv FILE] [--weights N] [--samples N] [--no-bound-repeated-best]\n",
                   argv[0]);
      return 2;
    }
  }
  const Problem problem = make_problem(problem_name);

  auto space = Space::build(problem.space).value();
  std::vector<Objectives> all;
  int targets = 0;
  space.for_each([&](const Point& p) {
    all.push_back(as_max(problem, problem.evaluate(p)));
    targets += problem.target && problem.target(p) ? 1 : 0;
    return true;
  });
  Objectives hv_ref = all.front();
  for (const auto& y : all) {
    for (size_t j = 0; j < y.size(); ++j) hv_ref[j] = std::min(hv_ref[j], y[j]);
  }
  const double best_hv = hypervolume(all, hv_ref);
  std::printf("%s\n%zu points", problem.description.c_str(), all.size());
  if (problem.target) std::printf(", %d dominate the reference", targets);
  std::printf("; %d seeds, at most %d evaluations\n\n", seeds, max_iter);

  std::vector<Summary> first, third, hv;
  std::vector<double> ms;
  for (const auto& algorithm : algorithms) {
    std::vector<int> f, t, h;
    double total_ms = 0;
    for (int s = 0; s < seeds; ++s) {
      const Run r =
          run(problem, algorithm, static_cast<uint64_t>(s + 1), max_iter, hv_ref, best_hv);
      f.push_back(r.first);
      t.push_back(r.third);
      h.push_back(r.hv95);
      total_ms += r.suggest_ms;
    }
    first.push_back(summarize(f, max_iter));
    third.push_back(summarize(t, max_iter));
    hv.push_back(summarize(h, max_iter));
    ms.push_back(total_ms / seeds);
  }

  // Evaluations (median, mean), then bo/x of the median and of the mean.
  auto cell = [&](const std::vector<Summary>& v, size_t a) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%6.1f %6.1f%s %4.2f %4.2f", v[a].median, v[a].mean,
                  v[a].censored ? "*" : " ", v[0].median / v[a].median, v[0].mean / v[a].mean);
    return std::string(buf);
  };
  std::vector<std::pair<std::string, const std::vector<Summary>*>> measures;
  if (problem.target) {
    measures = {{"1st dominating", &first}, {"3rd dominating", &third}};
  }
  measures.push_back({"95% hypervolume", &hv});
  std::printf("%-8s", "");
  for (const auto& m : measures) std::printf(" | %-24s", m.first.c_str());
  std::printf(" |\n%-8s", "algo");
  for (size_t k = 0; k < measures.size(); ++k) {
    std::printf(" | %6s %6s  %-9s", "median", "mean", "bo/x");
  }
  std::printf(" | ms/suggest\n");
  for (size_t a = 0; a < algorithms.size(); ++a) {
    std::printf("%-8s", algorithms[a].c_str());
    for (const auto& m : measures) std::printf(" | %s", cell(*m.second, a).c_str());
    std::printf(" | %.2f\n", ms[a]);
  }
  std::printf(
      "\nevaluations over seeds; bo/x = %s's median, mean / this algorithm's median, mean (the "
      "fraction of its evaluations %s needed); * = some runs did not get there within %d "
      "evaluations (counted as %d)\n",
      algorithms[0].c_str(), algorithms[0].c_str(), max_iter, max_iter + 1);
  return 0;
}
