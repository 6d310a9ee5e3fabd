#include "tiny_teacher.hpp"

#include <ATen/Parallel.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "autodistill/distill/pretrain.hpp"
#include "autodistill/model/synthetic_corpus.hpp"
#include "autodistill/model/teacher.hpp"

namespace autodistill::testing {

namespace fs = std::filesystem;

namespace {

void check(const Status& s) {
  if (!s) {
    std::fprintf(stderr, "building the tiny teacher failed: %s\n", s.to_string().c_str());
    std::abort();
  }
}

void build(const fs::path& dir) {
  check(model::write_synthetic_corpus(dir / "corpus.txt", {.documents = 600, .seed = 1}));
  auto vocab = model::Vocab::from_tokens(model::synthetic_vocab());
  check(vocab.status());
  std::ofstream(dir / "vocab.txt") << vocab->to_text();
  model::BertConfig config;
  config.vocab_size = vocab->size();
  config.hidden_size = 64;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.intermediate_size = 128;
  config.max_position_embeddings = 64;
  auto tokenizer = model::WordPieceTokenizer::create(std::move(vocab.value()));
  check(tokenizer.status());
  auto corpus = model::Corpus::open(dir / "corpus.txt");
  check(corpus.status());
  auto teacher = model::Teacher::create(config, 1);
  check(teacher.status());
  distill::PretrainOptions options;
  options.steps = 600;
  options.batch_size = 32;
  options.seq_len = 32;
  options.learning_rate = 3e-2;
  auto report = distill::pretrain_teacher(*teacher, *corpus, *tokenizer, options);
  check(report.status());
  std::fprintf(stderr, "tiny teacher: MLM accuracy %.3f, NSP accuracy %.3f after %.1f s\n",
               report->eval.mlm_accuracy, report->eval.nsp_accuracy, report->train_seconds);
  check(teacher->save(dir));
}

}  // namespace

fs::path tiny_teacher_dir() {
  const fs::path dir = AUTODISTILL_TINY_TEACHER_DIR;
  if (fs::exists(dir / "model.safetensors")) return dir;
  at::set_num_threads(1);
  const fs::path temp = dir.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(temp);
  fs::create_directories(temp);
  build(temp);
  std::error_code ec;
  fs::rename(temp, dir, ec);
  if (ec) fs::remove_all(temp);  // another process finished first
  return dir;
}

}  // namespace autodistill::testing
