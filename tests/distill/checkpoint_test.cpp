// Distillation checkpoints (checkpoint.hpp, Distiller::snapshot/restore):
// the file round trip and its determinism, a restored distiller finishing
// bit-identical to an uninterrupted one (mid progressive stage and mid
// pre-training, with a width projection), and checkpoints that do not fit
// or are corrupt being refused with the field at fault, leaving the
// distiller unchanged.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <unistd.h>

#include <cmath>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "autodistill/distill/checkpoint.hpp"
#include "autodistill/distill/distiller.hpp"
#include "autodistill/model/tensor_io.hpp"
#include "tiny_teacher.hpp"

using autodistill::Code;
using autodistill::Status;
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

// Two blocks narrower than the teacher (64): the feature maps need projections.
StudentArch arch(int64_t hidden = 32) {
  const BertConfig& c = setup().teacher.config();
  StudentArch x;
  x.num_blocks = 2;
  x.hidden_size = hidden;
  x.bottleneck_size = 16;
  x.num_heads = 2;
  x.intermediate_size = 32;
  x.num_stacked_ffn = 1;
  x.vocab_size = c.vocab_size;
  x.max_positions = c.max_position_embeddings;
  x.type_vocab_size = c.type_vocab_size;
  return x;
}

// 16 steps: two progressive stages of 2 steps, then 12 of pre-training.
DistillOptions options() {
  DistillOptions o;
  o.steps = 16;
  o.progressive_ratio = 0.35;
  o.batch_size = 8;
  o.seq_len = 32;
  o.eval_batches = 1;
  o.learning_rate = 1e-2;
  o.seed = 5;
  return o;
}

struct Run {
  std::unique_ptr<Student> student;
  std::unique_ptr<Distiller> distiller;
};

Run make(StudentArch a = arch(), DistillOptions o = options()) {
  Setup& s = setup();
  auto student = Student::create(a, 3);
  REQUIRE(student);
  Run run;
  run.student = std::make_unique<Student>(std::move(student.value()));
  auto d = Distiller::create(*run.student, s.teacher, s.corpus, s.tokenizer, o);
  REQUIRE(d);
  run.distiller = std::make_unique<Distiller>(std::move(d.value()));
  return run;
}

// Trains to the end, writing a checkpoint file at each step in `at`.
std::vector<double> train(Run& run, const std::map<int64_t, fs::path>& at) {
  auto report = run.distiller->train([&](const Progress& p) {
    if (auto it = at.find(p.step); it != at.end()) {
      auto state = run.distiller->snapshot();
      REQUIRE(state);
      state->identity = "test";
      REQUIRE(write_checkpoint(it->second, *state));
    }
    return true;
  });
  REQUIRE(report);
  return report->losses;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool same_weights(const Run& a, const Run& b) {
  const auto x = a.distiller->trained_tensors(), y = b.distiller->trained_tensors();
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!at::equal(x[i], y[i])) return false;
  }
  return true;
}

struct TempDir {
  fs::path path =
      fs::temp_directory_path() / ("ad-checkpoint-test-" + std::to_string(::getpid()) + "-" +
                                   std::to_string(reinterpret_cast<uintptr_t>(this)));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("a checkpoint file round-trips the training state, byte for byte the same twice",
          "[checkpoint]") {
  TempDir dir;
  Run run = make();
  train(run, {{3, dir.path / "a.safetensors"}});
  auto state = read_checkpoint(dir.path / "a.safetensors");
  REQUIRE(state);
  CHECK(state->identity == "test");
  CHECK(state->phase == 1);  // the second progressive stage
  CHECK(state->phase_step == 1);
  CHECK(state->done == 3);
  CHECK(state->total == 16);
  REQUIRE(state->finished.size() == 1);
  CHECK(state->finished[0].phase == "progressive 1/2");
  CHECK(state->losses.size() == 3);
  CHECK(state->student.size() == run.student->named_parameters().size());
  CHECK(state->projections.size() == 4);  // a weight and a bias per block
  CHECK_FALSE(state->optimizer.empty());
  for (const auto& m : state->optimizer) CHECK(m.step == 1);
  CHECK_FALSE(state->data_state.empty());

  REQUIRE(write_checkpoint(dir.path / "b.safetensors", *state));
  CHECK(read_bytes(dir.path / "a.safetensors") == read_bytes(dir.path / "b.safetensors"));
  // Any safetensors reader can list it.
  auto file = SafetensorsFile::open(dir.path / "a.safetensors");
  REQUIRE(file);
  CHECK(file->metadata().at("format") == kCheckpointFormat);
  CHECK(file->find("losses") != nullptr);
  CHECK(file->find("student/mobilebert.embeddings.word_embeddings.weight") != nullptr);
}

TEST_CASE("a distiller restored from a checkpoint finishes bit-identical to an uninterrupted one",
          "[checkpoint]") {
  TempDir dir;
  Run whole = make();
  const std::vector<double> whole_losses =
      train(whole, {{3, dir.path / "w3"}, {9, dir.path / "w9"}, {12, dir.path / "w12"}});

  for (int64_t at_step : {3, 9}) {  // mid progressive stage 2; mid pre-training
    INFO("resumed at step " << at_step);
    auto state = read_checkpoint(dir.path / ("w" + std::to_string(at_step)));
    REQUIRE(state);
    Run resumed = make();
    REQUIRE(resumed.distiller->restore(*state));
    const std::vector<double> losses = train(resumed, {{12, dir.path / "r12"}});
    CHECK(losses == whole_losses);  // every step's loss, the restored ones included
    CHECK(same_weights(whole, resumed));
    // The resumed run's later checkpoint is the uninterrupted run's, byte for byte.
    CHECK(read_bytes(dir.path / "r12") == read_bytes(dir.path / "w12"));
  }

  // A control: the comparison sees the weights of block 2 off by one ulp.
  auto state = read_checkpoint(dir.path / "w9");
  REQUIRE(state);
  bool nudged_one = false;
  for (auto& [name, t] : state->student) {
    if (name.find("encoder.layer.1.") == std::string::npos || t.dim() != 2) continue;
    float* w = t.data_ptr<float>();
    for (int64_t i = 0; i < t.numel(); ++i) w[i] = std::nextafter(w[i], 1.0f);
    nudged_one = true;
    break;
  }
  REQUIRE(nudged_one);
  Run nudged = make();
  REQUIRE(nudged.distiller->restore(*state));
  train(nudged, {});
  CHECK_FALSE(same_weights(whole, nudged));
}

TEST_CASE("a checkpoint that does not fit is refused with its field and changes nothing",
          "[checkpoint]") {
  TempDir dir;
  Run source = make();
  train(source, {{9, dir.path / "c"}});
  auto good = read_checkpoint(dir.path / "c");
  REQUIRE(good);

  Run target = make();
  std::vector<at::Tensor> before;
  for (const at::Tensor& t : target.distiller->trained_tensors()) before.push_back(t.clone());
  auto refused = [&](TrainingState state, DistillOptions o, StudentArch a) {
    Run r = make(a, o);
    return r.distiller->restore(state);
  };

  SECTION("another architecture") {
    Status s = refused(*good, options(), arch(48));
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == "mobilebert.embeddings.word_embeddings.weight");
  }
  SECTION("another step budget") {
    DistillOptions o = options();
    o.steps = 20;
    Status s = refused(*good, o, arch());
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == "total_steps");
  }
  SECTION("step counts that contradict the schedule") {
    TrainingState state = *good;
    state.phase_step += 1;
    CHECK(target.distiller->restore(state).field() == "phase_step");
  }
  SECTION("an optimizer state of another phase") {
    TrainingState state = *good;
    state.optimizer.pop_back();
    CHECK(target.distiller->restore(state).field() == "optimizer");
  }
  SECTION("a corrupt data position") {
    TrainingState state = *good;
    state.data_state[state.data_state.size() / 2] ^= 0x40;
    state.data_state.resize(state.data_state.size() - 3);
    Status s = target.distiller->restore(state);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == "data_state");
  }
  const auto after = target.distiller->trained_tensors();
  for (size_t i = 0; i < before.size(); ++i) CHECK(at::equal(before[i], after[i]));
}

TEST_CASE("a corrupt or foreign checkpoint file is refused as malformed", "[checkpoint]") {
  TempDir dir;
  Run source = make();
  train(source, {{3, dir.path / "c"}});
  const std::string bytes = read_bytes(dir.path / "c");
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir.path / name, std::ios::binary) << content;
    return dir.path / name;
  };

  auto truncated = read_checkpoint(write("truncated", bytes.substr(0, bytes.size() - 100)));
  CHECK(truncated.status().code() == Code::kMalformed);
  auto garbage = read_checkpoint(write("garbage", std::string(4096, 'x')));
  CHECK(garbage.status().code() == Code::kMalformed);
  CHECK(read_checkpoint(dir.path / "missing").status().code() == Code::kNotFound);

  // A valid safetensors file that is not a checkpoint (a student export).
  auto state = read_checkpoint(dir.path / "c");
  REQUIRE(state);
  REQUIRE(save_tensors(dir.path / "plain", state->student));
  auto plain = read_checkpoint(dir.path / "plain");
  CHECK(plain.status().code() == Code::kMalformed);
  CHECK_THAT(plain.status().message(), Catch::Contains(kCheckpointFormat));

  // Metadata naming a tensor the file lacks.
  std::vector<TensorToWrite> none;
  REQUIRE(write_safetensors(dir.path / "no-tensors", none,
                            {{"format", kCheckpointFormat},
                             {"state", R"({"identity":"x","phase":0,"phase_step":0,"done":0,)"
                                       R"("total":1,"finished":[],"student":["w"],)"
                                       R"("projections":[],"optimizer":[]})"}}));
  auto missing = read_checkpoint(dir.path / "no-tensors");
  CHECK(missing.status().code() == Code::kMalformed);
  CHECK(missing.status().field() == "student/w");

  // State metadata that is not JSON, or nests past the bounded parser's limit.
  for (const std::string& text : {std::string("{\"identity\":"), std::string(100000, '[')}) {
    REQUIRE(write_safetensors(dir.path / "bad-state", none,
                              {{"format", kCheckpointFormat}, {"state", text}}));
    auto bad = read_checkpoint(dir.path / "bad-state");
    CHECK(bad.status().code() == Code::kMalformed);
    CHECK(bad.status().field() == "state");
  }
}

TEST_CASE("fingerprint tells weights apart", "[checkpoint]") {
  Run a = make(), b = make();
  CHECK(fingerprint(a.distiller->trained_tensors()) == fingerprint(b.distiller->trained_tensors()));
  train(a, {});
  CHECK(fingerprint(a.distiller->trained_tensors()) != fingerprint(b.distiller->trained_tensors()));
}
