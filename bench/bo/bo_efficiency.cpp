// Search efficiency of the BO engine against random search and the
// evolutionary baselines, one suggestion per iteration as in the paper
// (section 4.3). Problems, all SYNTHETIC:
//   table1  the Table 1 space (576 points) with the landscape of
//           table1_landscape.hpp; also counts evaluations until the first and
//           the third architecture dominating the MobileBERT-like reference
//   zdt1, zdt2  (Zitzler et al. 2000) on 4 variables, each on a 6-level grid
//           (1,296 points), both objectives minimized
//   dtlz2   (Deb et al. 2002) with 3 objectives on 5 variables, 5 levels each
//           (3,125 points)
// For every problem: evaluations until 95% of the hypervolume of the whole
// grid (reference: the worst value of each objective over the grid).
// Prints medians and means over seeds and each algorithm's ratio to the first.
//
//   bo_efficiency [--problem table1|zdt1|zdt2|dtlz2] [--seeds N] [--max-iter N]
//                 [--algorithms bo,random,firefly,nsga2] [--initial N]

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/pareto.hpp"
#include "autodistill/bo/space.hpp"
#include "table1_landscape.hpp"

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

Problem make_problem(const std::string& name) {
  Problem p;
  p.name = name;
  if (name == "table1") {
    p.space = table1_space();
    p.objectives = {"accuracy", "latency_ms"};
    p.maximize = {true, false};
    p.log_transform = {false, true};
    p.evaluate = [](const Point& x) {
      return Objectives{synthetic::accuracy(x), synthetic::latency_ms(x)};
    };
    p.target = synthetic::dominates_reference;
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
    return p;
  }
  std::fprintf(stderr, "unknown problem '%s' (table1, zdt1, zdt2, dtlz2)\n", name.c_str());
  std::exit(2);
}

struct Run {
  int first = -1;  // evaluations until the first target point (-1: not within max_iter)
  int third = -1;
  int hv95 = -1;
  double suggest_ms = 0.0;  // mean time per suggest(1)
};

int initial_points = -1;

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
    } else if (!std::strcmp(argv[i], "--algorithms") && i + 1 < argc) {
      algorithms.clear();
      std::stringstream ss(argv[++i]);
      for (std::string a; std::getline(ss, a, ',');) algorithms.push_back(a);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--problem table1|zdt1|zdt2|dtlz2] [--seeds N] [--max-iter N] "
                   "[--algorithms bo,random,firefly,nsga2] [--initial N]\n",
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
  std::printf("SYNTHETIC problem %s: %zu points", problem.name.c_str(), all.size());
  if (problem.target) {
    const Point ref = synthetic::mobilebert_reference();
    std::printf(", %d dominate the MobileBERT-like reference (accuracy %.2f, latency %.3f ms)",
                targets, synthetic::accuracy(ref), synthetic::latency_ms(ref));
  }
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

  auto cell = [&](const std::vector<Summary>& v, size_t a) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%5.1f %6.1f (%4.2fx)%s", v[a].median, v[a].mean,
                  v[a].mean / v[0].mean, v[a].censored ? "*" : "");
    return std::string(buf);
  };
  if (problem.target) {
    std::printf("%-8s | %-22s | %-22s | %-22s | %s\n", "algo", "1st dominating", "3rd dominating",
                "95% hypervolume", "ms/suggest");
    std::printf("%-8s | %-22s | %-22s | %-22s |\n", "", "median  mean (ratio)",
                "median  mean (ratio)", "median  mean (ratio)");
    for (size_t a = 0; a < algorithms.size(); ++a) {
      std::printf("%-8s | %-22s | %-22s | %-22s | %.2f\n", algorithms[a].c_str(),
                  cell(first, a).c_str(), cell(third, a).c_str(), cell(hv, a).c_str(), ms[a]);
    }
  } else {
    std::printf("%-8s | %-22s | %s\n", "algo", "95% hypervolume", "ms/suggest");
    std::printf("%-8s | %-22s |\n", "", "median  mean (ratio)");
    for (size_t a = 0; a < algorithms.size(); ++a) {
      std::printf("%-8s | %-22s | %.2f\n", algorithms[a].c_str(), cell(hv, a).c_str(), ms[a]);
    }
  }
  std::printf(
      "\nratio = mean / mean of %s; * = some runs did not get there within %d evaluations "
      "(counted as %d)\n",
      algorithms[0].c_str(), max_iter, max_iter + 1);
  return 0;
}
