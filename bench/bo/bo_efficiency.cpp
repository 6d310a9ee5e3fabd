// Search efficiency of the BO engine against random search, the evolutionary
// baselines and Optuna's multivariate TPE, one suggestion per evaluation as
// in the paper (section 4.3). Problems:
//   table1  the Table 1 space (576 points) with latencies MEASURED by the
//           project's probe worker (data/table1_latency_cpu.csv,
//           table1_measured.hpp) and the synthetic accuracy surrogate of
//           table1_landscape.hpp; baseline: the MobileBERT-like architecture
//   table1-synthetic  the same with the SYNTHETIC latency model as well
//   zdt1, zdt2  (Zitzler et al. 2000) on 4 variables, each on a 6-level grid
//           (1,296 points), both objectives minimized; baseline x = 0.4
//   dtlz2   (Deb et al. 2002) with 3 objectives on 5 variables, 5 levels each
//           (3,125 points); baseline x = (0.5, 0.5, 0.25, 0.25, 0.25)
//   nas-cell  SYNTHETIC 6 x 5 categorical cell-NAS table (nas_cell.hpp,
//           15,625 points); baseline: the ResNet-like cell
//   NAME-cat  problem NAME with every factor of more than one value made
//           CATEGORICAL (its values become unordered labels; the function
//           is the same), e.g. table1-cat, zdt1-cat, dtlz2-cat
// Measures, per scoring (the whole front: reference = the grid's worst value
// of each objective; beyond the baseline: reference = the baseline's
// values): evaluations until 50 % and 95 % of the grid's hypervolume; with a
// baseline also until the first and the third point strictly dominating it.
// Medians and means over seeds; a run that does not get there counts as
// max-iter + 1 (marked *). Also: the share of evaluations at degenerate
// points (nas-cell) and at points evaluated before (repeats).
//
// Algorithms: bo, bo-ref (bo told the region of interest: the baseline is
// evaluated first and every objective's reference is its measured value,
// EngineConfig::baseline + ObjectiveSpec::reference_at_baseline, as a
// Distill study with `"reference": "baseline"` does), random, firefly,
// nsga2, and tpe: Optuna's multivariate TPE (python3-optuna), run by
// tpe_peer.py as a subprocess on a CSV table of the problem that this
// program writes, so both sides evaluate the same values.
//
//   bo_efficiency [--problem NAME] [--seeds N] [--max-iter N]
//                 [--algorithms bo,bo-ref,random,firefly,nsga2,tpe] [--initial N]
//                 [--latency-csv FILE] [--weights N] [--samples N] [--no-bound-repeated-best]
//                 [--no-warp] [--front-reference] [--exhaustive-limit N] [--trace]
//                 [--python PATH] [--tpe-script PATH] [--jobs N]
// --weights / --samples set BoOptions::scalarization_weights / _samples (4+
// objectives); --no-bound-repeated-best clears BoOptions::bound_repeated_best,
// --no-warp BoOptions::warp_outputs, --front-reference sets
// BoOptions::reference_from_front; --exhaustive-limit sets
// BoOptions::exhaustive_limit; --trace prints every evaluation of the
// engine's algorithms to stderr; --jobs N runs the engine's seeds on N
// threads at once (each run is single-threaded and seeded: the counts are
// the same as with one; only ms/suggest then includes contention).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <numbers>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/pareto.hpp"
#include "autodistill/bo/space.hpp"
#include "autodistill/flag_parser.hpp"
#include "nas_cell.hpp"
#include "table1_landscape.hpp"
#include "table1_measured.hpp"

using namespace autodistill::bo;

namespace {

struct Problem {
  std::string name;
  DesignSpace space;
  std::vector<std::string> objectives;
  std::vector<bool> maximize;
  std::vector<bool> log_transform;
  std::function<Objectives(const Point&)> evaluate;  // raw values, objective order
  std::function<bool(const Point&)> degenerate;      // optional
  std::optional<Point> baseline;                     // the hand-designed point to beat
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

std::string format_point(const Point& p) {
  std::string out = "(";
  for (size_t i = 0; i < p.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%g", i ? ", " : "", p[i]);
    out += buf;
  }
  return out + ")";
}

// NAME-cat: every factor with more than one value becomes categorical over
// labels of its values (the value order is kept, but a categorical factor
// has no order); points hold category indices, mapped back to the values
// before the base problem evaluates them.
Problem categorical_version(Problem base) {
  Problem p = base;
  p.name = base.name + "-cat";
  std::vector<std::vector<double>> values(base.space.factors.size());
  for (size_t f = 0; f < base.space.factors.size(); ++f) {
    Factor& factor = p.space.factors[f];
    if (factor.kind != FactorKind::kOrdinal || factor.values.size() < 2) continue;
    values[f] = factor.values;
    factor.kind = FactorKind::kCategorical;
    factor.categories.clear();
    for (double v : factor.values) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", v);
      factor.categories.push_back(buf);
    }
    factor.values.clear();
    factor.scale = Scale::kLinear;
  }
  p.space.divisibility.clear();  // categorical factors cannot take part in a rule
  auto to_values = [values](const Point& x) {
    Point v = x;
    for (size_t f = 0; f < x.size(); ++f) {
      if (!values[f].empty()) v[f] = values[f][static_cast<size_t>(std::llround(x[f]))];
    }
    return v;
  };
  auto to_indices = [values](const Point& v) {
    Point x = v;
    for (size_t f = 0; f < v.size(); ++f) {
      if (values[f].empty()) continue;
      x[f] = static_cast<double>(std::find(values[f].begin(), values[f].end(), v[f]) -
                                 values[f].begin());
    }
    return x;
  };
  p.evaluate = [inner = base.evaluate, to_values](const Point& x) { return inner(to_values(x)); };
  if (base.degenerate) {
    p.degenerate = [inner = base.degenerate, to_values](const Point& x) {
      return inner(to_values(x));
    };
  }
  if (base.baseline) p.baseline = to_indices(*base.baseline);
  p.description = base.description + "; every factor CATEGORICAL";
  return p;
}

Problem make_problem(const std::string& name) {
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "-cat") == 0) {
    return categorical_version(make_problem(name.substr(0, name.size() - 4)));
  }
  Problem p;
  p.name = name;
  char line[512];
  if (name == "table1" || name == "table1-synthetic") {
    p.objectives = {"accuracy", "latency_ms"};
    p.maximize = {true, false};
    p.log_transform = {false, true};
    if (name == "table1-synthetic") {
      p.space = table1_space();
      p.evaluate = [](const Point& x) {
        return Objectives{synthetic::accuracy(x), synthetic::latency_ms(x)};
      };
      p.baseline = synthetic::mobilebert_reference();
      std::snprintf(line, sizeof line,
                    "SYNTHETIC problem table1-synthetic (surrogate accuracy, modelled latency)");
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
    p.baseline = ref;
    std::snprintf(line, sizeof line,
                  "problem table1: MEASURED latency (%s, %d blocks, host %.12s...), SURROGATE "
                  "accuracy",
                  path.c_str(), table->num_blocks, table->hardware_fingerprint.c_str());
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
    p.baseline = Point(4, 0.4);
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
    p.baseline = Point{0.5, 0.5, 0.25, 0.25, 0.25};
    p.description = "SYNTHETIC problem dtlz2";
    return p;
  }
  if (name == "nas-cell") {
    p.space = nas_cell::space();
    p.objectives = {"accuracy", "latency_ms"};
    p.maximize = {true, false};
    p.log_transform = {false, true};
    p.evaluate = [](const Point& x) {
      const auto v = nas_cell::evaluate(x);
      return Objectives{v.accuracy, v.latency_ms};
    };
    p.degenerate = [](const Point& x) { return nas_cell::evaluate(x).degenerate; };
    p.baseline = nas_cell::baseline();
    p.description =
        "SYNTHETIC problem nas-cell (6 edges x 5 operations, all CATEGORICAL; nas_cell.hpp)";
    return p;
  }
  std::fprintf(stderr,
               "unknown problem '%s' (table1, table1-synthetic, zdt1, zdt2, dtlz2, nas-cell, "
               "NAME-cat)\n",
               name.c_str());
  std::exit(2);
}

// How one run is scored: a reference point and the grid's hypervolume above it.
struct Scoring {
  std::string title;
  Objectives ref;
  double best_hv = 0;
};

// The evaluation counts of one run.
struct Counts {
  std::vector<int> hv50, hv95;  // per scoring; -1 = not reached
  int first = -1, third = -1;   // points strictly dominating the baseline
  int evaluations = 0;
  int degenerate = 0;
  int repeats = 0;
  double ms = 0;  // per suggestion (ask/tell for tpe)
};

// Follows a run evaluation by evaluation.
class Tracker {
 public:
  Tracker(const Problem& problem, const std::vector<Scoring>& scorings)
      : problem_(problem), scorings_(scorings) {
    counts_.hv50.assign(scorings.size(), -1);
    counts_.hv95.assign(scorings.size(), -1);
    if (problem.baseline) baseline_ = as_max(problem, problem.evaluate(*problem.baseline));
  }

  void add(const Point& p) {
    const int n = ++counts_.evaluations;
    const Objectives y = as_max(problem_, problem_.evaluate(p));
    if (!visited_.insert(p).second) ++counts_.repeats;
    if (problem_.degenerate && problem_.degenerate(p)) ++counts_.degenerate;
    seen_.push_back(y);
    if (baseline_) {
      bool dominates = true;
      for (size_t j = 0; j < y.size(); ++j) dominates = dominates && y[j] > (*baseline_)[j];
      if (dominates && ++dominating_ == 1) counts_.first = n;
      if (dominates && dominating_ == 3) counts_.third = n;
    }
    for (size_t s = 0; s < scorings_.size(); ++s) {
      if (counts_.hv95[s] > 0) continue;
      const double hv = hypervolume(seen_, scorings_[s].ref);
      if (counts_.hv50[s] < 0 && hv >= 0.5 * scorings_[s].best_hv) counts_.hv50[s] = n;
      if (hv >= 0.95 * scorings_[s].best_hv) counts_.hv95[s] = n;
    }
  }

  bool done() const {
    for (int v : counts_.hv95) {
      if (v < 0) return false;
    }
    return !baseline_ || counts_.third > 0;
  }
  const Counts& counts() const { return counts_; }
  Counts& counts() { return counts_; }

 private:
  const Problem& problem_;
  const std::vector<Scoring>& scorings_;
  std::optional<Objectives> baseline_;
  std::vector<Objectives> seen_;
  std::set<Point> visited_;
  int dominating_ = 0;
  Counts counts_;
};

int initial_points = -1;
BoOptions bo_options;  // --weights, --samples
bool trace = false;    // --trace: every evaluation on stderr

Counts run_engine(const Problem& problem, const std::vector<Scoring>& scorings,
                  const std::string& algorithm, uint64_t seed, int max_iter) {
  EngineConfig config;
  config.space = problem.space;
  const bool told = algorithm == "bo-ref";
  for (size_t j = 0; j < problem.objectives.size(); ++j) {
    ObjectiveSpec o{problem.objectives[j], problem.maximize[j], problem.log_transform[j],
                    std::nullopt};
    o.reference_at_baseline = told;
    config.objectives.push_back(o);
  }
  if (told) config.baseline = problem.baseline;
  config.algorithm = told ? "bo" : algorithm;
  config.seed = seed;
  config.initial_points = initial_points;
  config.bo = bo_options;
  auto engine = Engine::create(config);
  if (!engine) {
    std::fprintf(stderr, "create: %s\n", engine.status().to_string().c_str());
    std::exit(1);
  }
  Tracker tracker(problem, scorings);
  auto observe = [&](const Point& p) {
    const Objectives values = problem.evaluate(p);
    if (trace) {
      std::fprintf(stderr, "%s seed %llu eval %d %s", algorithm.c_str(),
                   static_cast<unsigned long long>(seed), tracker.counts().evaluations + 1,
                   format_point(p).c_str());
      for (double v : values) std::fprintf(stderr, " %.4g", v);
      std::fprintf(stderr, "\n");
    }
    std::map<std::string, double> observed;
    for (size_t j = 0; j < values.size(); ++j) observed[problem.objectives[j]] = values[j];
    (void)engine->observe(p, observed);
    tracker.add(p);
  };
  // Told the region of interest: the baseline is measured first, as in a study.
  if (told) observe(*problem.baseline);
  double total_ms = 0.0;
  int suggestions = 0;
  while (tracker.counts().evaluations < max_iter && !tracker.done()) {
    const auto t0 = std::chrono::steady_clock::now();
    auto s = engine->suggest(1);
    total_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ++suggestions;
    if (!s || s->empty()) break;
    observe(s->front());
  }
  tracker.counts().ms = total_ms / std::max(1, suggestions);
  return tracker.counts();
}

// Median and mean of evaluation counts; a run that did not get there
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

std::string python = "/usr/bin/python3";
std::string tpe_script = AUTODISTILL_BO_BENCH_DIR "/tpe_peer.py";

// Runs Optuna's TPE on the problem's table for every seed; returns each
// seed's evaluated points and its mean milliseconds per ask/tell.
std::vector<std::pair<std::vector<Point>, double>> run_tpe(const Problem& problem,
                                                           const std::vector<Point>& grid,
                                                           int seeds, int max_iter) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() /
                       ("bo_efficiency_" + problem.name + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path table = dir / "table.csv";
  {
    std::ofstream out(table);
    const auto& factors = problem.space.factors;
    std::vector<std::string> names, roles;
    for (const auto& f : factors) {
      names.push_back(f.name);
      roles.push_back(f.kind == FactorKind::kCategorical ? "categorical" : "ordinal");
    }
    for (size_t j = 0; j < problem.objectives.size(); ++j) {
      names.push_back(problem.objectives[j]);
      roles.push_back(problem.maximize[j] ? "maximize" : "minimize");
    }
    for (const auto* line : {&names, &roles}) {
      for (size_t i = 0; i < line->size(); ++i) out << (i ? "," : "") << (*line)[i];
      out << "\n";
    }
    char buf[64];
    for (const Point& p : grid) {
      for (size_t f = 0; f < factors.size(); ++f) {
        if (factors[f].kind == FactorKind::kCategorical) {
          out << factors[f].categories[static_cast<size_t>(std::llround(p[f]))] << ",";
        } else {
          std::snprintf(buf, sizeof buf, "%.17g,", p[f]);
          out << buf;
        }
      }
      const Objectives v = problem.evaluate(p);
      for (size_t j = 0; j < v.size(); ++j) {
        std::snprintf(buf, sizeof buf, "%.17g%s", v[j], j + 1 < v.size() ? "," : "\n");
        out << buf;
      }
    }
  }
  std::string seed_list;
  for (int s = 1; s <= seeds; ++s) seed_list += (s > 1 ? "," : "") + std::to_string(s);
  const std::string command = python + " " + tpe_script + " " + table.string() + " --seeds " +
                              seed_list + " --trials " + std::to_string(max_iter);
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    std::fprintf(stderr, "cannot run %s\n", command.c_str());
    std::exit(1);
  }
  std::vector<std::pair<std::vector<Point>, double>> out;
  std::string text;
  char chunk[4096];
  while (std::fgets(chunk, sizeof chunk, pipe) != nullptr) {
    text += chunk;
    if (text.empty() || text.back() != '\n') continue;
    std::istringstream line(text);
    text.clear();
    std::string word;
    int seed = 0;
    double ms = 0;
    line >> word >> seed >> word >> ms >> word;
    std::vector<Point> points;
    for (long row; line >> row;) {
      if (row < 0 || static_cast<size_t>(row) >= grid.size()) {
        std::fprintf(stderr, "tpe_peer: row %ld is not a point of the table\n", row);
        std::exit(1);
      }
      points.push_back(grid[static_cast<size_t>(row)]);
    }
    out.emplace_back(std::move(points), ms);
  }
  const int status = ::pclose(pipe);
  fs::remove_all(dir);
  if (status != 0 || static_cast<int>(out.size()) != seeds) {
    std::fprintf(stderr, "tpe_peer failed (exit status %d, %zu of %d seeds): %s\n", status,
                 out.size(), seeds, command.c_str());
    std::exit(1);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 20;
  int jobs = 1;
  int max_iter = 576;
  std::string problem_name = "table1";
  std::vector<std::string> algorithms = {"bo", "random", "firefly", "nsga2"};
  autodistill::FlagParser parser(
      "bo_efficiency: evaluations to reach the Pareto front, BO against its peers.\n\n"
      "Usage:\n  bo_efficiency [flags]");
  parser.add_text("problem", "NAME",
                  "table1 | table1-synthetic | zdt1 | zdt2 | dtlz2 | nas-cell | NAME-cat\n"
                  "(default table1).",
                  &problem_name);
  parser.add_int("seeds", "Runs per algorithm (default 20).", &seeds, 1, 1000000);
  parser.add_int("max-iter", "Evaluations per run, at most (default 576).", &max_iter, 1,
                 100000000);
  parser.add("algorithms", "LIST",
             "Comma-separated: bo, bo-ref, random, firefly, nsga2, tpe\n"
             "(default bo,random,firefly,nsga2).",
             [&algorithms](const std::string& v) {
               algorithms.clear();
               std::stringstream ss(v);
               for (std::string a; std::getline(ss, a, ',');) algorithms.push_back(a);
               return autodistill::Status::ok();
             });
  parser.add_int("initial", "BO's initial quasi-random points (default: the engine's).",
                 &initial_points, 0, 1000000);
  parser.add_text("latency-csv", "FILE", "Measured latencies of Table 1 (default: bench data).",
                  &latency_csv);
  parser.add_int("weights", "BoOptions::scalarization_weights (4+ objectives).",
                 &bo_options.scalarization_weights, 1, 1000000);
  parser.add_int("samples", "BoOptions::scalarization_samples.", &bo_options.scalarization_samples,
                 1, 1000000);
  parser.add_switch("no-bound-repeated-best", "Clear BoOptions::bound_repeated_best.",
                    [] { bo_options.bound_repeated_best = false; });
  parser.add_switch("no-warp", "Clear BoOptions::warp_outputs.",
                    [] { bo_options.warp_outputs = false; });
  parser.add_int("exhaustive-limit",
                 "BoOptions::exhaustive_limit: score every candidate when\n"
                 "at most this many remain.",
                 &bo_options.exhaustive_limit, 0, 100000000);
  parser.add_switch("front-reference", "Set BoOptions::reference_from_front.",
                    [] { bo_options.reference_from_front = true; });
  parser.add_real("front-margin", "BoOptions::front_reference_margin (with --front-reference).",
                  &bo_options.front_reference_margin, false);
  parser.add_switch("front-gap", "Set BoOptions::front_reference_gap (with --front-reference).",
                    [] { bo_options.front_reference_gap = true; });
  parser.add_int("front-layers", "BoOptions::front_reference_layers (with --front-reference).",
                 &bo_options.front_reference_layers, 1, 1000);
  parser.add_real("reference-quantile", "BoOptions::observed_reference_quantile.",
                  &bo_options.observed_reference_quantile, false);
  parser.add_int("front-every",
                 "BoOptions::front_reference_every (default 2; 0: the observed rule alone).",
                 &bo_options.front_reference_every, 0, 1000);
  parser.add_real("front-weight", "BoOptions::front_reference_weight.",
                  &bo_options.front_reference_weight, false);
  parser.add_int("generations", "BoOptions::evolution_generations.",
                 &bo_options.evolution_generations, 1, 1000);
  parser.add_int("population", "BoOptions::evolution_population.", &bo_options.evolution_population,
                 2, 100000);
  parser.add_int("search-model-points", "BoOptions::search_model_points.",
                 &bo_options.search_model_points, 2, 100000);
  parser.add_int("search-pool", "BoOptions::search_pool.", &bo_options.search_pool, 0, 100000);
  parser.add_switch("trace", "Print every evaluation on stderr.", [] { trace = true; });
  parser.add_int("jobs", "Seeds run at once, on threads (default 1).", &jobs, 1, 1024);
  parser.add_text("python", "PATH", "The Python that runs tpe (default /usr/bin/python3).",
                  &python);
  parser.add_text("tpe-script", "PATH", "The TPE peer (default bench/bo/tpe_peer.py).",
                  &tpe_script);
  const autodistill::Status parsed = parser.parse(argc, argv);
  if (!parsed) return autodistill::usage_error("bo_efficiency", parsed);
  if (auto status = parser.answer_help_or_version("bo_efficiency")) return *status;
  const Problem problem = make_problem(problem_name);
  for (const auto& a : algorithms) {
    if (a == "bo-ref" && !problem.baseline) {
      std::fprintf(stderr, "bo-ref needs a problem with a baseline\n");
      return 2;
    }
  }

  auto space = Space::build(problem.space).value();
  std::vector<Point> grid;
  std::vector<Objectives> all;
  int dominating = 0, degenerate = 0;
  std::optional<Objectives> base;
  if (problem.baseline) base = as_max(problem, problem.evaluate(*problem.baseline));
  space.for_each([&](const Point& p) {
    grid.push_back(p);
    all.push_back(as_max(problem, problem.evaluate(p)));
    if (base) {
      bool d = true;
      for (size_t j = 0; j < base->size(); ++j) d = d && all.back()[j] > (*base)[j];
      dominating += d ? 1 : 0;
    }
    degenerate += problem.degenerate && problem.degenerate(p) ? 1 : 0;
    return true;
  });
  std::vector<Scoring> scorings;
  Objectives worst = all.front();
  for (const auto& y : all) {
    for (size_t j = 0; j < y.size(); ++j) worst[j] = std::min(worst[j], y[j]);
  }
  scorings.push_back(
      {"the whole front (reference: the grid's worst values)", worst, hypervolume(all, worst)});
  if (base)
    scorings.push_back(
        {"beyond the baseline (reference: its values)", *base, hypervolume(all, *base)});

  std::printf("%s\n%zu points", problem.description.c_str(), all.size());
  if (problem.baseline) {
    const Objectives v = problem.evaluate(*problem.baseline);
    std::printf("; baseline %s:", format_point(*problem.baseline).c_str());
    for (size_t j = 0; j < v.size(); ++j)
      std::printf(" %s %.4g", problem.objectives[j].c_str(), v[j]);
    std::printf(", %d points dominate it", dominating);
  }
  if (problem.degenerate)
    std::printf("; %d degenerate points (%.1f %%)", degenerate,
                100.0 * degenerate / static_cast<double>(all.size()));
  std::printf("\n%d seeds, at most %d evaluations\n", seeds, max_iter);

  std::vector<std::vector<Counts>> runs;  // per algorithm, per seed
  for (const auto& algorithm : algorithms) {
    std::vector<Counts> per_seed;
    if (algorithm == "tpe") {
      for (auto& [points, ms] : run_tpe(problem, grid, seeds, max_iter)) {
        Tracker tracker(problem, scorings);
        for (const Point& p : points) tracker.add(p);
        tracker.counts().ms = ms;
        per_seed.push_back(tracker.counts());
      }
    } else {
      per_seed.resize(static_cast<size_t>(seeds));
      std::atomic<int> next{0};
      auto work = [&] {
        for (int s = next++; s < seeds; s = next++) {
          per_seed[static_cast<size_t>(s)] =
              run_engine(problem, scorings, algorithm, static_cast<uint64_t>(s + 1), max_iter);
        }
      };
      std::vector<std::thread> threads;
      for (int j = 1; j < std::min(jobs, seeds); ++j) threads.emplace_back(work);
      work();
      for (std::thread& t : threads) t.join();
    }
    runs.push_back(std::move(per_seed));
  }

  auto column = [&](size_t a, auto get) {
    std::vector<int> v;
    for (const Counts& c : runs[a]) v.push_back(get(c));
    return summarize(v, max_iter);
  };
  auto cell = [](const Summary& s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%6.1f %6.1f%s", s.median, s.mean, s.censored ? "*" : " ");
    return std::string(buf);
  };
  const bool peers_only_bo = std::all_of(algorithms.begin(), algorithms.end(),
                                         [](const auto& a) { return a == "bo" || a == "bo-ref"; });
  for (size_t s = 0; s < scorings.size(); ++s) {
    std::printf("\nhypervolume %s: %.6g\n", scorings[s].title.c_str(), scorings[s].best_hv);
    std::printf("%-8s | %-21s | %-21s", "", "50 % hypervolume", "95 % hypervolume");
    if (problem.baseline) std::printf(" | %-21s | %-21s", "1st dominating", "3rd dominating");
    std::printf(" | degen. | repeat | ms/suggest\n%-8s", "algo");
    const int columns = problem.baseline ? 4 : 2;
    for (int c = 0; c < columns; ++c) std::printf(" | %6s %6s        ", "median", "mean");
    std::printf(" |\n");
    std::vector<Summary> hv50, hv95;
    for (size_t a = 0; a < algorithms.size(); ++a) {
      hv50.push_back(column(a, [&](const Counts& c) { return c.hv50[s]; }));
      hv95.push_back(column(a, [&](const Counts& c) { return c.hv95[s]; }));
      double evaluations = 0, degen = 0, repeats = 0, ms = 0;
      for (const Counts& c : runs[a]) {
        evaluations += c.evaluations;
        degen += c.degenerate;
        repeats += c.repeats;
        ms += c.ms / static_cast<double>(runs[a].size());
      }
      std::printf("%-8s | %s | %s", algorithms[a].c_str(), cell(hv50[a]).c_str(),
                  cell(hv95[a]).c_str());
      if (problem.baseline) {
        std::printf(" | %s | %s", cell(column(a, [](const Counts& c) { return c.first; })).c_str(),
                    cell(column(a, [](const Counts& c) { return c.third; })).c_str());
      }
      std::printf(" | %5.1f%% | %5.1f%% | %.2f\n", 100.0 * degen / evaluations,
                  100.0 * repeats / evaluations, ms);
    }
    if (peers_only_bo) continue;
    // BO against the best peer (lowest median) of this scoring.
    for (size_t a = 0; a < algorithms.size(); ++a) {
      if (algorithms[a] != "bo" && algorithms[a] != "bo-ref") continue;
      for (auto [label, v] : {std::pair{"50 %", &hv50}, std::pair{"95 %", &hv95}}) {
        size_t best = algorithms.size();
        for (size_t b = 0; b < algorithms.size(); ++b) {
          if (algorithms[b] == "bo" || algorithms[b] == "bo-ref") continue;
          if (best == algorithms.size() || (*v)[b].median < (*v)[best].median) best = b;
        }
        if (best == algorithms.size()) continue;
        std::printf("%s to %s: median %.1f = %.2fx the best peer's (%s, %.1f); mean %.2fx\n",
                    algorithms[a].c_str(), label, (*v)[a].median,
                    (*v)[a].median / (*v)[best].median, algorithms[best].c_str(), (*v)[best].median,
                    (*v)[a].mean / (*v)[best].mean);
      }
    }
  }
  std::printf(
      "\nevaluations over seeds (bo-ref counts the baseline's own evaluation); * = some runs did "
      "not get there within %d evaluations (counted as %d); degen. = evaluations at degenerate "
      "points, repeat = at points evaluated before\n",
      max_iter, max_iter + 1);
  return 0;
}
