// Uniform random search over a study's design space: the interim proposer
// until the BO engine (daemon/bo/) lands, and the paper's random baseline.
#include <cmath>
#include <random>
#include <set>

#include "autodistill/daemon/proposer.hpp"

namespace autodistill::daemon {

namespace {

class RandomProposer final : public Proposer {
 public:
  RandomProposer(const wire::StudySpecT& spec, uint64_t study_id)
      : spec_(spec), rng_(spec.seed * 0x9E3779B97F4A7C15ull + study_id) {
    discrete_ = true;
    space_size_ = 1;
    for (const auto& f : spec_.factors) {
      double n = 0;
      switch (f->kind) {
        case wire::FactorKind::Ordinal:
          n = static_cast<double>(f->values.size());
          break;
        case wire::FactorKind::Categorical:
          n = static_cast<double>(f->categories.size());
          break;
        case wire::FactorKind::Integer:
          n = f->high - f->low + 1;
          break;
        case wire::FactorKind::Continuous:
          discrete_ = false;
          break;
      }
      space_size_ *= n;
    }
  }

  void add_known(const Params& params) override { known_.insert(key(params)); }
  void observe(const Params&, const std::map<std::string, double>&) override {}

  std::vector<Params> propose(size_t n) override {
    std::vector<Params> out;
    // Rejection sampling; a discrete space that is nearly exhausted gives up
    // after a bounded number of draws and reports fewer candidates.
    size_t budget = 1000 * n + 1000;
    while (out.size() < n && budget-- > 0) {
      if (discrete_ && static_cast<double>(known_.size()) >= space_size_) break;
      Params p = sample();
      if (!is_valid_candidate(spec_, p)) continue;
      if (discrete_ && !known_.insert(key(p)).second) continue;
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  Params sample() {
    Params p;
    for (const auto& f : spec_.factors) {
      wire::ParamValueT v;
      v.name = f->name;
      switch (f->kind) {
        case wire::FactorKind::Ordinal:
          v.number = f->values[pick(f->values.size())];
          break;
        case wire::FactorKind::Categorical:
          v.category = f->categories[pick(f->categories.size())];
          break;
        case wire::FactorKind::Integer:
          v.number = f->low + static_cast<double>(pick(static_cast<size_t>(f->high - f->low) + 1));
          break;
        case wire::FactorKind::Continuous:
          v.number = std::uniform_real_distribution<double>(f->low, f->high)(rng_);
          break;
      }
      p.push_back(std::move(v));
    }
    return p;
  }

  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  static std::string key(const Params& params) {
    std::string k;
    for (const auto& p : params) {
      k += p.category.empty() ? std::to_string(p.number) : p.category;
      k += '\x1f';
    }
    return k;
  }

  wire::StudySpecT spec_;
  std::mt19937_64 rng_;
  bool discrete_ = true;
  double space_size_ = 1;
  std::set<std::string> known_;
};

}  // namespace

std::unique_ptr<Proposer> make_proposer(const wire::StudySpecT& spec, uint64_t study_id) {
  return std::make_unique<RandomProposer>(spec, study_id);
}

}  // namespace autodistill::daemon
