#include "autodistill/distill/distiller.hpp"

#include <ATen/ATen.h>

#include <cmath>

#include "autodistill/distill/losses.hpp"
#include "train_loop.hpp"

namespace autodistill::distill {

namespace {

// [from, to] linear-interpolation matrix (align corners): x @ R resamples a
// width-`from` vector to width `to`. Its columns sum to 1.
at::Tensor resample_matrix(int64_t from, int64_t to) {
  at::Tensor r = at::zeros({from, to}, at::kFloat);
  auto a = r.accessor<float, 2>();
  for (int64_t j = 0; j < to; ++j) {
    const double x = to == 1 ? 0.0
                             : static_cast<double>(j) * static_cast<double>(from - 1) /
                                   static_cast<double>(to - 1);
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(x)), from - 1);
    const int64_t i1 = std::min<int64_t>(i0 + 1, from - 1);
    const double f = x - static_cast<double>(i0);
    a[i0][j] += static_cast<float>(1.0 - f);
    a[i1][j] += static_cast<float>(f);
  }
  return r;
}

at::Tensor find(const std::vector<model::NamedTensor>& named, const std::string& name) {
  for (const auto& [n, t] : named) {
    if (n == name) return t;
  }
  return {};
}

}  // namespace

Status validate(const DistillOptions& o) {
  auto bad = [](const char* field, const std::string& why) {
    return Status(Code::kInvalidArgument, std::string(field) + " " + why, field);
  };
  if (o.steps < 1) return bad("steps", "must be at least 1");
  if (!(o.progressive_ratio >= 0.0 && std::isfinite(o.progressive_ratio))) {
    return bad("progressive_ratio", "must be a finite number >= 0");
  }
  if (o.batch_size < 1) return bad("batch_size", "must be at least 1");
  if (o.seq_len < 8) return bad("seq_len", "must be at least 8");
  if (!(o.learning_rate > 0.0 && std::isfinite(o.learning_rate))) {
    return bad("learning_rate", "must be positive");
  }
  if (!(o.warmup_fraction >= 0.0 && o.warmup_fraction < 1.0)) {
    return bad("warmup_fraction", "must be in [0, 1)");
  }
  if (!(o.clip_norm > 0.0)) return bad("clip_norm", "must be positive");
  if (!(o.alpha >= 0.0 && o.alpha <= 1.0)) return bad("alpha", "must be in [0, 1]");
  if (!(o.temperature > 0.0)) return bad("temperature", "must be positive");
  if (!(o.attention_weight >= 0.0)) return bad("attention_weight", "must not be negative");
  if (!(o.feature_weight >= 0.0)) return bad("feature_weight", "must not be negative");
  if (o.eval_batches < 1) return bad("eval_batches", "must be at least 1");
  return Status::ok();
}

int64_t teacher_layer_for(int64_t k, int64_t blocks, int64_t layers) {
  return (k * layers + blocks - 1) / blocks;
}

StepPlan plan_steps(int64_t steps, double progressive_ratio, int64_t blocks) {
  StepPlan plan;
  if (progressive_ratio > 0.0 && blocks > 0) {
    const int64_t progressive =
        std::llround(static_cast<double>(steps) * progressive_ratio / (1.0 + progressive_ratio));
    plan.per_stage = std::max<int64_t>(progressive / blocks, progressive > 0 && steps > blocks);
  }
  plan.pretraining = steps - plan.per_stage * blocks;
  return plan;
}

Status init_student_from_teacher(model::Student& student, const model::Teacher& teacher) {
  const StudentArch& a = student.arch();
  const model::BertConfig& c = teacher.config();
  if (a.vocab_size != c.vocab_size || a.max_positions != c.max_position_embeddings ||
      a.type_vocab_size != c.type_vocab_size) {
    return Status(Code::kInvalidArgument,
                  "the student's vocabulary, positions and token types must be the teacher's");
  }
  at::NoGradGuard no_grad;
  const auto s = student.named_parameters();
  const auto t = teacher.named_parameters();
  const at::Device device = student.device();
  auto get = [&](const std::string& name) { return find(t, name).to(device); };
  auto set = [&](const std::string& name, const at::Tensor& value) {
    find(s, "mobilebert.embeddings." + name).copy_(value);
  };
  const int64_t E = embedding_width(a);
  const at::Tensor r = resample_matrix(c.hidden_size, a.hidden_size).to(device);
  const at::Tensor r_word = resample_matrix(c.hidden_size, E).to(device);
  set("word_embeddings.weight", at::matmul(get("bert.embeddings.word_embeddings.weight"), r_word));
  for (const char* name : {"position_embeddings.weight", "token_type_embeddings.weight",
                           "LayerNorm.weight", "LayerNorm.bias"}) {
    set(name, at::matmul(get(std::string("bert.embeddings.") + name), r));
  }
  // The embedding transformation starts as "the token's own embedding,
  // resampled from E to H": zero on the neighbours' trigram slots.
  if (transforms_embeddings(a)) {
    const at::Tensor up = resample_matrix(E, a.hidden_size).to(device).t();  // [H, E]
    at::Tensor w = find(s, "mobilebert.embeddings.embedding_transformation.weight");
    w.zero_();
    w.narrow(1, a.trigram_input ? E : 0, E).copy_(up);
    find(s, "mobilebert.embeddings.embedding_transformation.bias").zero_();
  }
  find(s, "cls.predictions.bias").copy_(find(t, "cls.predictions.bias"));

  // The heads, resampled the same way: with x_s = x_t D and x_t ~ x_s U,
  // a teacher map y_t = x_t W^T + b becomes y_s = x_s (U W^T D) + b D.
  const at::Tensor& d = r;
  const at::Tensor u = resample_matrix(a.hidden_size, c.hidden_size).to(device);
  for (const auto& [from, to] :
       {std::pair{"cls.predictions.transform.dense", "cls.predictions.transform.dense"},
        std::pair{"bert.pooler.dense", "mobilebert.pooler.dense"}}) {
    find(s, std::string(to) + ".weight")
        .copy_(at::matmul(at::matmul(d.t(), get(std::string(from) + ".weight")), u.t()));
    find(s, std::string(to) + ".bias").copy_(at::matmul(get(std::string(from) + ".bias"), d));
  }
  for (const char* name : {"weight", "bias"}) {
    find(s, std::string("cls.predictions.transform.LayerNorm.") + name)
        .copy_(at::matmul(get(std::string("cls.predictions.transform.LayerNorm.") + name), d));
  }
  // The decoder's rows past the tied E word-embedding columns: the
  // teacher's decoder resampled to H, columns E..H.
  if (E < a.hidden_size) {
    at::Tensor decoder = find(t, "cls.predictions.decoder.weight");
    if (!decoder.defined()) decoder = find(t, "bert.embeddings.word_embeddings.weight");
    find(s, "cls.predictions.dense.weight")
        .copy_(at::matmul(decoder.to(device), d).narrow(1, E, a.hidden_size - E).t());
  }
  find(s, "cls.seq_relationship.weight")
      .copy_(at::matmul(get("cls.seq_relationship.weight"), u.t()));
  find(s, "cls.seq_relationship.bias").copy_(get("cls.seq_relationship.bias"));
  return Status::ok();
}

struct Distiller::Impl {
  model::Student* student;
  const model::Teacher* teacher;
  DistillOptions options;
  // Per block: the dense layer to the teacher's width (weight, bias; empty
  // when the widths are equal).
  std::vector<model::NamedTensor> projections;
  std::vector<model::Batch> eval;
  std::unique_ptr<model::BatchLoader> loader;
  detail::TrainLoop loop;

  static void set_trainable(const std::vector<model::NamedTensor>& params, bool on) {
    for (const auto& [name, t] : params) t.requires_grad_(on);
  }
};

Distiller::Distiller(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Distiller::Distiller(Distiller&&) noexcept = default;
Distiller& Distiller::operator=(Distiller&&) noexcept = default;
Distiller::~Distiller() = default;

Result<Distiller> Distiller::create(model::Student& student, const model::Teacher& teacher,
                                    const model::Corpus& corpus,
                                    const model::WordPieceTokenizer& tokenizer,
                                    DistillOptions options) {
  if (Status s = validate(options); !s) return s;
  const StudentArch& a = student.arch();
  const model::BertConfig& c = teacher.config();
  if (a.vocab_size != c.vocab_size || a.max_positions != c.max_position_embeddings ||
      a.type_vocab_size != c.type_vocab_size) {
    return Status(Code::kInvalidArgument,
                  "the student's vocab_size, max_positions and type_vocab_size must be the "
                  "teacher's (" +
                      std::to_string(c.vocab_size) + ", " +
                      std::to_string(c.max_position_embeddings) + ", " +
                      std::to_string(c.type_vocab_size) + ")",
                  "vocab_size");
  }
  if (options.seq_len > c.max_position_embeddings) {
    return Status(Code::kInvalidArgument,
                  "seq_len " + std::to_string(options.seq_len) + " exceeds the teacher's " +
                      std::to_string(c.max_position_embeddings) + " positions",
                  "seq_len");
  }
  if (tokenizer.vocab().size() > c.vocab_size) {
    return Status(Code::kInvalidArgument,
                  "the vocabulary has " + std::to_string(tokenizer.vocab().size()) +
                      " tokens but the teacher only " + std::to_string(c.vocab_size) +
                      " embeddings",
                  "vocab.txt");
  }
  if (teacher.device() != options.device) {
    return Status(Code::kFailedPrecondition, "the teacher is not on the training device");
  }
  auto special = model::special_tokens(tokenizer.vocab());
  if (!special) return special.status();

  auto impl = std::make_unique<Impl>();
  impl->student = &student;
  impl->teacher = &teacher;
  impl->options = options;
  student.to(options.device);
  if (options.init_from_teacher) {
    if (Status s = init_student_from_teacher(student, teacher); !s) return s;
  }
  if (a.hidden_size != c.hidden_size) {
    const at::Tensor init = resample_matrix(a.hidden_size, c.hidden_size).t().contiguous();
    for (int64_t k = 0; k < a.num_blocks; ++k) {
      const std::string p = "projection." + std::to_string(k) + ".";
      impl->projections.emplace_back(p + "weight",
                                     init.clone().to(options.device).requires_grad_(true));
      impl->projections.emplace_back(
          p + "bias",
          at::zeros({c.hidden_size}, at::kFloat).to(options.device).requires_grad_(true));
    }
  }
  model::ExampleOptions examples;
  examples.seq_len = options.seq_len;
  auto eval = model::make_eval_batches(corpus, tokenizer, examples, options.eval_batches,
                                       options.batch_size, options.eval_seed);
  if (!eval) return eval.status();
  impl->eval = std::move(eval.value());
  auto stream =
      model::ExampleStream::create(corpus, model::Split::kTrain, tokenizer, examples, options.seed);
  if (!stream) return stream.status();
  impl->loader = std::make_unique<model::BatchLoader>(std::move(stream.value()), options.batch_size,
                                                      options.seq_len, special->pad);
  detail::TrainLoop& loop = impl->loop;
  loop.loader = impl->loader.get();
  loop.device = options.device;
  loop.learning_rate = options.learning_rate;
  loop.warmup_fraction = options.warmup_fraction;
  loop.clip_norm = options.clip_norm;
  loop.lamb = options.lamb;
  return Distiller(std::move(impl));
}

Result<PhaseReport> Distiller::progressive_stage(int64_t k, int64_t steps,
                                                 const ProgressFn& progress) {
  Impl& m = *impl_;
  const StudentArch& a = m.student->arch();
  if (k < 0 || k >= a.num_blocks) {
    return Status(Code::kInvalidArgument, "no block " + std::to_string(k), "k");
  }
  const int64_t layer =
      teacher_layer_for(k + 1, a.num_blocks, m.teacher->config().num_hidden_layers);
  const std::string block = "mobilebert.encoder.layer." + std::to_string(k) + ".";
  const auto all = m.student->named_parameters();
  std::vector<model::NamedTensor> params;
  for (const auto& [name, t] : all) {
    if (name.rfind(block, 0) == 0 || (k == 0 && name.rfind("mobilebert.embeddings.", 0) == 0)) {
      params.emplace_back(name, t);
    }
  }
  at::Tensor projection_weight, projection_bias;
  if (!m.projections.empty()) {
    params.push_back(m.projections[2 * k]);
    params.push_back(m.projections[2 * k + 1]);
    projection_weight = m.projections[2 * k].second;
    projection_bias = m.projections[2 * k + 1].second;
  }
  m.set_trainable(all, false);
  m.set_trainable(params, true);

  model::ForwardOptions teacher_options;
  teacher_options.num_layers = layer;
  teacher_options.heads = false;
  model::ForwardOptions student_options;
  student_options.num_layers = k + 1;
  student_options.heads = false;
  const std::string phase =
      "progressive " + std::to_string(k + 1) + "/" + std::to_string(a.num_blocks);
  auto report = m.loop.run(
      phase, steps, params,
      [&](const model::Batch& b) {
        model::ModelOutputs t;
        {
          at::NoGradGuard no_grad;
          t = m.teacher->forward(b.inputs, teacher_options);
        }
        const model::ModelOutputs s = m.student->forward(b.inputs, student_options);
        at::Tensor feature = s.hidden_states[k + 1];
        if (projection_weight.defined())
          feature = at::linear(feature, projection_weight, projection_bias);
        const at::Tensor& mask = b.inputs.attention_mask;
        return m.options.attention_weight *
                   attention_kl(t.attentions[layer - 1], s.attentions[k], mask) +
               m.options.feature_weight * feature_mse(t.hidden_states[layer], feature, mask);
      },
      progress);
  m.set_trainable(all, true);
  return report;
}

Result<PhaseReport> Distiller::pretraining(int64_t steps, const ProgressFn& progress) {
  Impl& m = *impl_;
  const auto params = m.student->named_parameters();
  m.set_trainable(params, true);
  const double alpha = m.options.alpha, temperature = m.options.temperature;
  return m.loop.run(
      "pretraining", steps, params,
      [&](const model::Batch& b) {
        model::ForwardOptions options;
        options.attentions = false;
        options.mlm_positions = b.mlm_positions;
        model::ModelOutputs t;
        {
          at::NoGradGuard no_grad;
          t = m.teacher->forward(b.inputs, options);
        }
        const model::ModelOutputs s = m.student->forward(b.inputs, options);
        at::Tensor loss = nsp_loss(s.nsp_logits, b.nsp_labels);
        if (alpha > 0.0) loss = loss + alpha * mlm_loss(s.mlm_logits, b.mlm_labels);
        if (alpha < 1.0) {
          loss = loss + (1.0 - alpha) * mlm_distill_loss(s.mlm_logits, t.mlm_logits, temperature);
        }
        return loss;
      },
      progress);
}

EvalResult Distiller::evaluate() const {
  const model::Student* student = impl_->student;
  return distill::evaluate(
      [student](const model::ModelInputs& in, const model::ForwardOptions& o) {
        return student->forward(in, o);
      },
      impl_->eval, impl_->options.device);
}

Result<DistillReport> Distiller::run(const ProgressFn& progress) {
  Impl& m = *impl_;
  const StudentArch& a = m.student->arch();
  const StepPlan plan = plan_steps(m.options.steps, m.options.progressive_ratio, a.num_blocks);
  m.loop.planned = m.loop.done + plan.per_stage * a.num_blocks + plan.pretraining;
  DistillReport report;
  if (plan.per_stage > 0) {
    for (int64_t k = 0; k < a.num_blocks; ++k) {
      auto stage = progressive_stage(k, plan.per_stage, progress);
      if (!stage) return stage.status();
      report.phases.push_back(*stage);
    }
  }
  auto pre = pretraining(plan.pretraining, progress);
  if (!pre) return pre.status();
  report.phases.push_back(*pre);
  report.steps = m.loop.done;
  report.train_seconds = m.loop.seconds;
  report.tokens_per_second =
      m.loop.seconds > 0 ? static_cast<double>(m.loop.tokens) / m.loop.seconds : 0.0;
  report.eval = evaluate();
  return report;
}

}  // namespace autodistill::distill
