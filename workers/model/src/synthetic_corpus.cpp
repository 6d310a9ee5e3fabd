#include "autodistill/model/synthetic_corpus.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>

#include "rng.hpp"

namespace autodistill::model {

namespace {

struct Verb {
  std::string base, third, past;  // "chase", "chases", "chased"
};

struct Topic {
  std::vector<std::string> nouns;  // singular; the plural adds "s"
  std::vector<Verb> verbs;
  std::vector<std::string> adjectives;
  std::vector<std::string> places;
};

const std::vector<Topic>& topics() {
  static const std::vector<Topic> t = {
      {{"dog", "cat", "horse", "cow", "bird", "goat", "duck", "rabbit"},
       {{"chase", "chases", "chased"},
        {"feed", "feeds", "fed"},
        {"follow", "follows", "followed"},
        {"call", "calls", "called"},
        {"groom", "grooms", "groomed"}},
       {"small", "loud", "brown", "hungry", "lazy", "young"},
       {"farm", "barn", "field"}},
      {{"cake", "apple", "pie", "cookie", "lemon", "carrot", "onion", "egg"},
       {{"cook", "cooks", "cooked"},
        {"bake", "bakes", "baked"},
        {"cut", "cuts", "cut"},
        {"eat", "eats", "ate"},
        {"buy", "buys", "bought"}},
       {"sweet", "fresh", "warm", "sour", "tasty", "ripe"},
       {"kitchen", "market", "bakery"}},
      {{"car", "bus", "street", "tower", "bridge", "shop", "train", "road"},
       {{"drive", "drives", "drove"},
        {"build", "builds", "built"},
        {"paint", "paints", "painted"},
        {"visit", "visits", "visited"},
        {"clean", "cleans", "cleaned"}},
       {"busy", "tall", "old", "new", "noisy", "grey"},
       {"city", "center", "station"}},
      {{"boat", "ship", "wave", "shell", "rock", "crab", "whale", "net"},
       {{"sail", "sails", "sailed"},
        {"pull", "pulls", "pulled"},
        {"row", "rows", "rowed"},
        {"spot", "spots", "spotted"},
        {"load", "loads", "loaded"}},
       {"blue", "deep", "wet", "calm", "salty", "wild"},
       {"beach", "harbor", "coast"}},
      {{"book", "desk", "pen", "lesson", "student", "teacher", "map", "test"},
       {{"read", "reads", "read"},
        {"write", "writes", "wrote"},
        {"learn", "learns", "learned"},
        {"open", "opens", "opened"},
        {"check", "checks", "checked"}},
       {"long", "hard", "easy", "short", "clever", "quiet"},
       {"school", "library", "classroom"}},
      {{"song", "drum", "guitar", "piano", "band", "singer", "violin", "radio"},
       {{"play", "plays", "played"},
        {"sing", "sings", "sang"},
        {"hear", "hears", "heard"},
        {"tune", "tunes", "tuned"},
        {"record", "records", "recorded"}},
       {"soft", "happy", "sad", "slow", "fast", "bright"},
       {"concert", "studio", "hall"}},
  };
  return t;
}

const std::vector<std::string> kMale = {"tom", "sam", "ben", "max", "leo", "jack"};
const std::vector<std::string> kFemale = {"anna", "mary", "lisa", "emma", "kate", "lucy"};
const std::vector<std::string> kSingularDet = {"a", "the", "this", "one"};
const std::vector<std::string> kPluralDet = {"the", "these", "some", "two", "three", "many"};
const std::vector<std::string> kFunctionWords = {
    "a",     "the",   "this", "one",       "these", "some", "two",  "three", "many", "that",
    "is",    "are",   "was",  "were",      "he",    "she",  "his",  "her",   "says", "said",
    "lives", "lived", "near", "yesterday", "every", "day",  "very", "and"};

struct NounPhrase {
  std::string noun;  // singular form
  bool plural = false;
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  void document(std::string& out, int64_t sentences) {
    topic_ = &rng_.pick(topics());
    female_ = rng_.chance(0.5);
    name_ = rng_.pick(female_ ? kFemale : kMale);
    past_ = rng_.chance(0.5);
    carried_.reset();
    out += name_ + (past_ ? " lived near the " : " lives near the ") + place() + " .\n";
    for (int64_t s = 1; s < sentences; ++s) {
      out += sentence();
      out += " .\n";
    }
  }

 private:
  // A topic word with 10 % noise from another topic.
  const Topic& source() { return rng_.chance(0.9) ? *topic_ : rng_.pick(topics()); }
  std::string place() { return rng_.pick(source().places); }
  NounPhrase noun() { return {rng_.pick(source().nouns), rng_.chance(0.4)}; }
  static std::string word(const NounPhrase& np) { return np.noun + (np.plural ? "s" : ""); }

  std::string determined(const NounPhrase& np) {
    std::string out = rng_.pick(np.plural ? kPluralDet : kSingularDet) + " ";
    if (rng_.chance(0.4)) out += rng_.pick(source().adjectives) + " ";
    return out + word(np);
  }

  std::string verb(bool plural, bool past) {
    const Verb& v = rng_.pick(source().verbs);
    return past ? v.past : plural ? v.base : v.third;
  }
  static std::string be(bool plural, bool past) {
    return past ? (plural ? "were" : "was") : (plural ? "are" : "is");
  }

  // The tense of this sentence, with an optional time marker in front.
  bool tense(std::string& out) {
    const double r = rng_.uniform();
    if (r < 0.15) {
      out += "yesterday ";
      return true;
    }
    if (r < 0.3) {
      out += "every day ";
      return false;
    }
    return past_;
  }

  std::string sentence() {
    std::string out;
    const double kind = rng_.uniform();
    if (kind < 0.4) {  // transitive: subject verb object
      const bool past = tense(out);
      bool plural = false;
      if (carried_ && rng_.chance(0.6)) {  // the last object becomes the subject
        out += "the " + word(*carried_);
        plural = carried_->plural;
      } else if (rng_.chance(0.3)) {
        out += rng_.chance(0.5) ? name_ : (female_ ? "she" : "he");
      } else {
        NounPhrase s = noun();
        out += determined(s);
        plural = s.plural;
      }
      NounPhrase o = noun();
      out += " " + verb(plural, past) + " " + determined(o);
      carried_ = o;
    } else if (kind < 0.6) {  // relative clause: the head noun decides the be-verb
      const bool past = tense(out);
      NounPhrase head = noun();
      out += "the " + word(head) + " that " +
             (rng_.chance(0.5) ? name_ : (female_ ? "she" : "he")) + " " + verb(false, past) + " " +
             be(head.plural, past) + " " + (rng_.chance(0.3) ? "very " : "") +
             rng_.pick(source().adjectives);
      carried_ = head;
    } else if (kind < 0.8) {  // possessive: gender and number
      const bool past = tense(out);
      NounPhrase np = noun();
      out += std::string(female_ ? "her " : "his ") + word(np) + " " + be(np.plural, past) + " " +
             rng_.pick(source().adjectives);
      carried_ = np;
    } else {  // reported: pronoun, then a clause
      const bool past = past_;
      NounPhrase s = noun(), o = noun();
      out += std::string(female_ ? "she " : "he ") + (past ? "said" : "says") + " that " +
             determined(s) + " " + verb(s.plural, past) + " " + determined(o);
      carried_ = o;
    }
    return out;
  }

  detail::Rng rng_;
  const Topic* topic_ = nullptr;
  bool female_ = false;
  bool past_ = false;
  std::string name_;
  std::optional<NounPhrase> carried_;
};

}  // namespace

std::string synthetic_corpus_text(const SyntheticCorpusOptions& options) {
  Generator generator(options.seed);
  detail::Rng lengths(options.seed ^ 0x5A5A5A5A5A5A5A5Aull);
  std::string out;
  for (int64_t d = 0; d < options.documents; ++d) {
    if (d > 0) out += "\n";
    generator.document(out, lengths.between(options.min_sentences, options.max_sentences));
  }
  return out;
}

Status write_synthetic_corpus(const std::filesystem::path& path,
                              const SyntheticCorpusOptions& options) {
  if (options.documents < 2) {
    return Status(Code::kInvalidArgument, "documents must be at least 2", "documents");
  }
  if (options.min_sentences < 2 || options.max_sentences < options.min_sentences) {
    return Status(Code::kInvalidArgument, "need 2 <= min_sentences <= max_sentences",
                  "min_sentences");
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << synthetic_corpus_text(options);
  out.flush();
  if (!out) return Status(Code::kInternal, path.string() + ": cannot write the corpus");
  return Status::ok();
}

std::vector<std::string> synthetic_vocab() {
  std::set<std::string> words(kFunctionWords.begin(), kFunctionWords.end());
  words.insert(kMale.begin(), kMale.end());
  words.insert(kFemale.begin(), kFemale.end());
  for (const Topic& t : topics()) {
    words.insert(t.nouns.begin(), t.nouns.end());
    words.insert(t.adjectives.begin(), t.adjectives.end());
    words.insert(t.places.begin(), t.places.end());
    for (const Verb& v : t.verbs) words.insert({v.base, v.third, v.past});
  }
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "##s"};
  vocab.insert(vocab.end(), words.begin(), words.end());
  return vocab;
}

}  // namespace autodistill::model
