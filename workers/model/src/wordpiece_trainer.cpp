#include "autodistill/model/wordpiece_trainer.hpp"

#include <algorithm>
#include <fstream>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "utf8.hpp"

namespace autodistill::model {

namespace {

constexpr const char* kSpecial[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

// The code points of a (valid UTF-8) word as strings: "a", "##b", "##c".
std::vector<std::string> initial_symbols(const std::string& word) {
  std::vector<std::string> out;
  for (size_t i = 0; i < word.size();) {
    size_t j = i + 1;
    while (j < word.size() && (static_cast<unsigned char>(word[j]) & 0xC0) == 0x80) ++j;
    out.push_back((i == 0 ? "" : "##") + word.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string merged(const std::string& a, const std::string& b) {
  return a + (b.rfind("##", 0) == 0 ? b.substr(2) : b);
}

using Pair = std::pair<int32_t, int32_t>;

struct PairHash {
  size_t operator()(const Pair& p) const {
    return std::hash<uint64_t>{}((static_cast<uint64_t>(static_cast<uint32_t>(p.first)) << 32) |
                                 static_cast<uint32_t>(p.second));
  }
};

// A candidate merge in the priority queue; stale entries (whose count has
// changed since) are skipped when popped.
struct Candidate {
  int64_t count;
  std::string token;
  Pair pair;
  // The largest count first; among equal counts the smallest token.
  bool operator<(const Candidate& o) const {
    return std::tie(count, o.token) < std::tie(o.count, token);
  }
};

}  // namespace

Result<Vocab> train_wordpiece(const std::map<std::string, int64_t>& word_counts,
                              const WordPieceTrainerOptions& options) {
  if (options.min_frequency < 1) {
    return Status(Code::kInvalidArgument, "min_frequency must be at least 1", "min_frequency");
  }
  // Symbols by id, and each word as symbol ids.
  std::vector<std::string> symbols;
  std::unordered_map<std::string, int32_t> symbol_ids;
  auto intern = [&](const std::string& s) {
    auto [it, added] = symbol_ids.emplace(s, static_cast<int32_t>(symbols.size()));
    if (added) symbols.push_back(s);
    return it->second;
  };
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> counts;
  for (const auto& [word, count] : word_counts) {
    if (word.empty() || count <= 0) continue;
    std::vector<int32_t> ids;
    for (const std::string& s : initial_symbols(word)) ids.push_back(intern(s));
    words.push_back(std::move(ids));
    counts.push_back(count);
  }
  std::set<std::string> alphabet(symbols.begin(), symbols.end());
  for (const char* s : kSpecial) alphabet.erase(s);
  const int64_t base = static_cast<int64_t>(std::size(kSpecial) + alphabet.size());
  if (options.vocab_size < base) {
    return Status(Code::kInvalidArgument,
                  "vocab_size " + std::to_string(options.vocab_size) + " cannot hold the " +
                      std::to_string(alphabet.size()) + " symbols of the corpus's alphabet",
                  "vocab_size");
  }
  std::vector<std::string> tokens(std::begin(kSpecial), std::end(kSpecial));
  tokens.insert(tokens.end(), alphabet.begin(), alphabet.end());
  std::set<std::string> in_vocab(tokens.begin(), tokens.end());

  std::unordered_map<Pair, int64_t, PairHash> pair_counts;
  std::unordered_map<Pair, std::set<size_t>, PairHash> where;
  std::priority_queue<Candidate> queue;
  auto add_pairs = [&](size_t w, int64_t sign) {
    const auto& ids = words[w];
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const Pair p{ids[i], ids[i + 1]};
      int64_t& c = pair_counts[p];
      c += sign * counts[w];
      if (sign > 0) where[p].insert(w);
    }
  };
  for (size_t w = 0; w < words.size(); ++w) add_pairs(w, +1);
  for (const auto& [p, c] : pair_counts) {
    queue.push({c, merged(symbols[p.first], symbols[p.second]), p});
  }

  while (static_cast<int64_t>(tokens.size()) < options.vocab_size && !queue.empty()) {
    const Candidate best = queue.top();
    queue.pop();
    auto it = pair_counts.find(best.pair);
    if (it == pair_counts.end() || it->second != best.count) continue;  // stale
    if (best.count < options.min_frequency) break;
    const int32_t id = intern(best.token);
    if (in_vocab.insert(best.token).second) tokens.push_back(best.token);
    // Re-segment every word holding the pair; recount its pairs.
    const std::set<size_t> affected = std::move(where[best.pair]);
    where.erase(best.pair);
    std::set<Pair> touched;
    for (size_t w : affected) {
      add_pairs(w, -1);
      for (size_t i = 0; i + 1 < words[w].size(); ++i) {
        touched.insert({words[w][i], words[w][i + 1]});
      }
      std::vector<int32_t> next;
      const auto& ids = words[w];
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i + 1 < ids.size() && ids[i] == best.pair.first && ids[i + 1] == best.pair.second) {
          next.push_back(id);
          ++i;
        } else {
          next.push_back(ids[i]);
        }
      }
      words[w] = std::move(next);
      add_pairs(w, +1);
      for (size_t i = 0; i + 1 < words[w].size(); ++i) {
        touched.insert({words[w][i], words[w][i + 1]});
      }
    }
    for (const Pair& p : touched) {
      auto c = pair_counts.find(p);
      if (c == pair_counts.end()) continue;
      if (c->second <= 0) {
        pair_counts.erase(c);
        where.erase(p);
        continue;
      }
      queue.push({c->second, merged(symbols[p.first], symbols[p.second]), p});
    }
  }
  return Vocab::from_tokens(std::move(tokens));
}

Result<Vocab> train_wordpiece(const std::filesystem::path& corpus,
                              const WordPieceTrainerOptions& options) {
  std::ifstream in(corpus, std::ios::binary);
  if (!in) return Status(Code::kNotFound, corpus.string() + ": cannot be read", "corpus");
  auto unk = Vocab::from_tokens({options.tokenizer.unk_token});
  if (!unk) return unk.status();
  auto tokenizer = WordPieceTokenizer::create(std::move(unk.value()), options.tokenizer);
  if (!tokenizer) return tokenizer.status();
  std::map<std::string, int64_t> word_counts;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!detail::is_utf8(line)) {
      return Status(Code::kInvalidArgument, corpus.string() + ": line is not UTF-8",
                    "line " + std::to_string(number));
    }
    for (std::string& word : tokenizer->basic_tokenize(line)) ++word_counts[std::move(word)];
  }
  if (word_counts.empty()) {
    return Status(Code::kInvalidArgument, corpus.string() + ": no words", "corpus");
  }
  return train_wordpiece(word_counts, options);
}

}  // namespace autodistill::model
