// Time per suggest(1) and suggest(16) of the "bo" engine against the number
// of completed observations (two objectives), on the 576-point Table 1 space
// and on a 98,304-point extension of it, with the SYNTHETIC landscape of
// table1_landscape.hpp. Hyper-parameter refits are reported separately and
// amortized over the observations between two refits (the engine refits at
// every count up to BoOptions::refit_every_until, then each time the count
// grows by refit_growth).
//
//   suggest_latency [--sizes 50,200,500,1000,2000] [--spaces table1,large]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/space.hpp"
#include "table1_landscape.hpp"

using namespace autodistill::bo;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

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

struct Row {
  double refit_ms, suggest1_ms, suggest16_ms, amortized1_ms;
};

Row measure(const DesignSpace& space_spec, size_t observations) {
  EngineConfig config;
  config.space = space_spec;
  config.objectives = {{"accuracy", true, false, std::nullopt},
                       {"latency_ms", false, true, std::nullopt}};
  config.seed = 1;
  auto engine = Engine::create(config);
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.status().to_string().c_str());
    std::exit(1);
  }
  auto space = Space::build(space_spec).value();
  Rng rng(5);
  for (size_t i = 0; i < observations; ++i) {
    const Point p = *space.sample_valid(rng);
    (void)engine->observe(
        p, {{"accuracy", synthetic::accuracy(p)}, {"latency_ms", synthetic::latency_ms(p)}});
  }
  // The first call fits the hyper-parameters for this data count; later calls reuse them.
  auto t0 = std::chrono::steady_clock::now();
  (void)engine->suggest(1);
  const double first = ms_since(t0);
  Row r{};
  const int reps = 3;
  for (int k = 0; k < reps; ++k) {
    t0 = std::chrono::steady_clock::now();
    (void)engine->suggest(1);
    r.suggest1_ms += ms_since(t0) / reps;
    t0 = std::chrono::steady_clock::now();
    (void)engine->suggest(16);
    r.suggest16_ms += ms_since(t0) / reps;
  }
  r.refit_ms = std::max(0.0, first - r.suggest1_ms);
  const BoOptions& bo = config.bo;
  const double interval =
      observations <= bo.refit_every_until
          ? 1.0
          : std::max(1.0, static_cast<double>(observations) * (bo.refit_growth - 1.0));
  r.amortized1_ms = r.suggest1_ms + r.refit_ms / interval;
  return r;
}

std::vector<std::string> split(const char* s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) out.push_back(x);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {50, 200, 500, 1000, 2000};
  std::vector<std::string> spaces = {"table1", "large"};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--sizes") && i + 1 < argc) {
      sizes.clear();
      for (const auto& s : split(argv[++i]))
        sizes.push_back(static_cast<size_t>(std::atol(s.c_str())));
    } else if (!std::strcmp(argv[i], "--spaces") && i + 1 < argc) {
      spaces = split(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--sizes 50,200,...] [--spaces table1,large]\n", argv[0]);
      return 2;
    }
  }
  std::printf("SYNTHETIC landscape; milliseconds; refit = one hyper-parameter fit (2 GPs)\n\n");
  std::printf("%-7s %6s | %10s %12s %13s | %16s\n", "space", "obs", "refit", "suggest(1)",
              "suggest(16)", "amortized (1)");
  for (const auto& name : spaces) {
    const DesignSpace spec = name == "large" ? large_space() : table1_space();
    for (size_t n : sizes) {
      const Row r = measure(spec, n);
      std::printf("%-7s %6zu | %10.1f %12.1f %13.1f | %16.1f\n", name.c_str(), n, r.refit_ms,
                  r.suggest1_ms, r.suggest16_ms, r.amortized1_ms);
      std::fflush(stdout);
    }
  }
  return 0;
}
