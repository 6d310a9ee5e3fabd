#pragma once
// Small builders for study specs in tests.
#include <memory>
#include <string>
#include <vector>

#include "autodistill/wire/codec.hpp"

namespace autodistill::testing {

inline std::unique_ptr<wire::FactorT> ordinal(std::string name, std::vector<double> values) {
  auto f = std::make_unique<wire::FactorT>();
  f->name = std::move(name);
  f->kind = wire::FactorKind::Ordinal;
  f->values = std::move(values);
  return f;
}

inline std::unique_ptr<wire::FactorT> continuous(std::string name, double low, double high) {
  auto f = std::make_unique<wire::FactorT>();
  f->name = std::move(name);
  f->kind = wire::FactorKind::Continuous;
  f->low = low;
  f->high = high;
  return f;
}

inline std::unique_ptr<wire::ObjectiveT> objective(std::string name, bool maximize) {
  auto o = std::make_unique<wire::ObjectiveT>();
  o->name = std::move(name);
  o->direction = maximize ? wire::Direction::Maximize : wire::Direction::Minimize;
  return o;
}

inline std::unique_ptr<wire::ConstraintT> constraint(std::string metric, bool le, double bound) {
  auto c = std::make_unique<wire::ConstraintT>();
  c->metric = std::move(metric);
  c->comparison = le ? wire::Comparison::LessEqual : wire::Comparison::GreaterEqual;
  c->bound = bound;
  return c;
}

// An External study over x in [0, 1] and a 3-value ordinal, two objectives.
inline wire::StudySpecT external_spec(uint32_t max_trials, uint32_t parallelism = 2) {
  wire::StudySpecT s;
  s.name = "external-test";
  s.kind = wire::StudyKind::External;
  s.factors.push_back(continuous("x", 0, 1));
  s.factors.push_back(ordinal("width", {64, 128, 256}));
  s.objectives.push_back(objective("f1", false));
  s.objectives.push_back(objective("f2", false));
  s.max_trials = max_trials;
  s.parallelism = parallelism;
  return s;
}

// A Distill study over a small Table-1-like space.
inline wire::StudySpecT distill_spec(const std::string& teacher, const std::string& corpus) {
  wire::StudySpecT s;
  s.name = "distill-test";
  s.kind = wire::StudyKind::Distill;
  s.factors.push_back(ordinal("num_blocks", {2, 4}));
  s.factors.push_back(ordinal("hidden_size", {128, 256}));
  s.factors.push_back(ordinal("bottleneck_size", {64, 128}));
  s.factors.push_back(ordinal("num_heads", {2, 4}));
  s.factors.push_back(ordinal("intermediate_size", {256, 512}));
  s.factors.push_back(ordinal("num_stacked_ffn", {1, 2}));
  s.objectives.push_back(objective("accuracy", true));
  s.objectives.push_back(objective("latency_ms", false));
  s.teacher_digest = teacher;
  s.corpus_digest = corpus;
  s.hardware_tag = "cpu-test";
  s.max_trials = 3;
  s.parallelism = 3;
  return s;
}

// A value of a numeric factor (baselines).
inline std::unique_ptr<wire::ParamValueT> param(std::string name, double number) {
  auto p = std::make_unique<wire::ParamValueT>();
  p->name = std::move(name);
  p->number = number;
  return p;
}

// A baseline architecture in distill_spec()'s space.
inline void set_baseline(wire::StudySpecT& s,
                         std::vector<double> sizes = {4, 256, 128, 4, 512, 2}) {
  const char* names[] = {"num_blocks", "hidden_size",       "bottleneck_size",
                         "num_heads",  "intermediate_size", "num_stacked_ffn"};
  s.baseline.clear();
  for (size_t i = 0; i < sizes.size() && i < 6; ++i)
    s.baseline.push_back(param(names[i], sizes[i]));
}

inline std::unique_ptr<wire::SelectionT> selection(wire::SelectionRule rule, uint32_t k,
                                                   std::string metric = "") {
  auto sel = std::make_unique<wire::SelectionT>();
  sel->rule = rule;
  sel->k = k;
  sel->metric = std::move(metric);
  return sel;
}

}  // namespace autodistill::testing
