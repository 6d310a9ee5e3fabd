// Transfer losses, LAMB against a hand-computed update, the schedule,
// gradient clipping and the step plan.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "autodistill/distill/distiller.hpp"
#include "autodistill/distill/lamb.hpp"
#include "autodistill/distill/losses.hpp"

using namespace autodistill::distill;

namespace {

at::Generator gen(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

at::Tensor attention(int64_t n, int64_t heads, int64_t s, uint64_t seed, const at::Tensor& mask) {
  at::Tensor scores = at::randn({n, heads, s, s}, gen(seed));
  at::Tensor bias = (1 - mask.to(at::kFloat)).view({n, 1, 1, s}) * -1e9;
  return at::softmax(scores + bias, -1);
}

double value(const at::Tensor& t) {
  return t.item<double>();
}

}  // namespace

TEST_CASE("attention KL: zero for identical maps, positive otherwise, padding ignored") {
  at::Tensor mask = at::ones({2, 6}, at::kLong);
  mask[1].narrow(0, 4, 2).fill_(0);
  const at::Tensor a = attention(2, 4, 6, 1, mask), b = attention(2, 4, 6, 2, mask);
  CHECK(std::abs(value(attention_kl(a, a, mask))) < 1e-7);
  CHECK(value(attention_kl(a, b, mask)) > 0.01);
  // Per head: equals the mean of the per-row KL over heads and real rows.
  const at::Tensor per_row = (a * (a.clamp_min(1e-30).log() - b.clamp_min(1e-30).log())).sum(-1);
  const at::Tensor rows = mask.to(at::kFloat).unsqueeze(1).expand({2, 4, 6});
  CHECK(value(attention_kl(a, b, mask)) ==
        Approx(value((per_row * rows).sum() / rows.sum())).epsilon(1e-5));
  // What padded query rows hold does not matter.
  at::Tensor c = b.clone();
  c[1].narrow(1, 4, 2).copy_(a[1].narrow(1, 4, 2).flip(-1));
  CHECK(value(attention_kl(a, b, mask)) == Approx(value(attention_kl(a, c, mask))));
  // Different head counts: compared after averaging over heads.
  const at::Tensor two = attention(2, 2, 6, 3, mask);
  const double mixed = value(attention_kl(a, two, mask));
  CHECK(mixed == Approx(value(attention_kl(a.mean(1, true), two.mean(1, true), mask))));
  at::Tensor averaged = a.mean(1, true).expand({2, 2, 6, 6}).contiguous();
  CHECK(std::abs(value(attention_kl(a, averaged, mask))) < 1e-7);
}

TEST_CASE("feature MSE: zero for identical maps, the mean over real positions otherwise") {
  at::Tensor mask = at::ones({2, 5}, at::kLong);
  mask[0].narrow(0, 3, 2).fill_(0);
  const at::Tensor f = at::randn({2, 5, 8}, gen(4)), g = at::randn({2, 5, 8}, gen(5));
  CHECK(value(feature_mse(f, f, mask)) == 0.0);
  const at::Tensor weight = mask.to(at::kFloat).unsqueeze(-1);
  CHECK(value(feature_mse(f, g, mask)) ==
        Approx(value(((f - g).pow(2) * weight).sum() / (weight.sum() * 8))));
  CHECK(value(feature_mse(f, g, mask)) > 0.5);
}

TEST_CASE("MLM distillation: zero for identical logits, T^2-scaled KL otherwise") {
  const at::Tensor s = at::randn({7, 11}, gen(6)), t = at::randn({7, 11}, gen(7));
  CHECK(std::abs(value(mlm_distill_loss(s, s, 2.0))) < 1e-6);
  CHECK(value(mlm_distill_loss(s, t, 1.0)) > 0.1);
  const at::Tensor pt = at::softmax(t / 2.0, -1);
  const double kl = value((pt * (pt.log() - at::log_softmax(s / 2.0, -1))).sum(-1).mean());
  CHECK(value(mlm_distill_loss(s, t, 2.0)) == Approx(4.0 * kl).epsilon(1e-5));
  const at::Tensor labels = at::tensor(std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}, at::kLong);
  CHECK(value(mlm_loss(s, labels)) ==
        Approx(-value(at::log_softmax(s, -1).gather(1, labels.unsqueeze(1)).mean())).epsilon(1e-5));
}

TEST_CASE("LAMB: one and two steps match a hand computation") {
  const std::vector<double> w0 = {1.0, -2.0, 3.0, 0.5}, g = {0.1, -0.4, 0.2, 0.3};
  const std::vector<double> b0 = {0.25, -0.5}, gb = {0.05, 0.1};
  at::Tensor w = at::tensor(std::vector<float>(w0.begin(), w0.end())).view({2, 2}).requires_grad_();
  at::Tensor b = at::tensor(std::vector<float>(b0.begin(), b0.end())).requires_grad_();
  LambOptions o;
  o.weight_decay = 0.1;
  Lamb lamb({{{w}, true}, {{b}, false}}, o);
  const double lr = 0.01;

  // Reference: the formulas, in doubles.
  auto reference = [&](std::vector<double> p, const std::vector<double>& grad, bool adapt,
                       int steps) {
    std::vector<double> m(p.size(), 0.0), v(p.size(), 0.0);
    for (int t = 1; t <= steps; ++t) {
      std::vector<double> u(p.size());
      for (size_t i = 0; i < p.size(); ++i) {
        m[i] = 0.9 * m[i] + 0.1 * grad[i];
        v[i] = 0.999 * v[i] + 0.001 * grad[i] * grad[i];
        const double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.999, t));
        u[i] = mh / (std::sqrt(vh) + 1e-6) + (adapt ? 0.1 * p[i] : 0.0);
      }
      double ratio = 1.0;
      if (adapt) {
        double pn = 0, un = 0;
        for (size_t i = 0; i < p.size(); ++i) {
          pn += p[i] * p[i];
          un += u[i] * u[i];
        }
        ratio = std::sqrt(pn) / std::sqrt(un);
      }
      for (size_t i = 0; i < p.size(); ++i) p[i] -= lr * ratio * u[i];
    }
    return p;
  };
  for (int step = 1; step <= 2; ++step) {
    w.mutable_grad() = at::tensor(std::vector<float>(g.begin(), g.end())).view({2, 2});
    b.mutable_grad() = at::tensor(std::vector<float>(gb.begin(), gb.end()));
    lamb.step(lr);
    const auto want_w = reference(w0, g, true, step), want_b = reference(b0, gb, false, step);
    for (size_t i = 0; i < 4; ++i) {
      CHECK(w.view({-1})[static_cast<int64_t>(i)].item<double>() ==
            Approx(want_w[i]).epsilon(1e-5));
    }
    for (size_t i = 0; i < 2; ++i) {
      CHECK(b[static_cast<int64_t>(i)].item<double>() == Approx(want_b[i]).epsilon(1e-5));
    }
  }
  // Hand check of step one for w[0]: u = sign(g) + 0.1 w, so the step is lr * ||w|| / ||u|| * u.
  lamb.zero_grad();
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("LAMB groups: LayerNorm, biases and vectors are not adapted") {
  const at::Tensor m = at::zeros({2, 2}), v = at::zeros({2});
  auto groups = lamb_groups({{"encoder.block.0.attention.query.weight", m},
                             {"encoder.block.0.attention.query.bias", v},
                             {"embeddings.LayerNorm.weight", v},
                             {"embeddings.word_embeddings.weight", m}});
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].adapt);
  CHECK(groups[0].params.size() == 2);
  CHECK_FALSE(groups[1].adapt);
  CHECK(groups[1].params.size() == 2);
}

TEST_CASE("gradient clipping and the learning-rate schedule") {
  at::Tensor a = at::zeros({2}).requires_grad_(), b = at::zeros({1}).requires_grad_();
  a.mutable_grad() = at::tensor(std::vector<float>{3.0f, 0.0f});
  b.mutable_grad() = at::tensor(std::vector<float>{4.0f});
  CHECK(clip_grad_norm({a, b}, 1.0) == Approx(5.0));
  CHECK(a.grad()[0].item<double>() == Approx(0.6).epsilon(1e-5));
  CHECK(b.grad()[0].item<double>() == Approx(0.8).epsilon(1e-5));
  CHECK(clip_grad_norm({a, b}, 10.0) == Approx(1.0).epsilon(1e-5));  // under the limit: unchanged
  CHECK(a.grad()[0].item<double>() == Approx(0.6).epsilon(1e-5));

  const LinearSchedule s{1.0, 4, 14};
  CHECK(s.at(0) == Approx(0.25));
  CHECK(s.at(3) == Approx(1.0));
  CHECK(s.at(4) == Approx(1.0));
  CHECK(s.at(9) == Approx(0.5));
  CHECK(s.at(14) == Approx(0.0));
  CHECK(LinearSchedule{2.0, 0, 10}.at(0) == Approx(2.0));
}

TEST_CASE("uniform layer map and the progressive/pre-training step plan") {
  CHECK(teacher_layer_for(1, 4, 24) == 6);
  CHECK(teacher_layer_for(4, 4, 24) == 24);
  CHECK(teacher_layer_for(1, 3, 2) == 1);
  CHECK(teacher_layer_for(2, 3, 2) == 2);
  CHECK(teacher_layer_for(3, 3, 2) == 2);
  CHECK(teacher_layer_for(5, 5, 5) == 5);
  // The paper: 24 stages x 500 steps, then 25k steps (ratio 0.48).
  const StepPlan paper = plan_steps(37000, 0.48, 24);
  CHECK(paper.per_stage == 500);
  CHECK(paper.pretraining == 25000);
  const StepPlan none = plan_steps(100, 0.0, 4);
  CHECK(none.per_stage == 0);
  CHECK(none.pretraining == 100);
  const StepPlan tiny = plan_steps(6, 0.48, 4);
  CHECK(tiny.per_stage == 1);
  CHECK(tiny.pretraining == 2);
}
