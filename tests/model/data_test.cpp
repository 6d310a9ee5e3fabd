// The pre-training data pipeline: corpus indexing and errors, NSP pairs,
// masking, batches prepared off-thread, the held-out split, the generated
// corpus.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "autodistill/model/batch.hpp"
#include "autodistill/model/corpus.hpp"
#include "autodistill/model/pretraining_examples.hpp"
#include "autodistill/model/synthetic_corpus.hpp"

using autodistill::Code;
using autodistill::Status;
using namespace autodistill::model;
namespace fs = std::filesystem;

namespace {

fs::path write_file(const std::string& name, const std::string& text) {
  fs::path path =
      fs::temp_directory_path() / ("autodistill_data_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Document d has sentences made of the word "d<d>" repeated, so the source
// document of every token is known.
std::string tagged_corpus(int documents, int sentences, int words) {
  std::string text;
  for (int d = 0; d < documents; ++d) {
    if (d > 0) text += "\n";
    for (int s = 0; s < sentences; ++s) {
      for (int w = 0; w < words; ++w) text += "d" + std::to_string(d) + " ";
      text += ".\n";
    }
  }
  return text;
}

WordPieceTokenizer tagged_tokenizer(int documents) {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."};
  for (int d = 0; d < documents; ++d) tokens.push_back("d" + std::to_string(d));
  auto vocab = Vocab::from_tokens(tokens);
  REQUIRE(vocab);
  auto t = WordPieceTokenizer::create(std::move(vocab.value()));
  REQUIRE(t);
  return std::move(t.value());
}

WordPieceTokenizer synthetic_tokenizer() {
  auto vocab = Vocab::from_tokens(synthetic_vocab());
  REQUIRE(vocab);
  auto t = WordPieceTokenizer::create(std::move(vocab.value()));
  REQUIRE(t);
  return std::move(t.value());
}

}  // namespace

TEST_CASE("corpus indexes documents separated by blank lines") {
  const fs::path path = write_file(
      "docs", "a b .\r\nc d .\n\n\n  \nsecond doc .\n\nthird .\nlast line without newline");
  auto corpus = Corpus::open(path, {.eval_fraction = 0.0});
  REQUIRE(corpus);
  CHECK(corpus->num_documents() == 3);
  auto first = corpus->read_document(0);
  REQUIRE(first);
  CHECK(*first == std::vector<std::string>{"a b .", "c d ."});
  CHECK(*corpus->read_document(1) == std::vector<std::string>{"second doc ."});
  CHECK(*corpus->read_document(2) ==
        std::vector<std::string>{"third .", "last line without newline"});
  // At least one document is held out even with eval_fraction 0.
  CHECK(corpus->documents(Split::kEval).size() == 1);
  CHECK(corpus->documents(Split::kTrain).size() == 2);
  fs::remove(path);
}

TEST_CASE("corpus split is deterministic, disjoint and near the asked fraction") {
  const fs::path path = write_file("split", tagged_corpus(400, 1, 1));
  auto a = Corpus::open(path, {.eval_fraction = 0.1, .split_seed = 3});
  auto b = Corpus::open(path, {.eval_fraction = 0.1, .split_seed = 3});
  auto c = Corpus::open(path, {.eval_fraction = 0.1, .split_seed = 4});
  REQUIRE((a && b && c));
  CHECK(a->documents(Split::kEval) == b->documents(Split::kEval));
  CHECK(a->documents(Split::kEval) != c->documents(Split::kEval));
  const auto& eval = a->documents(Split::kEval);
  CHECK(eval.size() >= 20);
  CHECK(eval.size() <= 65);
  std::set<int64_t> all(eval.begin(), eval.end());
  for (int64_t d : a->documents(Split::kTrain)) CHECK(all.insert(d).second);
  CHECK(all.size() == 400);
  fs::remove(path);
}

TEST_CASE("corrupt corpora are rejected with the line") {
  auto status_of = [](const std::string& name, const std::string& text) {
    const fs::path path = write_file(name, text);
    auto s = Corpus::open(path).status();
    fs::remove(path);
    return s;
  };
  auto binary = status_of("nul", std::string("ok .\n\nbin\0ary\n", 15));
  CHECK(binary.code() == Code::kInvalidArgument);
  CHECK(binary.field() == "line 3");
  auto latin1 = status_of("latin1", "fine .\n\ncaf\xe9 .\n");
  CHECK(latin1.field() == "line 3");
  CHECK_THAT(latin1.message(), Catch::Contains("UTF-8"));
  CHECK(status_of("one", "only one document .\nstill the same .\n").code() ==
        Code::kInvalidArgument);
  CHECK(status_of("empty", "").code() == Code::kInvalidArgument);
  CHECK(Corpus::open(fs::temp_directory_path() / "autodistill_no_such_corpus").status().code() ==
        Code::kNotFound);
  CHECK(Corpus::open(fs::temp_directory_path()).status().code() == Code::kNotFound);
  const fs::path long_line = write_file("long", "a .\n\n" + std::string(2000, 'x') + "\n");
  auto too_long = Corpus::open(long_line, {.max_line_bytes = 1000});
  CHECK(too_long.status().field() == "line 3");
  fs::remove(long_line);
}

TEST_CASE("examples: [CLS] A [SEP] B [SEP], NSP labels and masking rates") {
  const int documents = 60;
  // Long documents: a chunk left with one sentence at a document's end is
  // always paired with a random B (as in BERT), which would skew the rate.
  const fs::path path = write_file("pairs", tagged_corpus(documents, 30, 5));
  auto corpus = Corpus::open(path, {.eval_fraction = 0.1});
  REQUIRE(corpus);
  const WordPieceTokenizer tokenizer = tagged_tokenizer(documents);
  const SpecialTokens special = *special_tokens(tokenizer.vocab());
  ExampleOptions options;
  options.seq_len = 32;
  auto stream = ExampleStream::create(*corpus, Split::kTrain, tokenizer, options, 7);
  REQUIRE(stream);

  std::set<int64_t> eval_docs(corpus->documents(Split::kEval).begin(),
                              corpus->documents(Split::kEval).end());
  int random_next = 0, masked = 0, as_mask = 0, kept = 0, total = 2000;
  for (int i = 0; i < total; ++i) {
    auto e = stream->next();
    REQUIRE(e);
    const auto& ids = e->input_ids;
    REQUIRE(ids.size() <= 32);
    REQUIRE(ids.size() == e->token_type_ids.size());
    REQUIRE(ids.size() == e->mlm_labels.size());
    CHECK(ids.front() == special.cls);
    CHECK(ids.back() == special.sep);
    // The original tokens: labels where masked.
    std::vector<int32_t> original = ids;
    int chosen = 0;
    for (size_t j = 0; j < ids.size(); ++j) {
      if (e->mlm_labels[j] >= 0) {
        original[j] = e->mlm_labels[j];
        ++chosen;
        ++masked;
        as_mask += ids[j] == special.mask;
        kept += ids[j] == e->mlm_labels[j];
      }
    }
    CHECK(chosen == std::max<int>(1, static_cast<int>(std::lround(ids.size() * 0.15))));
    size_t sep = std::find(ids.begin() + 1, ids.end(), special.sep) - ids.begin();
    REQUIRE(sep + 1 < ids.size());
    CHECK(e->token_type_ids[sep] == 0);
    CHECK(e->token_type_ids[sep + 1] == 1);
    // Source documents of A and B (token "d<k>" has id 6 + k).
    std::set<int32_t> a_docs, b_docs;
    for (size_t j = 1; j < sep; ++j) {
      if (original[j] >= 6) a_docs.insert(original[j] - 6);
    }
    for (size_t j = sep + 1; j + 1 < ids.size(); ++j) {
      if (original[j] >= 6) b_docs.insert(original[j] - 6);
    }
    REQUIRE(a_docs.size() == 1);
    REQUIRE(b_docs.size() == 1);
    CHECK((*a_docs.begin() == *b_docs.begin()) == (e->nsp_label == 0));
    // Training examples never use held-out documents.
    CHECK(eval_docs.count(*a_docs.begin()) == 0);
    CHECK(eval_docs.count(*b_docs.begin()) == 0);
    random_next += e->nsp_label;
  }
  CHECK(random_next > total * 0.42);
  CHECK(random_next < total * 0.62);
  CHECK(as_mask > masked * 0.77);
  CHECK(as_mask < masked * 0.83);
  CHECK(kept > masked * 0.08);
  CHECK(kept < masked * 0.13);
  fs::remove(path);
}

TEST_CASE("example streams are deterministic per seed") {
  const fs::path path = write_file("det", synthetic_corpus_text({.documents = 40, .seed = 2}));
  auto corpus = Corpus::open(path);
  REQUIRE(corpus);
  const WordPieceTokenizer tokenizer = synthetic_tokenizer();
  auto take = [&](uint64_t seed) {
    auto stream = ExampleStream::create(*corpus, Split::kTrain, tokenizer, {.seq_len = 48}, seed);
    REQUIRE(stream);
    std::vector<std::vector<int32_t>> out;
    for (int i = 0; i < 50; ++i) out.push_back(stream->next()->input_ids);
    return out;
  };
  CHECK(take(5) == take(5));
  CHECK(take(5) != take(6));
  fs::remove(path);
}

TEST_CASE("batches: collation and the background loader") {
  const fs::path path = write_file("batch", synthetic_corpus_text({.documents = 60, .seed = 3}));
  auto corpus = Corpus::open(path);
  REQUIRE(corpus);
  const WordPieceTokenizer tokenizer = synthetic_tokenizer();
  const ExampleOptions options{.seq_len = 40};
  const int32_t pad = static_cast<int32_t>(tokenizer.vocab().id("[PAD]"));

  auto direct = ExampleStream::create(*corpus, Split::kTrain, tokenizer, options, 9);
  REQUIRE(direct);
  std::vector<std::vector<Example>> expected(3);
  for (auto& batch : expected) {
    for (int i = 0; i < 8; ++i) batch.push_back(*direct->next());
  }

  auto stream = ExampleStream::create(*corpus, Split::kTrain, tokenizer, options, 9);
  REQUIRE(stream);
  BatchLoader loader(std::move(stream.value()), 8, 40, pad, 2);
  for (const auto& examples : expected) {
    auto batch = loader.next();
    REQUIRE(batch);
    const Batch want = collate(examples, 40, pad);
    CHECK(batch->inputs.input_ids.sizes() == at::IntArrayRef({8, 40}));
    CHECK(at::equal(batch->inputs.input_ids, want.inputs.input_ids));
    CHECK(at::equal(batch->mlm_positions, want.mlm_positions));
    CHECK(at::equal(batch->nsp_labels, want.nsp_labels));
    // Labels sit at the recorded positions; padding is masked out.
    int64_t real = 0;
    for (const auto& e : examples) real += static_cast<int64_t>(e.input_ids.size());
    CHECK(batch->tokens == real);
    CHECK(batch->inputs.attention_mask.sum().item<int64_t>() == real);
    at::Tensor flat_ids = batch->inputs.input_ids.reshape({-1});
    CHECK(batch->mlm_positions.size(0) == batch->mlm_labels.size(0));
    CHECK((flat_ids.index_select(0, batch->mlm_positions) != pad).all().item<bool>());
  }
  fs::remove(path);
}

TEST_CASE("a saved stream or loader position continues exactly, across epochs") {
  // 12 training documents: 300 examples span several epochs.
  const fs::path path = write_file("state", synthetic_corpus_text({.documents = 14, .seed = 4}));
  auto corpus = Corpus::open(path, {.eval_fraction = 0.1});
  REQUIRE(corpus);
  const WordPieceTokenizer tokenizer = synthetic_tokenizer();
  const ExampleOptions options{.seq_len = 32, .shuffle_buffer = 16};
  const int32_t pad = static_cast<int32_t>(tokenizer.vocab().id("[PAD]"));
  auto make = [&] {
    auto stream = ExampleStream::create(*corpus, Split::kTrain, tokenizer, options, 11);
    REQUIRE(stream);
    return std::move(stream.value());
  };
  auto ids = [](ExampleStream& stream, int n) {
    std::vector<std::vector<int32_t>> out;
    for (int i = 0; i < n; ++i) out.push_back(stream.next()->input_ids);
    return out;
  };

  ExampleStream whole = make();
  const auto reference = ids(whole, 300);
  for (int cut : {0, 1, 37, 150}) {
    INFO("cut after " << cut);
    ExampleStream first = make();
    ids(first, cut);
    const std::string state = first.save_state();
    ExampleStream second = make();
    REQUIRE(second.restore_state(state));
    const auto rest = ids(second, 300 - cut);
    CHECK(std::equal(rest.begin(), rest.end(), reference.begin() + cut));
  }

  // A loader's position includes the batches it made ahead.
  std::vector<at::Tensor> batches;
  {
    BatchLoader loader(make(), 4, 32, pad, 3);
    for (int b = 0; b < 12; ++b) batches.push_back(loader.next()->inputs.input_ids);
  }
  BatchLoader first(make(), 4, 32, pad, 3);
  for (int b = 0; b < 5; ++b) REQUIRE(first.next());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it fill its queue
  auto state = first.save_state();
  REQUIRE(state);
  for (int b = 5; b < 7; ++b) CHECK(at::equal(first.next()->inputs.input_ids, batches[b]));
  auto resumed = BatchLoader::resume(make(), 4, 32, pad, *state, 3);
  REQUIRE(resumed);
  for (int b = 5; b < 12; ++b) {
    INFO("batch " << b);
    CHECK(at::equal((*resumed)->next()->inputs.input_ids, batches[b]));
  }

  // The saved bytes name the position only, not how far ahead the producer
  // happened to be: a state saved at once equals one saved after a pause.
  for (int consumed : {0, 5}) {
    INFO("after " << consumed << " batches");
    BatchLoader hurried(make(), 4, 32, pad, 3);
    BatchLoader patient(make(), 4, 32, pad, 3);
    for (int b = 0; b < consumed; ++b) REQUIRE((hurried.next() && patient.next()));
    auto at_once = hurried.save_state();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto later = patient.save_state();
    REQUIRE((at_once && later));
    CHECK(*at_once == *later);
  }

  // Corrupt or foreign states are refused and leave the stream as it was.
  ExampleStream target = make();
  for (std::string bad : {std::string(), std::string("garbage"), state->substr(0, 40),
                          state->substr(0, state->size() - 1), *state + "x"}) {
    Status s = target.restore_state(bad);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.field() == "data_state");
  }
  std::string flipped = *state;
  flipped[8 + 8 + 8 + 2] = '\x7f';  // a token id (or a count) out of range
  CHECK_FALSE(target.restore_state(flipped));
  CHECK(ids(target, 20) ==
        std::vector<std::vector<int32_t>>(reference.begin(), reference.begin() + 20));
  fs::remove(path);
}

TEST_CASE("a shard of a batch keeps its rows and renumbers their masked positions") {
  const fs::path path = write_file("rows", synthetic_corpus_text({.documents = 20, .seed = 5}));
  auto corpus = Corpus::open(path);
  REQUIRE(corpus);
  const WordPieceTokenizer tokenizer = synthetic_tokenizer();
  const int32_t pad = static_cast<int32_t>(tokenizer.vocab().id("[PAD]"));
  auto stream = ExampleStream::create(*corpus, Split::kTrain, tokenizer, {.seq_len = 24}, 3);
  REQUIRE(stream);
  std::vector<Example> examples;
  for (int i = 0; i < 5; ++i) examples.push_back(*stream->next());
  const Batch all = collate(examples, 24, pad);
  const Batch head = all.rows(0, 2), tail = all.rows(2, 5);
  const Batch want_head = collate({examples[0], examples[1]}, 24, pad);
  const Batch want_tail = collate({examples[2], examples[3], examples[4]}, 24, pad);
  for (const auto& [got, want] : {std::pair{&head, &want_head}, std::pair{&tail, &want_tail}}) {
    CHECK(at::equal(got->inputs.input_ids, want->inputs.input_ids));
    CHECK(at::equal(got->inputs.attention_mask, want->inputs.attention_mask));
    CHECK(at::equal(got->mlm_positions, want->mlm_positions));
    CHECK(at::equal(got->mlm_labels, want->mlm_labels));
    CHECK(at::equal(got->nsp_labels, want->nsp_labels));
    CHECK(got->tokens == want->tokens);
  }
  CHECK(head.tokens + tail.tokens == all.tokens);
  fs::remove(path);
}

TEST_CASE("evaluation batches come from held-out documents only and repeat exactly") {
  const int documents = 50;
  const fs::path path = write_file("evalset", tagged_corpus(documents, 4, 4));
  auto corpus = Corpus::open(path, {.eval_fraction = 0.2});
  REQUIRE(corpus);
  const WordPieceTokenizer tokenizer = tagged_tokenizer(documents);
  auto a = make_eval_batches(*corpus, tokenizer, {.seq_len = 24}, 3, 4, 1);
  auto b = make_eval_batches(*corpus, tokenizer, {.seq_len = 24}, 3, 4, 1);
  REQUIRE((a && b));
  REQUIRE(a->size() == 3);
  std::set<int64_t> eval_docs(corpus->documents(Split::kEval).begin(),
                              corpus->documents(Split::kEval).end());
  for (size_t i = 0; i < a->size(); ++i) {
    CHECK(at::equal((*a)[i].inputs.input_ids, (*b)[i].inputs.input_ids));
    // The original tokens (a masked position may hold a random token).
    at::Tensor ids = (*a)[i].inputs.input_ids.clone().reshape({-1});
    ids.index_put_({(*a)[i].mlm_positions}, (*a)[i].mlm_labels);
    at::Tensor words = ids.masked_select(ids >= 6) - 6;
    for (int64_t j = 0; j < words.numel(); ++j) {
      CHECK(eval_docs.count(words[j].item<int64_t>()) == 1);
    }
  }
  fs::remove(path);
}

TEST_CASE("the generated corpus is deterministic and fully covered by its vocabulary") {
  const std::string text = synthetic_corpus_text({.documents = 30, .seed = 4});
  CHECK(text == synthetic_corpus_text({.documents = 30, .seed = 4}));
  CHECK(text != synthetic_corpus_text({.documents = 30, .seed = 5}));
  const WordPieceTokenizer tokenizer = synthetic_tokenizer();
  auto tokens = tokenizer.tokenize(text);
  CHECK(std::count(tokens.begin(), tokens.end(), "[UNK]") == 0);
  CHECK(std::count(tokens.begin(), tokens.end(), "##s") > 20);
  CHECK(tokenizer.tokenize("these dogs are hungry") ==
        std::vector<std::string>{"these", "dog", "##s", "are", "hungry"});
  // 30 documents: 29 blank separator lines.
  CHECK(std::count(text.begin(), text.end(), '\n') > 30 * 4);
  const fs::path path = write_file("synthetic", text);
  auto corpus = Corpus::open(path);
  REQUIRE(corpus);
  CHECK(corpus->num_documents() == 30);
  fs::remove(path);
  CHECK(write_synthetic_corpus(path, {.documents = 1}).code() == Code::kInvalidArgument);
}
