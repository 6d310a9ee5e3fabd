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
  const model::Corpus* corpus;
  const model::WordPieceTokenizer* tokenizer;
  int32_t pad_id = 0;
  DistillOptions options;
  // Per block: the dense layer to the teacher's width (weight, bias; empty
  // when the widths are equal).
  std::vector<model::NamedTensor> projections;
  std::vector<model::Batch> eval;
  std::unique_ptr<model::BatchLoader> loader;
  detail::TrainLoop loop;
  // train(): the phase running (or next to run) and the reports of those before it.
  int64_t phase = 0;
  std::vector<PhaseReport> finished;

  static void set_trainable(const std::vector<model::NamedTensor>& params, bool on) {
    for (const auto& [name, t] : params) t.requires_grad_(on);
  }

  // What progressive stage k trains: block k (and the embeddings in stage 1)
  // and its projection.
  std::vector<model::NamedTensor> stage_params(int64_t k) const {
    const std::string block = "mobilebert.encoder.layer." + std::to_string(k) + ".";
    std::vector<model::NamedTensor> params;
    for (const auto& [name, t] : student->named_parameters()) {
      if (name.rfind(block, 0) == 0 || (k == 0 && name.rfind("mobilebert.embeddings.", 0) == 0)) {
        params.emplace_back(name, t);
      }
    }
    if (!projections.empty()) {
      params.push_back(projections[2 * k]);
      params.push_back(projections[2 * k + 1]);
    }
    return params;
  }

  // The schedule: per phase, its steps and the parameters it trains.
  struct Phase {
    int64_t stage = -1;  // progressive stage k, or -1 for pre-training
    int64_t steps = 0;
  };
  std::vector<Phase> schedule() const {
    const int64_t blocks = student->arch().num_blocks;
    const StepPlan plan = plan_steps(options.steps, options.progressive_ratio, blocks);
    std::vector<Phase> phases;
    if (plan.per_stage > 0) {
      for (int64_t k = 0; k < blocks; ++k) phases.push_back({k, plan.per_stage});
    }
    phases.push_back({-1, plan.pretraining});
    return phases;
  }
  std::vector<model::NamedTensor> phase_params(const Phase& phase) const {
    return phase.stage >= 0 ? stage_params(phase.stage) : student->named_parameters();
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
  impl->corpus = &corpus;
  impl->tokenizer = &tokenizer;
  impl->pad_id = special->pad;
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
  const auto all = m.student->named_parameters();
  const std::vector<model::NamedTensor> params = m.stage_params(k);
  at::Tensor projection_weight, projection_bias;
  if (!m.projections.empty()) {
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
      [&](const model::Batch& b, const detail::LossShares& shares) {
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
        // Both are means over real tokens: scaled by the shard's share of them.
        return m.options.attention_weight *
                   detail::scaled(attention_kl(t.attentions[layer - 1], s.attentions[k], mask),
                                  shares.tokens) +
               m.options.feature_weight *
                   detail::scaled(feature_mse(t.hidden_states[layer], feature, mask),
                                  shares.tokens);
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
      [&](const model::Batch& b, const detail::LossShares& shares) {
        model::ForwardOptions options;
        options.attentions = false;
        options.mlm_positions = b.mlm_positions;
        model::ModelOutputs t;
        {
          at::NoGradGuard no_grad;
          t = m.teacher->forward(b.inputs, options);
        }
        const model::ModelOutputs s = m.student->forward(b.inputs, options);
        // NSP is a mean over rows, the MLM losses over masked positions.
        at::Tensor loss = detail::scaled(nsp_loss(s.nsp_logits, b.nsp_labels), shares.rows);
        if (alpha > 0.0) {
          loss = loss + alpha * detail::scaled(mlm_loss(s.mlm_logits, b.mlm_labels), shares.masked);
        }
        if (alpha < 1.0) {
          loss = loss + (1.0 - alpha) * detail::scaled(mlm_distill_loss(s.mlm_logits, t.mlm_logits,
                                                                        temperature),
                                                       shares.masked);
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
  auto report = train(progress);
  if (!report) return report;
  report->eval = evaluate();
  return report;
}

Result<DistillReport> Distiller::train(const ProgressFn& progress) {
  Impl& m = *impl_;
  const std::vector<Impl::Phase> phases = m.schedule();
  int64_t total = 0;
  for (const Impl::Phase& p : phases) total += p.steps;
  m.loop.planned = std::max(m.loop.planned, total);
  for (; m.phase < static_cast<int64_t>(phases.size()); ++m.phase) {
    const Impl::Phase& p = phases[static_cast<size_t>(m.phase)];
    auto phase = p.stage >= 0 ? progressive_stage(p.stage, p.steps, progress)
                              : pretraining(p.steps, progress);
    if (!phase) return phase.status();
    m.finished.push_back(*phase);
  }
  DistillReport report;
  report.phases = m.finished;
  report.steps = m.loop.done;
  report.train_seconds = m.loop.seconds;
  report.tokens_per_second =
      m.loop.seconds > 0 ? static_cast<double>(m.loop.tokens) / m.loop.seconds : 0.0;
  report.losses = m.loop.losses;
  return report;
}

namespace {

std::vector<model::NamedTensor> cpu_copies(const std::vector<model::NamedTensor>& tensors) {
  std::vector<model::NamedTensor> out;
  out.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    out.emplace_back(name, t.detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true));
  }
  return out;
}

// kInvalidArgument naming the first tensor of `saved` that is not `live`'s
// (same names, order and shapes).
Status fits(const std::vector<model::NamedTensor>& saved,
            const std::vector<model::NamedTensor>& live, const char* what) {
  if (saved.size() != live.size()) {
    return Status(Code::kInvalidArgument,
                  std::string("the checkpoint holds ") + std::to_string(saved.size()) + " " + what +
                      " tensors, this distillation " + std::to_string(live.size()),
                  what);
  }
  for (size_t i = 0; i < saved.size(); ++i) {
    if (saved[i].first != live[i].first || !saved[i].second.defined() ||
        saved[i].second.sizes() != live[i].second.sizes() ||
        saved[i].second.scalar_type() != live[i].second.scalar_type()) {
      return Status(
          Code::kInvalidArgument,
          "checkpoint tensor \"" + saved[i].first + "\" does not fit \"" + live[i].first + "\"",
          saved[i].first);
    }
  }
  return Status::ok();
}

}  // namespace

Result<TrainingState> Distiller::snapshot() const {
  const Impl& m = *impl_;
  TrainingState state;
  state.phase = m.phase;
  state.done = m.loop.done;
  state.total = 0;
  for (const Impl::Phase& p : m.schedule()) state.total += p.steps;
  state.finished = m.finished;
  state.losses = m.loop.losses;
  // Inside a phase (the progress callback) its optimizer is live; before
  // run() nothing of the phase has happened yet.
  if (m.loop.optimizer) {
    state.phase_step = m.loop.phase_step;
    state.optimizer = m.loop.optimizer->save_state();
  }
  state.student = cpu_copies(m.student->named_parameters());
  state.projections = cpu_copies(m.projections);
  auto data = m.loader->save_state();
  if (!data) return data.status();
  state.data_state = std::move(data.value());
  return state;
}

Status Distiller::restore(const TrainingState& state) {
  Impl& m = *impl_;
  auto bad = [](const std::string& why, const std::string& field) {
    return Status(Code::kInvalidArgument, "checkpoint: " + why, field);
  };
  if (Status s = fits(state.student, m.student->named_parameters(), "student"); !s) return s;
  if (Status s = fits(state.projections, m.projections, "projection"); !s) return s;
  const std::vector<Impl::Phase> phases = m.schedule();
  int64_t total = 0, before = 0;
  for (const Impl::Phase& p : phases) total += p.steps;
  if (state.total != total) {
    return bad("it plans " + std::to_string(state.total) + " steps, this distillation " +
                   std::to_string(total),
               "total_steps");
  }
  if (state.phase < 0 || state.phase >= static_cast<int64_t>(phases.size())) {
    return bad("phase " + std::to_string(state.phase) + " is not in the schedule", "phase");
  }
  const Impl::Phase& phase = phases[static_cast<size_t>(state.phase)];
  for (int64_t p = 0; p < state.phase; ++p) before += phases[static_cast<size_t>(p)].steps;
  if (state.phase_step < 0 || state.phase_step > phase.steps ||
      state.done != before + state.phase_step ||
      static_cast<int64_t>(state.losses.size()) != state.done ||
      static_cast<int64_t>(state.finished.size()) != state.phase) {
    return bad("its step counts do not fit the schedule", "phase_step");
  }
  // The optimizer state must be the phase's (names, order and shapes).
  if (state.phase_step > 0) {
    std::vector<std::pair<std::string, at::Tensor>> expected;
    for (const ParamGroup& g : lamb_groups(m.phase_params(phase))) {
      for (size_t i = 0; i < g.params.size(); ++i) expected.emplace_back(g.names[i], g.params[i]);
    }
    bool ok = expected.size() == state.optimizer.size();
    for (size_t i = 0; ok && i < expected.size(); ++i) {
      const Lamb::Moments& mo = state.optimizer[i];
      ok = mo.name == expected[i].first && mo.m.defined() && mo.v.defined() &&
           mo.m.sizes() == expected[i].second.sizes() &&
           mo.v.sizes() == expected[i].second.sizes() && mo.step >= 0;
    }
    if (!ok) return bad("its optimizer state is not the phase's", "optimizer");
  }
  // The data position: a fresh stream resumed at it (validated here).
  model::ExampleOptions examples;
  examples.seq_len = m.options.seq_len;
  auto stream = model::ExampleStream::create(*m.corpus, model::Split::kTrain, *m.tokenizer,
                                             examples, m.options.seed);
  if (!stream) return stream.status();
  auto loader = model::BatchLoader::resume(std::move(stream.value()), m.options.batch_size,
                                           m.options.seq_len, m.pad_id, state.data_state);
  if (!loader) return loader.status();

  // Everything fits: commit.
  {
    at::NoGradGuard no_grad;
    const auto live = m.student->named_parameters();
    for (size_t i = 0; i < live.size(); ++i) live[i].second.copy_(state.student[i].second);
    for (size_t i = 0; i < m.projections.size(); ++i) {
      m.projections[i].second.copy_(state.projections[i].second);
    }
  }
  m.loader = std::move(loader.value());
  m.loop.loader = m.loader.get();
  m.loop.done = state.done;
  m.loop.losses = state.losses;
  m.loop.optimizer.reset();
  m.loop.resume.reset();
  if (state.phase_step > 0)
    m.loop.resume = detail::TrainLoop::Resume{state.phase_step, state.optimizer};
  m.phase = state.phase;
  m.finished = state.finished;
  return Status::ok();
}

void Distiller::set_gradient_sync(GradientSync* sync) {
  impl_->loop.sync = sync;
}

std::vector<at::Tensor> Distiller::trained_tensors() const {
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : impl_->student->named_parameters()) out.push_back(t);
  for (const auto& [name, t] : impl_->projections) out.push_back(t);
  return out;
}

}  // namespace autodistill::distill
