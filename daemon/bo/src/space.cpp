#include "autodistill/bo/space.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace autodistill::bo {
namespace {

std::string at(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

bool is_student_factor(const std::string& name) {
  for (const char* n : kStudentFactorNames) {
    if (name == n) return true;
  }
  return false;
}

bool integral(double v) {
  return std::isfinite(v) && v == std::round(v);
}

bool same_value(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b));
}

Status invalid(std::string message, std::string field) {
  return Status(Code::kInvalidArgument, std::move(message), std::move(field));
}

}  // namespace

DesignSpace table1_space(int blocks) {
  auto ordinal = [](std::string name, std::vector<double> values, Scale scale = Scale::kLinear) {
    Factor f;
    f.name = std::move(name);
    f.values = std::move(values);
    f.scale = scale;
    return f;
  };
  DesignSpace s;
  s.factors = {
      ordinal("num_blocks", {static_cast<double>(blocks)}),
      ordinal("hidden_size", {128, 256, 384, 512}),
      ordinal("bottleneck_size", {64, 96, 128, 160}),
      ordinal("num_heads", {1, 2, 4, 8}, Scale::kLog),
      ordinal("intermediate_size", {384, 512, 640}),
      ordinal("num_stacked_ffn", {2, 4, 6}),
  };
  s.divisibility = {DivisibilityRule{"num_heads", "bottleneck_size"}};
  return s;
}

Result<Space> Space::build(const DesignSpace& spec) {
  if (spec.factors.empty()) return invalid("the design space has no factors", "factors");
  Space space;
  space.spec_ = spec;
  space.compiled_.resize(spec.factors.size());

  // Factors that must hold positive values: sizes, log-scaled, divisibility.
  std::set<std::string> positive;
  for (const auto& rule : spec.divisibility) {
    positive.insert(rule.divisor);
    positive.insert(rule.dividend);
  }

  std::set<std::string> names;
  uint64_t grid = 1;
  bool grid_ok = true;
  for (size_t i = 0; i < spec.factors.size(); ++i) {
    const Factor& f = spec.factors[i];
    const std::string base = at("factors", i);
    if (f.name.empty()) return invalid("factor name is empty", base + ".name");
    if (!names.insert(f.name).second)
      return invalid("duplicate factor name '" + f.name + "'", base + ".name");
    const bool log_scale = f.scale == Scale::kLog;
    const bool must_be_positive =
        log_scale || is_student_factor(f.name) || positive.count(f.name) > 0;
    Compiled& c = space.compiled_[i];
    uint64_t count = 0;
    switch (f.kind) {
      case FactorKind::kOrdinal: {
        if (f.values.empty())
          return invalid("ordinal factor '" + f.name + "' has no values", base + ".values");
        for (size_t j = 0; j < f.values.size(); ++j) {
          const double v = f.values[j];
          const std::string field = at(base + ".values", j);
          if (!std::isfinite(v)) return invalid("value is not finite", field);
          if (must_be_positive && v <= 0)
            return invalid("'" + f.name + "' values must be positive", field);
        }
        // Duplicates (to 1e-9) are neighbours once sorted: O(n log n). The
        // field names the first value equal to an earlier one.
        std::vector<size_t> order(f.values.size());
        for (size_t j = 0; j < order.size(); ++j) order[j] = j;
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return f.values[a] < f.values[b]; });
        size_t duplicate = f.values.size();
        for (size_t j = 1; j < order.size(); ++j) {
          if (same_value(f.values[order[j - 1]], f.values[order[j]])) {
            duplicate = std::min(duplicate, std::max(order[j - 1], order[j]));
          }
        }
        if (duplicate < f.values.size()) {
          return invalid("duplicate value in '" + f.name + "'", at(base + ".values", duplicate));
        }
        c.sorted = f.values;
        std::sort(c.sorted.begin(), c.sorted.end());
        c.lo = log_scale ? std::log(c.sorted.front()) : c.sorted.front();
        c.hi = log_scale ? std::log(c.sorted.back()) : c.sorted.back();
        count = f.values.size();
        break;
      }
      case FactorKind::kCategorical: {
        if (f.categories.empty())
          return invalid("categorical factor '" + f.name + "' has no categories",
                         base + ".categories");
        std::set<std::string> labels;
        for (size_t j = 0; j < f.categories.size(); ++j) {
          if (f.categories[j].empty())
            return invalid("category label is empty", at(base + ".categories", j));
          if (!labels.insert(f.categories[j]).second)
            return invalid("duplicate category '" + f.categories[j] + "'",
                           at(base + ".categories", j));
        }
        if (positive.count(f.name) > 0)
          return invalid("a divisibility rule needs a numeric factor", base + ".kind");
        if (log_scale) return invalid("a categorical factor has no scale", base + ".scale");
        count = f.categories.size();
        break;
      }
      case FactorKind::kInteger:
      case FactorKind::kContinuous: {
        const bool is_int = f.kind == FactorKind::kInteger;
        if (!std::isfinite(f.low) || (is_int && !integral(f.low)))
          return invalid(is_int ? "low must be an integer" : "low must be finite", base + ".low");
        if (!std::isfinite(f.high) || (is_int && !integral(f.high)))
          return invalid(is_int ? "high must be an integer" : "high must be finite",
                         base + ".high");
        if (f.low >= f.high) return invalid("low must be less than high", base + ".low");
        if (must_be_positive && f.low <= 0)
          return invalid("'" + f.name + "' must be positive: low must be > 0", base + ".low");
        if (!is_int && positive.count(f.name) > 0)
          return invalid("a divisibility rule needs an ordinal or integer factor", base + ".kind");
        c.lo = log_scale ? std::log(f.low) : f.low;
        c.hi = log_scale ? std::log(f.high) : f.high;
        if (is_int) {
          const double span = f.high - f.low + 1.0;
          if (span > 4.0e18) grid_ok = false;
          count = grid_ok ? static_cast<uint64_t>(span) : 0;
        } else {
          space.discrete_ = false;
        }
        break;
      }
    }
    if (f.kind == FactorKind::kOrdinal && positive.count(f.name) > 0) {
      for (size_t j = 0; j < f.values.size(); ++j) {
        if (!integral(f.values[j]))
          return invalid("a divisibility rule needs integer values", at(base + ".values", j));
      }
    }
    if (space.discrete_ && grid_ok) {
      if (count != 0 && grid > (uint64_t{1} << 62) / count)
        grid_ok = false;
      else
        grid *= count;
    }
  }
  if (space.discrete_ && grid_ok) space.grid_size_ = grid;

  for (size_t k = 0; k < spec.divisibility.size(); ++k) {
    const auto& rule = spec.divisibility[k];
    const std::string base = at("divisibility", k);
    const int divisor = space.find(rule.divisor);
    const int dividend = space.find(rule.dividend);
    if (divisor < 0) return invalid("unknown factor '" + rule.divisor + "'", base + ".divisor");
    if (dividend < 0) return invalid("unknown factor '" + rule.dividend + "'", base + ".dividend");
    if (divisor == dividend) return invalid("a factor cannot divide itself", base + ".dividend");
    space.rules_.emplace_back(divisor, dividend);
  }
  return space;
}

int Space::find(std::string_view name) const {
  for (size_t i = 0; i < spec_.factors.size(); ++i) {
    if (spec_.factors[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Status Space::check(const Point& p, const std::string& field) const {
  if (p.size() != dims()) {
    return invalid("point has " + std::to_string(p.size()) + " values, the space has " +
                       std::to_string(dims()) + " factors",
                   field);
  }
  for (size_t i = 0; i < dims(); ++i) {
    const Factor& f = spec_.factors[i];
    const double v = p[i];
    const std::string fi = at(field, i);
    if (!std::isfinite(v)) return invalid("value of '" + f.name + "' is not finite", fi);
    switch (f.kind) {
      case FactorKind::kOrdinal: {
        const auto& s = compiled_[i].sorted;
        if (std::none_of(s.begin(), s.end(), [&](double x) { return same_value(v, x); })) {
          return invalid("value of '" + f.name + "' is not one of its values", fi);
        }
        break;
      }
      case FactorKind::kCategorical:
        if (!integral(v) || v < 0 || v >= static_cast<double>(f.categories.size())) {
          return invalid("'" + f.name + "' needs a category index", fi);
        }
        break;
      case FactorKind::kInteger:
        if (!integral(v) || v < f.low || v > f.high)
          return invalid("value of '" + f.name + "' is not an integer in [low, high]", fi);
        break;
      case FactorKind::kContinuous:
        if (v < f.low || v > f.high)
          return invalid("value of '" + f.name + "' is outside [low, high]", fi);
        break;
    }
  }
  if (!satisfies_rules(p)) return invalid("point violates a divisibility rule", field);
  return Status::ok();
}

Point Space::canonical(const Point& p) const {
  Point out = p;
  for (size_t i = 0; i < dims(); ++i) {
    const Factor& f = spec_.factors[i];
    if (f.kind == FactorKind::kOrdinal) {
      for (double x : compiled_[i].sorted) {
        if (same_value(p[i], x)) out[i] = x;
      }
    } else if (f.kind != FactorKind::kContinuous) {
      out[i] = std::round(p[i]);
    }
  }
  return out;
}

bool Space::satisfies_rules(const Point& p) const {
  for (const auto& [divisor, dividend] : rules_) {
    const auto d = static_cast<int64_t>(std::llround(p[divisor]));
    const auto n = static_cast<int64_t>(std::llround(p[dividend]));
    if (d <= 0 || n % d != 0) return false;
  }
  return true;
}

double Space::to_unit(size_t i, double v) const {
  const Factor& f = spec_.factors[i];
  if (f.kind == FactorKind::kCategorical)
    return (v + 0.5) / static_cast<double>(f.categories.size());
  const Compiled& c = compiled_[i];
  if (c.hi <= c.lo) return 0.5;
  const double s = f.scale == Scale::kLog ? std::log(v) : v;
  return std::clamp((s - c.lo) / (c.hi - c.lo), 0.0, 1.0);
}

double Space::from_unit(size_t i, double u) const {
  const Factor& f = spec_.factors[i];
  u = std::clamp(u, 0.0, 1.0);
  switch (f.kind) {
    case FactorKind::kCategorical: {
      const auto k = f.categories.size();
      return static_cast<double>(std::min(k - 1, static_cast<size_t>(u * static_cast<double>(k))));
    }
    case FactorKind::kOrdinal: {
      const auto& s = compiled_[i].sorted;
      double best = s.front();
      double best_d = 2.0;
      for (double x : s) {
        const double d = std::abs(to_unit(i, x) - u);
        if (d < best_d) {
          best_d = d;
          best = x;
        }
      }
      return best;
    }
    case FactorKind::kInteger:
    case FactorKind::kContinuous: {
      const Compiled& c = compiled_[i];
      const double s = c.lo + u * (c.hi - c.lo);
      double v = f.scale == Scale::kLog ? std::exp(s) : s;
      v = std::clamp(v, f.low, f.high);
      return f.kind == FactorKind::kInteger ? std::round(v) : v;
    }
  }
  return u;
}

void Space::encode(const Point& p, double* out) const {
  for (size_t i = 0; i < dims(); ++i) out[i] = to_unit(i, p[i]);
}

std::vector<double> Space::encode(const Point& p) const {
  std::vector<double> u(dims());
  encode(p, u.data());
  return u;
}

Point Space::decode(const std::vector<double>& u) const {
  Point p(dims());
  for (size_t i = 0; i < dims(); ++i) p[i] = from_unit(i, u[i]);
  return p;
}

Point Space::sample(Rng& rng) const {
  Point p(dims());
  for (size_t i = 0; i < dims(); ++i) {
    const Factor& f = spec_.factors[i];
    switch (f.kind) {
      case FactorKind::kOrdinal:
        p[i] = compiled_[i].sorted[rng.below(compiled_[i].sorted.size())];
        break;
      case FactorKind::kCategorical:
        p[i] = static_cast<double>(rng.below(f.categories.size()));
        break;
      case FactorKind::kInteger:
        if (f.scale == Scale::kLog) {
          p[i] = from_unit(i, rng.uniform());
        } else {
          p[i] = f.low + static_cast<double>(rng.below(static_cast<size_t>(f.high - f.low + 1.0)));
        }
        break;
      case FactorKind::kContinuous:
        p[i] = from_unit(i, rng.uniform());
        break;
    }
  }
  return p;
}

std::optional<Point> Space::sample_valid(Rng& rng, int tries) const {
  for (int t = 0; t < tries; ++t) {
    Point p = sample(rng);
    if (satisfies_rules(p)) return p;
  }
  return std::nullopt;
}

Point Space::centre() const {
  return decode(std::vector<double>(dims(), 0.5));
}

void Space::for_each(const std::function<bool(const Point&)>& fn) const {
  const size_t d = dims();
  std::vector<size_t> idx(d, 0), size(d, 0);
  Point p(d);
  for (size_t i = 0; i < d; ++i) {
    const Factor& f = spec_.factors[i];
    switch (f.kind) {
      case FactorKind::kOrdinal:
        size[i] = compiled_[i].sorted.size();
        break;
      case FactorKind::kCategorical:
        size[i] = f.categories.size();
        break;
      case FactorKind::kInteger:
        size[i] = static_cast<size_t>(f.high - f.low + 1.0);
        break;
      case FactorKind::kContinuous:
        return;
    }
  }
  auto value = [&](size_t i) {
    const Factor& f = spec_.factors[i];
    switch (f.kind) {
      case FactorKind::kOrdinal:
        return compiled_[i].sorted[idx[i]];
      case FactorKind::kInteger:
        return f.low + static_cast<double>(idx[i]);
      default:
        return static_cast<double>(idx[i]);
    }
  };
  for (;;) {
    for (size_t i = 0; i < d; ++i) p[i] = value(i);
    if (satisfies_rules(p) && !fn(p)) return;
    size_t i = d;
    while (i > 0) {
      --i;
      if (++idx[i] < size[i]) break;
      idx[i] = 0;
      if (i == 0) return;
    }
  }
}

}  // namespace autodistill::bo
