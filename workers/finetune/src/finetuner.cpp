#include "autodistill/finetune/finetuner.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "autodistill/model/pretraining_examples.hpp"

namespace autodistill::finetune {

namespace {

struct Encoded {
  std::vector<int64_t> ids;
  std::vector<int64_t> types;
  int64_t label = 0;
};

// [CLS] A [SEP] (B [SEP]), the longer side cut first until it fits.
Encoded encode(const model::WordPieceTokenizer& tokenizer, const model::SpecialTokens& special,
               const GlueExample& e, bool pair, int64_t max_len, bool* truncated) {
  std::vector<int32_t> a = tokenizer.encode(e.text_a);
  std::vector<int32_t> b = pair ? tokenizer.encode(e.text_b) : std::vector<int32_t>{};
  const size_t room = static_cast<size_t>(max_len - (pair ? 3 : 2));
  *truncated = a.size() + b.size() > room;
  while (a.size() + b.size() > room) (a.size() >= b.size() ? a : b).pop_back();
  Encoded out;
  out.label = e.label;
  out.ids.push_back(special.cls);
  out.ids.insert(out.ids.end(), a.begin(), a.end());
  out.ids.push_back(special.sep);
  out.types.assign(out.ids.size(), 0);
  if (pair) {
    out.ids.insert(out.ids.end(), b.begin(), b.end());
    out.ids.push_back(special.sep);
    out.types.resize(out.ids.size(), 1);
  }
  return out;
}

struct Batch {
  model::ModelInputs inputs;
  at::Tensor labels;
};

Batch collate(const std::vector<const Encoded*>& examples, int64_t pad, const at::Device& device) {
  size_t longest = 0;
  for (const Encoded* e : examples) longest = std::max(longest, e->ids.size());
  const auto n = static_cast<int64_t>(examples.size());
  const auto s = static_cast<int64_t>(longest);
  at::Tensor ids = at::full({n, s}, pad, at::kLong);
  at::Tensor types = at::zeros({n, s}, at::kLong);
  at::Tensor mask = at::zeros({n, s}, at::kLong);
  at::Tensor labels = at::empty({n}, at::kLong);
  auto ia = ids.accessor<int64_t, 2>();
  auto ta = types.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  auto la = labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) {
    const Encoded& e = *examples[static_cast<size_t>(i)];
    for (size_t j = 0; j < e.ids.size(); ++j) {
      ia[i][static_cast<int64_t>(j)] = e.ids[j];
      ta[i][static_cast<int64_t>(j)] = e.types[j];
      ma[i][static_cast<int64_t>(j)] = 1;
    }
    la[i] = e.label;
  }
  Batch batch;
  batch.inputs.input_ids = ids.to(device);
  batch.inputs.token_type_ids = types.to(device);
  batch.inputs.attention_mask = mask.to(device);
  batch.labels = labels.to(device);
  return batch;
}

// AdamW with bias-corrected moments; decoupled weight decay where `decay`.
class AdamW {
 public:
  struct Param {
    at::Tensor value, m, v;
    bool decay;
  };
  AdamW(std::vector<std::pair<at::Tensor, bool>> params, double weight_decay)
      : weight_decay_(weight_decay) {
    for (auto& [t, decay] : params) {
      params_.push_back({t, at::zeros_like(t), at::zeros_like(t), decay});
    }
  }
  void zero_grad() {
    for (Param& p : params_) {
      if (p.value.grad().defined()) p.value.mutable_grad().zero_();
    }
  }
  void step(double lr) {
    ++t_;
    const double c1 = 1.0 - std::pow(kBeta1, static_cast<double>(t_));
    const double c2 = 1.0 - std::pow(kBeta2, static_cast<double>(t_));
    at::NoGradGuard no_grad;
    for (Param& p : params_) {
      const at::Tensor& g = p.value.grad();
      if (!g.defined()) continue;
      p.m.mul_(kBeta1).add_(g, 1.0 - kBeta1);
      p.v.mul_(kBeta2).addcmul_(g, g, 1.0 - kBeta2);
      if (p.decay && weight_decay_ > 0) p.value.mul_(1.0 - lr * weight_decay_);
      const at::Tensor denom = (p.v / c2).sqrt_().add_(kEps);
      p.value.addcdiv_(p.m, denom, -lr / c1);
    }
  }

 private:
  static constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-6;
  std::vector<Param> params_;
  double weight_decay_;
  int64_t t_ = 0;
};

bool decays(const std::string& name, const at::Tensor& t) {
  const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
  return t.dim() > 1 && !bias && name.find("LayerNorm") == std::string::npos;
}

double mean(const std::vector<double>& v, size_t begin, size_t end) {
  double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += v[i];
  return end > begin ? sum / static_cast<double>(end - begin) : 0.0;
}

}  // namespace

Status validate(const FinetuneOptions& o) {
  auto bad = [](const char* field, const std::string& what) {
    return Status(Code::kInvalidArgument, std::string(field) + " " + what, field);
  };
  if (o.epochs < 1) return bad("epochs", "must be at least 1");
  if (o.batch_size < 1) return bad("batch_size", "must be at least 1");
  if (o.max_seq_len < 4) return bad("max_seq_len", "must be at least 4");
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate)) {
    return bad("learning_rate", "must be a positive number");
  }
  if (!(o.warmup_fraction >= 0 && o.warmup_fraction <= 1)) {
    return bad("warmup_fraction", "must be in [0, 1]");
  }
  if (!(o.weight_decay >= 0 && o.weight_decay < 1)) return bad("weight_decay", "must be in [0, 1)");
  if (!(o.dropout >= 0 && o.dropout < 1)) return bad("dropout", "must be in [0, 1)");
  if (!(o.clip_norm > 0)) return bad("clip_norm", "must be positive");
  if (o.pooling != Pooling::kCls && o.pooling != Pooling::kMean) {
    return bad("pooling", "must be cls or mean");
  }
  if (o.max_train_examples < 0) return bad("max_train_examples", "must be at least 0");
  return Status::ok();
}

Result<Pooling> parse_pooling(const std::string& name) {
  if (name == "cls") return Pooling::kCls;
  if (name == "mean") return Pooling::kMean;
  return Status(Code::kInvalidArgument, "pooling must be cls or mean, not \"" + name + "\"",
                "pooling");
}

const char* to_string(Pooling pooling) {
  return pooling == Pooling::kCls ? "cls" : "mean";
}

nlohmann::ordered_json scores_json(const Scores& s) {
  return {{"examples", s.examples},
          {"accuracy", s.accuracy},
          {"f1", s.f1},
          {"macro_f1", s.macro_f1},
          {"confusion", s.confusion}};
}

nlohmann::ordered_json options_json(const FinetuneOptions& options) {
  return {{"epochs", options.epochs},
          {"batch_size", options.batch_size},
          {"max_seq_len", options.max_seq_len},
          {"learning_rate", options.learning_rate},
          {"warmup_fraction", options.warmup_fraction},
          {"weight_decay", options.weight_decay},
          {"dropout", options.dropout},
          {"pooling", to_string(options.pooling)},
          {"seed", options.seed}};
}

Scores scores(const std::vector<int64_t>& gold, const std::vector<int64_t>& predicted,
              int64_t num_labels) {
  Scores s;
  const auto k = static_cast<size_t>(num_labels);
  s.confusion.assign(k, std::vector<int64_t>(k, 0));
  int64_t right = 0;
  for (size_t i = 0; i < gold.size() && i < predicted.size(); ++i) {
    ++s.confusion[static_cast<size_t>(gold[i])][static_cast<size_t>(predicted[i])];
    right += gold[i] == predicted[i];
  }
  s.examples = static_cast<int64_t>(std::min(gold.size(), predicted.size()));
  s.accuracy = s.examples > 0 ? static_cast<double>(right) / static_cast<double>(s.examples) : 0;
  std::vector<double> f1(k, 0.0);
  for (size_t c = 0; c < k; ++c) {
    int64_t tp = s.confusion[c][c], gold_c = 0, predicted_c = 0;
    for (size_t o = 0; o < k; ++o) {
      gold_c += s.confusion[c][o];
      predicted_c += s.confusion[o][c];
    }
    // F1 = 2 tp / (|gold| + |predicted|).
    f1[c] = gold_c + predicted_c > 0
                ? 2.0 * static_cast<double>(tp) / static_cast<double>(gold_c + predicted_c)
                : 0.0;
  }
  s.macro_f1 = k > 0 ? mean(f1, 0, k) : 0.0;
  s.f1 = k == 2 ? f1[1] : s.macro_f1;
  return s;
}

Result<FinetuneReport> fine_tune(Encoder& encoder, const GlueTask& task,
                                 const FinetuneOptions& options,
                                 const FinetuneProgressFn& progress) {
  if (Status s = validate(options); !s) return s;
  if (options.max_seq_len > encoder.max_positions()) {
    return Status(Code::kInvalidArgument,
                  "max_seq_len " + std::to_string(options.max_seq_len) + " is beyond the model's " +
                      std::to_string(encoder.max_positions()) + " positions",
                  "max_seq_len");
  }
  if (task.pair && encoder.type_vocab_size() < 2) {
    return Status(Code::kInvalidArgument,
                  "a sentence-pair task needs two segment types; the model has one",
                  "type_vocab_size");
  }
  if (task.labels.size() < 2 || task.train.empty() || task.dev.empty()) {
    return Status(Code::kInvalidArgument, "the task needs two labels, train and dev examples",
                  "task");
  }
  auto special = model::special_tokens(encoder.tokenizer().vocab());
  if (!special) return special.status();
  const auto num_labels = static_cast<int64_t>(task.labels.size());
  const at::Device device = options.device;
  encoder.to(device);

  FinetuneReport report;
  std::vector<Encoded> train, dev;
  int64_t tokens = 0, unknown = 0;
  const size_t limit =
      options.max_train_examples > 0
          ? std::min(task.train.size(), static_cast<size_t>(options.max_train_examples))
          : task.train.size();
  for (size_t i = 0; i < limit; ++i) {
    bool cut = false;
    train.push_back(
        encode(encoder.tokenizer(), *special, task.train[i], task.pair, options.max_seq_len, &cut));
    report.truncated_examples += cut;
    for (int64_t id : train.back().ids) unknown += id == special->unk;
    tokens += static_cast<int64_t>(train.back().ids.size());
  }
  for (const GlueExample& e : task.dev) {
    bool cut = false;
    dev.push_back(encode(encoder.tokenizer(), *special, e, task.pair, options.max_seq_len, &cut));
    report.truncated_examples += cut;
  }
  report.train_examples = static_cast<int64_t>(train.size());
  report.unk_rate = tokens > 0 ? static_cast<double>(unknown) / static_cast<double>(tokens) : 0;

  // The majority baseline.
  std::vector<int64_t> label_counts(static_cast<size_t>(num_labels), 0);
  for (const Encoded& e : train) ++label_counts[static_cast<size_t>(e.label)];
  report.majority_label =
      std::max_element(label_counts.begin(), label_counts.end()) - label_counts.begin();
  std::vector<int64_t> gold;
  for (const Encoded& e : dev) gold.push_back(e.label);
  report.majority =
      scores(gold, std::vector<int64_t>(gold.size(), report.majority_label), num_labels);

  // The head, seeded by a generator of its own.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  const int64_t hidden = encoder.hidden_size();
  at::Tensor head_weight =
      at::normal(0.0, 0.02, {num_labels, hidden}, generator).to(device).requires_grad_(true);
  at::Tensor head_bias = at::zeros({num_labels}, at::kFloat).to(device).requires_grad_(true);

  std::vector<std::pair<at::Tensor, bool>> params;
  std::vector<at::Tensor> tensors;
  for (const auto& [name, t] : encoder.named_parameters()) {
    params.push_back({t, decays(name, t)});
    tensors.push_back(t);
  }
  params.push_back({head_weight, true});
  params.push_back({head_bias, false});
  tensors.push_back(head_weight);
  tensors.push_back(head_bias);
  AdamW optimizer(params, options.weight_decay);

  const auto per_epoch =
      (static_cast<int64_t>(train.size()) + options.batch_size - 1) / options.batch_size;
  const int64_t total = per_epoch * options.epochs;
  const auto warmup =
      static_cast<int64_t>(std::llround(options.warmup_fraction * static_cast<double>(total)));
  auto rate = [&](int64_t step) {  // linear warm-up, then linear decay to 0
    if (step < warmup)
      return options.learning_rate * static_cast<double>(step + 1) / static_cast<double>(warmup);
    return options.learning_rate * static_cast<double>(total - step) /
           static_cast<double>(std::max<int64_t>(1, total - warmup));
  };
  auto logits_of = [&](const Batch& batch, bool train_mode) {
    const at::Tensor sequence = encoder.sequence_output(batch.inputs);
    at::Tensor pooled;
    if (options.pooling == Pooling::kMean) {  // mean over the real tokens
      const at::Tensor mask = batch.inputs.attention_mask.to(at::kFloat).unsqueeze(-1);
      pooled = (sequence * mask).sum(1) / mask.sum(1).clamp_min(1.0);
    } else {
      pooled = encoder.pooled_output(sequence);
    }
    if (train_mode && options.dropout > 0) {
      at::Tensor keep = at::empty(pooled.sizes(), at::kFloat)
                            .bernoulli_(1.0 - options.dropout, generator)
                            .div_(1.0 - options.dropout);
      pooled = pooled * keep.to(device);
    }
    return at::linear(pooled, head_weight, head_bias);
  };

  std::mt19937_64 order_rng(options.seed);
  std::vector<size_t> order(train.size());
  std::vector<double> losses;
  const auto start = std::chrono::steady_clock::now();
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (size_t i = order.size(); i > 1; --i) {  // Fisher-Yates, the same on every platform
      std::swap(order[i - 1], order[order_rng() % i]);
    }
    for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(options.batch_size)) {
      std::vector<const Encoded*> members;
      const size_t end = std::min(order.size(), begin + static_cast<size_t>(options.batch_size));
      for (size_t i = begin; i < end; ++i) {
        members.push_back(&train[order[i]]);
      }
      const Batch batch = collate(members, special->pad, device);
      at::Tensor loss = at::nll_loss(at::log_softmax(logits_of(batch, true), 1), batch.labels);
      optimizer.zero_grad();
      loss.backward();
      {
        at::NoGradGuard no_grad;
        std::vector<at::Tensor> norms;
        for (const at::Tensor& t : tensors) {
          if (t.grad().defined()) norms.push_back(t.grad().norm().pow(2));
        }
        const double norm = at::stack(norms).sum().sqrt().item<double>();
        if (norm > options.clip_norm) {
          for (const at::Tensor& t : tensors) {
            if (t.grad().defined()) t.mutable_grad().mul_(options.clip_norm / (norm + 1e-6));
          }
        }
      }
      const double lr = rate(step);
      optimizer.step(lr);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        return Status(Code::kTrialError, "fine-tuning diverged: the loss is not finite at step " +
                                             std::to_string(step + 1));
      }
      losses.push_back(value);
      ++step;
      if (progress) {
        const size_t window = std::min<size_t>(losses.size(), 20);
        if (!progress({step, total, mean(losses, losses.size() - window, losses.size()), lr})) {
          return Status(Code::kCancelled, "fine-tuning cancelled");
        }
      }
    }
  }
  report.train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.steps = step;
  const size_t tenth = std::max<size_t>(1, losses.size() / 10);
  report.first_loss = mean(losses, 0, tenth);
  report.last_loss = mean(losses, losses.size() - tenth, losses.size());

  std::vector<int64_t> predicted;
  {
    at::NoGradGuard no_grad;
    constexpr size_t kEvalBatch = 64;
    for (size_t begin = 0; begin < dev.size(); begin += kEvalBatch) {
      std::vector<const Encoded*> members;
      for (size_t i = begin; i < std::min(dev.size(), begin + kEvalBatch); ++i) {
        members.push_back(&dev[i]);
      }
      const at::Tensor argmax = logits_of(collate(members, special->pad, device), false)
                                    .argmax(1)
                                    .to(at::kCPU)
                                    .contiguous();
      const int64_t* p = argmax.data_ptr<int64_t>();
      predicted.insert(predicted.end(), p, p + argmax.numel());
    }
  }
  report.dev = scores(gold, predicted, num_labels);
  return report;
}

}  // namespace autodistill::finetune
