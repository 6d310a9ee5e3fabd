// The distiller on the tiny teacher: progressive stages train only their
// block, every phase lowers its loss, flash distillation lifts MLM accuracy
// far above an untrained student, export/load reproduces the evaluation.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "autodistill/distill/distiller.hpp"
#include "autodistill/model/student_checkpoint.hpp"
#include "tiny_teacher.hpp"

using autodistill::Code;
using autodistill::StudentArch;
using namespace autodistill::distill;
using namespace autodistill::model;
namespace fs = std::filesystem;

namespace {

struct Setup {
  Teacher teacher;
  WordPieceTokenizer tokenizer;
  Corpus corpus;
};

Setup& setup() {
  static Setup* s = [] {
    at::set_num_threads(1);
    const fs::path dir = autodistill::testing::tiny_teacher_dir();
    auto teacher = Teacher::load(dir);
    auto vocab = Vocab::read(dir / "vocab.txt");
    REQUIRE(teacher);
    REQUIRE(vocab);
    auto tokenizer = WordPieceTokenizer::create(std::move(vocab.value()));
    auto corpus = Corpus::open(dir / "corpus.txt");
    REQUIRE(tokenizer);
    REQUIRE(corpus);
    return new Setup{std::move(teacher.value()), std::move(tokenizer.value()),
                     std::move(corpus.value())};
  }();
  return *s;
}

StudentArch arch(int64_t k, int64_t h, int64_t b, int64_t a, int64_t i, int64_t f) {
  const BertConfig& c = setup().teacher.config();
  StudentArch x;
  x.num_blocks = k;
  x.hidden_size = h;
  x.bottleneck_size = b;
  x.num_heads = a;
  x.intermediate_size = i;
  x.num_stacked_ffn = f;
  x.vocab_size = c.vocab_size;
  x.max_positions = c.max_position_embeddings;
  x.type_vocab_size = c.type_vocab_size;
  return x;
}

DistillOptions small_options() {
  DistillOptions o;
  o.batch_size = 16;
  o.seq_len = 32;
  o.eval_batches = 4;
  o.learning_rate = 3e-2;
  return o;
}

Distiller make(Student& student, DistillOptions options = small_options()) {
  Setup& s = setup();
  auto d = Distiller::create(student, s.teacher, s.corpus, s.tokenizer, options);
  REQUIRE(d);
  return std::move(d.value());
}

std::vector<at::Tensor> snapshot(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone());
  return out;
}

bool unchanged(const std::vector<at::Tensor>& before, const std::vector<at::Tensor>& now) {
  for (size_t i = 0; i < before.size(); ++i) {
    if (!at::equal(before[i], now[i].detach())) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("embeddings and heads start as the teacher's, resampled to the student's width") {
  std::map<std::string, at::Tensor> teacher;
  for (const auto& [n, t] : setup().teacher.named_parameters()) teacher[n] = t;
  const at::Tensor& word = teacher.at("bert.embeddings.word_embeddings.weight");
  for (int64_t h : {64, 32, 96}) {
    auto student = Student::create(arch(1, h, 16, 2, 32, 1));
    REQUIRE(student);
    REQUIRE(init_student_from_teacher(*student, setup().teacher));
    std::map<std::string, at::Tensor> s;
    for (const auto& [n, t] : student->named_parameters()) s[n] = t;
    const at::Tensor& w = s.at("mobilebert.embeddings.word_embeddings.weight");
    REQUIRE(w.sizes() == at::IntArrayRef({word.size(0), h}));
    CHECK(at::equal(s.at("cls.predictions.bias"), teacher.at("cls.predictions.bias")));
    INFO("hidden " << h);
    if (h == 64) {  // equal widths: copies
      CHECK(at::allclose(w, word));
      CHECK(at::allclose(s.at("cls.predictions.transform.dense.weight"),
                         teacher.at("cls.predictions.transform.dense.weight")));
      CHECK(at::allclose(s.at("mobilebert.pooler.dense.weight"),
                         teacher.at("bert.pooler.dense.weight")));
      CHECK(at::allclose(s.at("cls.seq_relationship.weight"),
                         teacher.at("cls.seq_relationship.weight")));
    } else {  // the end points are kept exactly, the rest interpolated
      CHECK(at::allclose(w.select(1, 0), word.select(1, 0)));
      CHECK(at::allclose(w.select(1, h - 1), word.select(1, 63)));
      CHECK(w.min().item<double>() >= word.min().item<double>() - 1e-6);
      CHECK(w.max().item<double>() <= word.max().item<double>() + 1e-6);
      const at::Tensor& tw = teacher.at("cls.predictions.transform.dense.weight");
      const at::Tensor& sw = s.at("cls.predictions.transform.dense.weight");
      CHECK(sw.sizes() == at::IntArrayRef({h, h}));
      CHECK(s.at("cls.seq_relationship.weight").sizes() == at::IntArrayRef({2, h}));
      if (h > 64) {  // upsampling keeps the corner weights exactly
        CHECK(sw[0][0].item<float>() == Approx(tw[0][0].item<float>()));
        CHECK(sw[h - 1][h - 1].item<float>() == Approx(tw[63][63].item<float>()));
      }
    }
  }
}

TEST_CASE("with a narrow embedding or trigrams the student's embeddings start as the teacher's") {
  // The embedding transformation starts as "the token's own embedding,
  // resampled from E to H" (neighbours' trigram slots zero): at equal
  // widths the student's embedding output is the teacher's (up to the
  // LayerNorm eps, 1e-5 here, 1e-12 in BERT).
  ModelInputs in;
  in.input_ids = at::randint(setup().teacher.config().vocab_size, {2, 9}, at::kLong);
  in.token_type_ids = at::zeros({2, 9}, at::kLong);
  ForwardOptions embeddings_only;
  embeddings_only.num_layers = 0;
  embeddings_only.heads = false;
  at::NoGradGuard no_grad;
  const at::Tensor teacher = setup().teacher.forward(in, embeddings_only).hidden_states[0];
  for (auto [e, trigram] : {std::pair{int64_t{64}, true}, std::pair{int64_t{32}, false},
                            std::pair{int64_t{32}, true}}) {
    INFO("embedding_size " << e << " trigram " << trigram);
    StudentArch a = arch(1, 64, 16, 2, 32, 1);
    a.embedding_size = e;
    a.trigram_input = trigram;
    auto student = Student::create(a, 3);
    REQUIRE(student);
    REQUIRE(init_student_from_teacher(*student, setup().teacher));
    const at::Tensor ours = student->forward(in, embeddings_only).hidden_states[0];
    if (e == 64) {
      CHECK(at::allclose(ours, teacher, 1e-3, 1e-3));
    } else {  // resampled down to E and back up: close, not equal
      auto cosine = [&](const at::Tensor& x) {
        return at::cosine_similarity(x.flatten(), teacher.flatten(), 0).item<double>();
      };
      auto fresh = Student::create(a, 3);  // the same student, not initialized from the teacher
      REQUIRE(fresh);
      INFO("cosine " << cosine(ours) << ", uninitialized "
                     << cosine(fresh->forward(in, embeddings_only).hidden_states[0]));
      CHECK(cosine(ours) > 0.8);
      CHECK(std::abs(cosine(fresh->forward(in, embeddings_only).hidden_states[0])) < 0.2);
    }
  }
}

TEST_CASE("progressive stage k updates block k only (and the embeddings in stage 1)") {
  auto student = Student::create(arch(3, 32, 16, 2, 32, 1), 1);
  REQUIRE(student);
  Distiller d = make(*student);
  auto groups = [&] {
    std::vector<std::vector<at::Tensor>> g = {student->embedding_parameters()};
    for (int64_t k = 0; k < 3; ++k) g.push_back(student->block_parameters(k));
    g.push_back(student->head_parameters());
    return g;
  };
  for (int64_t stage : {1, 0, 2}) {
    std::vector<std::vector<at::Tensor>> before;
    for (const auto& group : groups()) before.push_back(snapshot(group));
    auto report = d.progressive_stage(stage, 3);
    REQUIRE(report);
    const auto after = groups();
    INFO("stage " << stage);
    CHECK(unchanged(before[0], after[0]) == (stage != 0));  // embeddings
    for (int64_t k = 0; k < 3; ++k) CHECK(unchanged(before[1 + k], after[1 + k]) == (k != stage));
    CHECK(unchanged(before[4], after[4]));  // heads
  }
  for (const auto& [name, t] : student->named_parameters()) CHECK(t.requires_grad());
}

TEST_CASE("each distillation phase lowers its loss") {
  for (int64_t hidden : {64, 48}) {  // same width as the teacher, and a projection
    auto student = Student::create(arch(2, hidden, 32, 4, 64, 1), 2);
    REQUIRE(student);
    Distiller d = make(*student);
    auto stage = d.progressive_stage(0, 40);
    REQUIRE(stage);
    INFO("hidden " << hidden << ": stage loss " << stage->first_loss << " -> " << stage->last_loss);
    CHECK(stage->last_loss < 0.85 * stage->first_loss);
    auto pre = d.pretraining(40);
    REQUIRE(pre);
    INFO("pre-training loss " << pre->first_loss << " -> " << pre->last_loss);
    // Measured at hidden 64: 0.897 of the first loss with the earlier
    // template, 0.901 with MobileBERT's (its bottleneck norm); 0.92 keeps
    // the check off that edge.
    CHECK(pre->last_loss < 0.92 * pre->first_loss);
  }
}

TEST_CASE("flash distillation lifts MLM accuracy far above an untrained student") {
  const StudentArch a = arch(2, 64, 32, 4, 64, 2);
  auto untrained = Student::create(a, 3);
  REQUIRE(untrained);
  DistillOptions no_init = small_options();
  no_init.init_from_teacher = false;
  const double before = make(*untrained, no_init).evaluate().mlm_accuracy;

  auto student = Student::create(a, 3);
  REQUIRE(student);
  DistillOptions options = small_options();
  options.steps = 150;
  Distiller d = make(*student, options);
  std::vector<Progress> seen;
  auto report = d.run([&](const Progress& p) {
    seen.push_back(p);
    return true;
  });
  REQUIRE(report);
  INFO("untrained " << before << ", distilled " << report->eval.mlm_accuracy << " (NSP "
                    << report->eval.nsp_accuracy << "), " << report->tokens_per_second
                    << " tokens/s");
  CHECK(before < 0.05);
  CHECK(report->eval.mlm_accuracy > 0.12);
  CHECK(report->eval.mlm_accuracy > before + 0.1);
  CHECK(report->steps == 150);
  REQUIRE(report->phases.size() == 3);  // two progressive stages, then pre-training
  CHECK(report->phases[0].phase == "progressive 1/2");
  CHECK(report->phases[2].phase == "pretraining");
  CHECK(report->phases[0].steps + report->phases[1].steps + report->phases[2].steps == 150);
  REQUIRE(seen.size() == 150);
  CHECK(seen.back().step == 150);
  CHECK(seen.back().total == 150);
  CHECK(report->tokens_per_second > 0);
}

TEST_CASE("an exported student loads back and reproduces its evaluation exactly") {
  auto student = Student::create(arch(2, 48, 16, 2, 32, 2), 4);
  REQUIRE(student);
  DistillOptions options = small_options();
  options.steps = 10;
  Distiller d = make(*student, options);
  REQUIRE(d.run());
  const EvalResult original = d.evaluate();

  const fs::path dir =
      fs::temp_directory_path() / ("autodistill_export_" + std::to_string(::getpid()));
  REQUIRE(save_student(*student, dir, setup().tokenizer, R"({"note": "test"})"));
  for (const char* file : {"model.safetensors", "config.json", "vocab.txt", "tokenizer.json",
                           "tokenizer_config.json", "special_tokens_map.json", "manifest.json"}) {
    CHECK(fs::exists(dir / file));
  }
  auto loaded = load_student(dir);
  REQUIRE(loaded);
  CHECK(loaded->parameter_count() == autodistill::parameter_count(student->arch()));
  DistillOptions again = small_options();
  again.init_from_teacher = false;
  const EvalResult reloaded = make(*loaded, again).evaluate();
  CHECK(reloaded.mlm_accuracy == original.mlm_accuracy);
  CHECK(reloaded.nsp_accuracy == original.nsp_accuracy);
  CHECK(reloaded.mlm_loss == original.mlm_loss);
  CHECK(save_student(*student, dir, setup().tokenizer, "[1]").code() == Code::kInvalidArgument);
  fs::remove(dir / "config.json");
  CHECK(load_student(dir).status().code() == Code::kNotFound);
  fs::remove_all(dir);
}

TEST_CASE("progress can cancel a distillation") {
  auto student = Student::create(arch(1, 32, 16, 2, 32, 1), 5);
  REQUIRE(student);
  DistillOptions options = small_options();
  options.steps = 50;
  Distiller d = make(*student, options);
  auto report = d.run([](const Progress& p) { return p.step < 3; });
  CHECK(report.status().code() == Code::kCancelled);
}

TEST_CASE("distiller rejects options and students that do not fit the teacher") {
  Setup& s = setup();
  auto student = Student::create(arch(1, 32, 16, 2, 32, 1));
  REQUIRE(student);
  DistillOptions long_seq = small_options();
  long_seq.seq_len = 65;
  CHECK(Distiller::create(*student, s.teacher, s.corpus, s.tokenizer, long_seq).status().field() ==
        "seq_len");
  DistillOptions no_steps = small_options();
  no_steps.steps = 0;
  CHECK(Distiller::create(*student, s.teacher, s.corpus, s.tokenizer, no_steps).status().field() ==
        "steps");
  StudentArch other_vocab = arch(1, 32, 16, 2, 32, 1);
  other_vocab.vocab_size += 1;
  auto mismatched = Student::create(other_vocab);
  REQUIRE(mismatched);
  CHECK(Distiller::create(*mismatched, s.teacher, s.corpus, s.tokenizer, small_options())
            .status()
            .code() == Code::kInvalidArgument);
}
