#include "autodistill/model/pretraining_examples.hpp"

#include <cmath>
#include <unordered_map>

#include "byte_codec.hpp"
#include "example_codec.hpp"
#include "rng.hpp"

namespace autodistill::model {

namespace {

using Sentences = std::vector<std::vector<int32_t>>;

void append(std::vector<int32_t>& to, const std::vector<int32_t>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

}  // namespace

Result<SpecialTokens> special_tokens(const Vocab& vocab) {
  SpecialTokens s;
  for (auto [name, field] :
       {std::pair{"[PAD]", &s.pad}, std::pair{"[UNK]", &s.unk}, std::pair{"[CLS]", &s.cls},
        std::pair{"[SEP]", &s.sep}, std::pair{"[MASK]", &s.mask}}) {
    const int64_t id = vocab.id(name);
    if (id < 0) {
      return Status(Code::kInvalidArgument,
                    std::string("the vocabulary lacks the special token ") + name, name);
    }
    *field = static_cast<int32_t>(id);
  }
  return s;
}

Status validate_vocab(const Vocab& vocab, int64_t vocab_size) {
  auto bad = [](const std::string& why) {
    return Status(Code::kInvalidArgument, "vocab.txt " + why, "vocab.txt");
  };
  if (vocab.size() != vocab_size) {
    return bad("has " + std::to_string(vocab.size()) + " tokens but config.json's vocab_size is " +
               std::to_string(vocab_size) + " (one token per embedding row)");
  }
  auto special = special_tokens(vocab);
  if (!special) return bad("lacks the special token " + special.status().field());
  int64_t specials = 0;
  for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    for (int64_t id = 0; id < vocab.size(); ++id) specials += vocab.token(id) == token;
  }
  if (specials >= vocab.size()) {
    return bad("holds only special tokens: every word would become [UNK]");
  }
  return Status::ok();
}

Status validate(const ExampleOptions& o) {
  auto bad = [](const char* field, const std::string& why) {
    return Status(Code::kInvalidArgument, std::string(field) + " " + why, field);
  };
  if (o.seq_len < 8) return bad("seq_len", "must be at least 8");
  auto probability = [](double p) { return p >= 0.0 && p <= 1.0; };
  if (!probability(o.short_seq_prob)) return bad("short_seq_prob", "must be in [0, 1]");
  if (!probability(o.random_next_prob)) return bad("random_next_prob", "must be in [0, 1]");
  if (!(o.mask_prob > 0.0 && o.mask_prob <= 1.0)) return bad("mask_prob", "must be in (0, 1]");
  if (o.max_predictions < 0) return bad("max_predictions", "must not be negative");
  if (o.shuffle_buffer < 0) return bad("shuffle_buffer", "must not be negative");
  if (o.cache_tokens < 0) return bad("cache_tokens", "must not be negative");
  return Status::ok();
}

struct ExampleStream::Impl {
  const Corpus* corpus;
  Split split;
  const WordPieceTokenizer* tokenizer;
  ExampleOptions options;
  SpecialTokens special;
  detail::Rng rng;
  std::vector<int32_t> ordinary_ids;  // what a "random token" replacement draws from
  int64_t max_predictions;

  std::vector<int64_t> order;  // this epoch's document order
  size_t next_document = 0;
  std::deque<Example> pending;   // examples of the last document
  std::vector<Example> buffer;   // shuffle buffer
  std::deque<Example> replay;    // restored examples returned before anything else
  int64_t barren_documents = 0;  // documents in a row that yielded nothing
  std::unordered_map<int64_t, Sentences> cache;
  std::deque<int64_t> cache_order;  // oldest first
  int64_t cached_tokens = 0;

  Impl(const Corpus& c, Split s, const WordPieceTokenizer& t, ExampleOptions o, SpecialTokens sp,
       uint64_t seed)
      : corpus(&c), split(s), tokenizer(&t), options(o), special(sp), rng(seed) {
    for (int64_t id = 0; id < t.vocab().size(); ++id) {
      const int32_t i = static_cast<int32_t>(id);
      if (i != sp.pad && i != sp.unk && i != sp.cls && i != sp.sep && i != sp.mask) {
        ordinary_ids.push_back(i);
      }
    }
    if (ordinary_ids.empty()) ordinary_ids.push_back(sp.unk);
    max_predictions =
        o.max_predictions > 0
            ? o.max_predictions
            : static_cast<int64_t>(std::ceil(static_cast<double>(o.seq_len) * o.mask_prob));
  }

  Result<const Sentences*> tokenized(int64_t document) {
    if (auto it = cache.find(document); it != cache.end()) return &it->second;
    auto text = corpus->read_document(document);
    if (!text) return text.status();
    Sentences out;
    int64_t tokens = 0;
    for (const std::string& sentence : *text) {
      std::vector<int32_t> ids = tokenizer->encode(sentence);
      tokens += static_cast<int64_t>(ids.size());
      if (!ids.empty()) out.push_back(std::move(ids));
    }
    while (!cache_order.empty() && cached_tokens + tokens > options.cache_tokens) {
      auto oldest = cache.find(cache_order.front());
      for (const auto& sentence : oldest->second) {
        cached_tokens -= static_cast<int64_t>(sentence.size());
      }
      cache.erase(oldest);
      cache_order.pop_front();
    }
    cached_tokens += tokens;
    cache_order.push_back(document);
    return &cache.emplace(document, std::move(out)).first->second;
  }

  void truncate_pair(std::vector<int32_t>& a, std::vector<int32_t>& b, size_t max_tokens) {
    while (a.size() + b.size() > max_tokens) {
      std::vector<int32_t>& longer = a.size() > b.size() ? a : b;
      if (rng.chance(0.5)) {
        longer.erase(longer.begin());
      } else {
        longer.pop_back();
      }
    }
  }

  Example assemble(const std::vector<int32_t>& a, const std::vector<int32_t>& b, bool random) {
    Example e;
    e.input_ids.push_back(special.cls);
    append(e.input_ids, a);
    e.input_ids.push_back(special.sep);
    e.token_type_ids.assign(e.input_ids.size(), 0);
    append(e.input_ids, b);
    e.input_ids.push_back(special.sep);
    e.token_type_ids.resize(e.input_ids.size(), 1);
    e.nsp_label = random ? 1 : 0;

    e.mlm_labels.assign(e.input_ids.size(), -100);
    std::vector<size_t> candidates;
    for (size_t i = 0; i < e.input_ids.size(); ++i) {
      if (e.input_ids[i] != special.cls && e.input_ids[i] != special.sep) candidates.push_back(i);
    }
    rng.shuffle(candidates);
    const int64_t wanted = std::min<int64_t>(
        max_predictions, std::max<int64_t>(1, std::llround(static_cast<double>(e.input_ids.size()) *
                                                           options.mask_prob)));
    for (int64_t k = 0; k < wanted && k < static_cast<int64_t>(candidates.size()); ++k) {
      const size_t pos = candidates[static_cast<size_t>(k)];
      e.mlm_labels[pos] = e.input_ids[pos];
      const double r = rng.uniform();
      if (r < 0.8) {
        e.input_ids[pos] = special.mask;
      } else if (r >= 0.9) {
        e.input_ids[pos] = rng.pick(ordinary_ids);
      }
    }
    return e;
  }

  // Appends the examples of one document to `pending`.
  Status process(int64_t document) {
    auto sentences = tokenized(document);
    if (!sentences) return sentences.status();
    // A copy: fetching the random document below may evict this one.
    const Sentences doc = **sentences;
    const int64_t max_tokens = options.seq_len - 3;
    const int64_t target =
        rng.chance(options.short_seq_prob) ? rng.between(2, max_tokens) : max_tokens;
    const std::vector<int64_t>& pool = corpus->documents(split);

    std::vector<const std::vector<int32_t>*> chunk;
    int64_t length = 0;
    for (size_t i = 0; i < doc.size(); ++i) {
      chunk.push_back(&doc[i]);
      length += static_cast<int64_t>(doc[i].size());
      if (i + 1 != doc.size() && length < target) continue;
      const size_t a_end =
          chunk.size() >= 2
              ? static_cast<size_t>(rng.between(1, static_cast<int64_t>(chunk.size()) - 1))
              : 1;
      std::vector<int32_t> a, b;
      for (size_t j = 0; j < a_end; ++j) append(a, *chunk[j]);
      const bool random = chunk.size() == 1 || rng.chance(options.random_next_prob);
      if (random) {
        int64_t other = document;
        for (int tries = 0; tries < 10 && other == document; ++tries) other = rng.pick(pool);
        if (other != document) {
          auto fetched = tokenized(other);
          if (!fetched) return fetched.status();
          const Sentences& other_sentences = **fetched;
          if (!other_sentences.empty()) {
            const int64_t target_b = std::max<int64_t>(1, target - static_cast<int64_t>(a.size()));
            for (size_t j = rng.below(other_sentences.size()); j < other_sentences.size(); ++j) {
              append(b, other_sentences[j]);
              if (static_cast<int64_t>(b.size()) >= target_b) break;
            }
          }
        }
        i -= chunk.size() - a_end;  // the unused sentences are used later
      } else {
        for (size_t j = a_end; j < chunk.size(); ++j) append(b, *chunk[j]);
      }
      truncate_pair(a, b, static_cast<size_t>(max_tokens));
      if (!a.empty() && !b.empty()) pending.push_back(assemble(a, b, random));
      chunk.clear();
      length = 0;
    }
    return Status::ok();
  }

  Result<Example> next_unbuffered() {
    while (pending.empty()) {
      if (barren_documents > static_cast<int64_t>(corpus->documents(split).size())) {
        return Status(Code::kInvalidArgument,
                      corpus->path().string() + ": no document of the " +
                          (split == Split::kTrain ? "training" : "evaluation") +
                          " split yields a sentence pair (the tokenizer finds no tokens?)");
      }
      if (next_document == order.size()) {
        order = corpus->documents(split);
        rng.shuffle(order);
        next_document = 0;
      }
      if (Status s = process(order[next_document++]); !s) return s;
      barren_documents = pending.empty() ? barren_documents + 1 : 0;
    }
    Example e = std::move(pending.front());
    pending.pop_front();
    return e;
  }

  Result<Example> next() {
    if (!replay.empty()) {
      Example e = std::move(replay.front());
      replay.pop_front();
      return e;
    }
    const size_t capacity = static_cast<size_t>(std::max<int64_t>(1, options.shuffle_buffer));
    while (buffer.size() < capacity) {
      auto e = next_unbuffered();
      if (!e) return e.status();
      buffer.push_back(std::move(e.value()));
    }
    std::swap(buffer[rng.below(buffer.size())], buffer.back());
    Example out = std::move(buffer.back());
    buffer.pop_back();
    return out;
  }
};

namespace {
// "ADXS" + format version 1.
constexpr uint64_t kStateMagic = 0x0000'0001'5358'4441ull;
}  // namespace

std::string ExampleStream::save_state(const std::vector<const Example*>& drawn) const {
  const Impl& m = *impl_;
  detail::ByteWriter w;
  w.u64(kStateMagic);
  w.u64(drawn.size() + m.replay.size());
  for (const Example* e : drawn) detail::write_example(w, *e);
  for (const Example& e : m.replay) detail::write_example(w, e);
  w.u64(m.rng.state());
  w.i64s(m.order);
  w.u64(m.next_document);
  w.i64(m.barren_documents);
  w.u64(m.pending.size());
  for (const Example& e : m.pending) detail::write_example(w, e);
  w.u64(m.buffer.size());
  for (const Example& e : m.buffer) detail::write_example(w, e);
  return w.take();
}

Status ExampleStream::restore_state(std::string_view state) {
  Impl& m = *impl_;
  auto bad = [](const std::string& why) {
    return Status(Code::kInvalidArgument, "data-pipeline state: " + why, "data_state");
  };
  detail::ByteReader r(state);
  if (r.u64() != kStateMagic || !r.ok()) return bad("not a version-1 example-stream state");
  const int64_t vocab = m.tokenizer->vocab().size();
  std::deque<Example> replay;
  const uint64_t replay_count = r.u64();
  for (uint64_t i = 0; r.ok() && i < replay_count; ++i) {
    Example e;
    if (!detail::read_example(r, e, vocab, m.options.seq_len)) return bad("bad drawn example");
    replay.push_back(std::move(e));
  }
  const uint64_t rng = r.u64();
  std::vector<int64_t> order = r.i64s();
  const uint64_t next_document = r.u64();
  const int64_t barren = r.i64();
  if (!r.ok()) return bad("truncated");
  const size_t documents = m.corpus->documents(m.split).size();
  if (!order.empty() && order.size() != documents) {
    return bad("its epoch orders " + std::to_string(order.size()) + " documents, the split has " +
               std::to_string(documents));
  }
  for (int64_t d : order) {
    if (d < 0 || d >= m.corpus->num_documents()) return bad("document index out of range");
  }
  if (next_document > order.size() || barren < 0) return bad("position out of range");
  std::deque<Example> pending;
  std::vector<Example> buffer;
  const uint64_t pending_count = r.u64();
  for (uint64_t i = 0; r.ok() && i < pending_count; ++i) {
    Example e;
    if (!detail::read_example(r, e, vocab, m.options.seq_len)) return bad("bad example in flight");
    pending.push_back(std::move(e));
  }
  const uint64_t buffer_count = r.u64();
  if (!r.ok() ||
      buffer_count > static_cast<uint64_t>(std::max<int64_t>(1, m.options.shuffle_buffer))) {
    return bad("bad shuffle buffer");
  }
  for (uint64_t i = 0; i < buffer_count; ++i) {
    Example e;
    if (!detail::read_example(r, e, vocab, m.options.seq_len)) return bad("bad example in flight");
    buffer.push_back(std::move(e));
  }
  if (!r.ok() || !r.at_end()) return bad("truncated or trailing bytes");
  m.rng.set_state(rng);
  m.order = std::move(order);
  m.next_document = next_document;
  m.barren_documents = barren;
  m.pending = std::move(pending);
  m.buffer = std::move(buffer);
  m.replay = std::move(replay);
  return Status::ok();
}

ExampleStream::ExampleStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExampleStream::ExampleStream(ExampleStream&&) noexcept = default;
ExampleStream& ExampleStream::operator=(ExampleStream&&) noexcept = default;
ExampleStream::~ExampleStream() = default;

Result<ExampleStream> ExampleStream::create(const Corpus& corpus, Split split,
                                            const WordPieceTokenizer& tokenizer,
                                            ExampleOptions options, uint64_t seed) {
  if (Status s = validate(options); !s) return s;
  auto special = special_tokens(tokenizer.vocab());
  if (!special) return special.status();
  return ExampleStream(std::make_unique<Impl>(corpus, split, tokenizer, options, *special, seed));
}

Result<Example> ExampleStream::next() {
  return impl_->next();
}

}  // namespace autodistill::model
