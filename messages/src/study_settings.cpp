#include "autodistill/study_settings.hpp"

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <sstream>
#include <variant>

#include "autodistill/bounded_json.hpp"
#include "autodistill/student_settings.hpp"
#include "autodistill/wire/digest.hpp"

namespace autodistill {

namespace {

using nlohmann::json;

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kMaxSize = int64_t{1} << 31;     // student sizes and factors
constexpr int64_t kMaxServing = int64_t{1} << 40;  // serving batch and sequence sizes

Status invalid(const std::string& field, const std::string& why) {
  return Status(Code::kInvalidArgument, field + " " + why, field);
}

// One knob of a section: its key, the member it fills, its type and range,
// its meaning (the docs' table is generated from these).
template <class S>
struct Knob {
  const char* key;
  std::variant<int64_t S::*, uint64_t S::*, double S::*, bool S::*, std::string S::*> member;
  int64_t ilo = 0, ihi = kMaxInt;         // integers: [ilo, ihi]
  double lo = -kInf, hi = kInf;           // numbers
  bool lo_open = false, hi_open = false;  // numbers: open ends
  std::vector<std::string> choices = {};  // strings
  const char* meaning = "";
};

template <class S>
Knob<S> integer(const char* key, int64_t S::*m, int64_t lo, int64_t hi, const char* meaning) {
  Knob<S> k{key, m};
  k.ilo = lo;
  k.ihi = hi;
  k.meaning = meaning;
  return k;
}
template <class S>
Knob<S> uinteger(const char* key, uint64_t S::*m, const char* meaning) {
  Knob<S> k{key, m};
  k.meaning = meaning;
  return k;
}
template <class S>
Knob<S> number(const char* key, double S::*m, double lo, bool lo_open, double hi, bool hi_open,
               const char* meaning) {
  Knob<S> k{key, m};
  k.lo = lo;
  k.hi = hi;
  k.lo_open = lo_open;
  k.hi_open = hi_open;
  k.meaning = meaning;
  return k;
}
template <class S>
Knob<S> boolean(const char* key, bool S::*m, const char* meaning) {
  Knob<S> k{key, m};
  k.meaning = meaning;
  return k;
}
template <class S>
Knob<S> choice(const char* key, std::string S::*m, std::vector<std::string> choices,
               const char* meaning) {
  Knob<S> k{key, m};
  k.choices = std::move(choices);
  k.meaning = meaning;
  return k;
}

std::string number_text(double x) {
  if (std::isinf(x)) return x > 0 ? "∞" : "-∞";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}
std::string int_text(int64_t x) {
  if (x == kMaxInt) return "2⁶³−1";
  if (x == kMaxSize) return "2³¹";
  if (x == kMaxServing) return "2⁴⁰";
  return std::to_string(x);
}

template <class S>
std::string type_of(const Knob<S>& k) {
  switch (k.member.index()) {
    case 0:
      return "integer";
    case 1:
      return "integer";
    case 2:
      return "number";
    case 3:
      return "boolean";
    default:
      return "string";
  }
}

template <class S>
std::string range_of(const Knob<S>& k) {
  switch (k.member.index()) {
    case 0:
      return k.ihi == kMaxInt ? ">= " + int_text(k.ilo) : int_text(k.ilo) + ".." + int_text(k.ihi);
    case 1:
      return "0..2⁶⁴−1";
    case 2: {
      if (k.hi == kInf && k.lo == -kInf) return "finite";
      if (k.hi == kInf) return std::string(k.lo_open ? "> " : ">= ") + number_text(k.lo);
      return std::string(k.lo_open ? "(" : "[") + number_text(k.lo) + ", " + number_text(k.hi) +
             (k.hi_open ? ")" : "]");
    }
    case 3:
      return "true, false";
    default: {
      std::string out;
      for (const auto& c : k.choices) out += (out.empty() ? "" : ", ") + ("\"" + c + "\"");
      return out;
    }
  }
}

template <class S>
json value_of(const Knob<S>& k, const S& s) {
  return std::visit([&](auto m) { return json(s.*m); }, k.member);
}

template <class S>
Status read_knob(const Knob<S>& k, const json& v, S& s, const std::string& field) {
  switch (k.member.index()) {
    case 0: {
      if (!v.is_number_integer() ||
          (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(kMaxInt)) ||
          v.get<int64_t>() < k.ilo || v.get<int64_t>() > k.ihi) {
        return invalid(
            field, "must be an integer " +
                       (k.ihi == kMaxInt ? ">= " + int_text(k.ilo)
                                         : "from " + int_text(k.ilo) + " to " + int_text(k.ihi)));
      }
      s.*std::get<0>(k.member) = v.get<int64_t>();
      return Status::ok();
    }
    case 1:
      if (!v.is_number_unsigned()) return invalid(field, "must be a non-negative integer");
      s.*std::get<1>(k.member) = v.get<uint64_t>();
      return Status::ok();
    case 2: {
      const double x = v.is_number() ? v.get<double>() : NAN;
      const bool ok = std::isfinite(x) && (k.lo_open ? x > k.lo : x >= k.lo) &&
                      (k.hi_open ? x < k.hi : x <= k.hi);
      if (!ok) return invalid(field, "must be a number " + range_of(k));
      s.*std::get<2>(k.member) = x;
      return Status::ok();
    }
    case 3:
      if (!v.is_boolean()) return invalid(field, "must be true or false");
      s.*std::get<3>(k.member) = v.get<bool>();
      return Status::ok();
    default:
      for (const auto& c : k.choices) {
        if (v.is_string() && v.get<std::string>() == c) {
          s.*std::get<4>(k.member) = c;
          return Status::ok();
        }
      }
      return invalid(field, "must be one of " + range_of(k));
  }
}

template <class S>
std::string key_list(const std::vector<Knob<S>>& knobs) {
  std::string out;
  for (const auto& k : knobs) out += (out.empty() ? "" : ", ") + std::string(k.key);
  return out;
}

template <class S>
const Knob<S>* find_knob(const std::vector<Knob<S>>& knobs, const std::string& key) {
  for (const auto& k : knobs) {
    if (key == k.key) return &k;
  }
  return nullptr;
}

template <class S>
json knobs_to_json(const std::vector<Knob<S>>& knobs, const S& s) {
  json out = json::object();
  for (const auto& k : knobs) {
    if (s.given.count(k.key)) out[k.key] = value_of(k, s);
  }
  return out;
}

template <class S>
std::string knobs_markdown(const std::vector<Knob<S>>& knobs, const char* title) {
  std::ostringstream out;
  out << "| " << title << " | type | range | default | meaning |\n|---|---|---|---|---|\n";
  const S defaults{};
  for (const auto& k : knobs) {
    out << "| `" << k.key << "` | " << type_of(k) << " | " << range_of(k) << " | `"
        << value_of(k, defaults).dump() << "` | " << k.meaning << " |\n";
  }
  return out.str();
}

const std::vector<Knob<DistillKnobs>>& distill_knobs() {
  using D = DistillKnobs;
  static const std::vector<Knob<D>> knobs = {
      integer<D>("flash_steps", &D::flash_steps, 1, kMaxInt, "optimizer steps of a Flash trial"),
      integer<D>("regular_steps", &D::regular_steps, 1, kMaxInt,
                 "optimizer steps of a Regular trial"),
      number<D>("progressive_ratio", &D::progressive_ratio, 0, false, kInf, false,
                "progressive steps / pre-training steps; 0 skips progressive transfer"),
      integer<D>("batch_size", &D::batch_size, 1, kMaxInt, "sequences per batch"),
      integer<D>("seq_len", &D::seq_len, 8, kMaxInt,
                 "tokens per sequence, at most the teacher's `max_position_embeddings`"),
      number<D>("learning_rate", &D::learning_rate, 0, true, kInf, false,
                "peak LAMB learning rate of every phase (tiny models: ~1e-2; above ~3e-2 long "
                "runs destabilize)"),
      number<D>("warmup_fraction", &D::warmup_fraction, 0, false, 1, true,
                "share of each phase spent warming up"),
      number<D>("weight_decay", &D::weight_decay, 0, false, kInf, false,
                "LAMB decoupled weight decay"),
      number<D>("clip_norm", &D::clip_norm, 0, true, kInf, false, "global gradient-norm clip"),
      number<D>("alpha", &D::alpha, 0, false, 1, false, "weight of MLM against MLM distillation"),
      number<D>("temperature", &D::temperature, 0, true, kInf, false,
                "MLM distillation temperature"),
      number<D>("attention_weight", &D::attention_weight, 0, false, kInf, false, "weight of L_MHA"),
      number<D>("feature_weight", &D::feature_weight, 0, false, kInf, false, "weight of L_FM"),
      uinteger<D>("seed", &D::seed, "student initialization and training-data order"),
      integer<D>("eval_batches", &D::eval_batches, 1, kMaxInt,
                 "held-out batches (of `batch_size`) evaluated; the standard error of the "
                 "accuracy must stay below the gaps between students (bench/flash_fidelity)"),
      uinteger<D>("eval_seed", &D::eval_seed,
                  "which held-out examples (keep it fixed within a study)"),
      number<D>("eval_fraction", &D::eval_fraction, 0, true, 1, true,
                "share of documents held out"),
      uinteger<D>("split_seed", &D::split_seed, "which documents are held out"),
      integer<D>("threads", &D::threads, 0, kMaxInt,
                 "intra-op threads of this trial; 0 = the worker's `--threads`"),
      integer<D>("checkpoint_steps", &D::checkpoint_steps, 0, kMaxInt,
                 "a checkpoint every this many steps (0: no step trigger)"),
      number<D>("checkpoint_minutes", &D::checkpoint_minutes, 0, false, kInf, false,
                "... or this many minutes, whichever comes first (0: no time trigger)"),
      boolean<D>("checkpoint_flash", &D::checkpoint_flash, "checkpoint Flash trials too"),
      number<D>("gang_timeout_seconds", &D::gang_timeout_seconds, 0, true, kInf, false,
                "a gang's longest wait for the rendezvous and any collective: a peer silent "
                "this long fails the attempt"),
      number<D>("allreduce_bucket_mb", &D::allreduce_bucket_mb, 0, true, kInf, false,
                "gradient bucket size of a gang (smaller: more overlap with backward, more "
                "messages)"),
  };
  return knobs;
}

const std::vector<Knob<FinetuneKnobs>>& finetune_knobs() {
  using F = FinetuneKnobs;
  static const std::vector<Knob<F>> knobs = {
      integer<F>("epochs", &F::epochs, 1, 1000, "passes over the training set"),
      integer<F>("batch_size", &F::batch_size, 1, 65536, "examples per step"),
      integer<F>("max_seq_len", &F::max_seq_len, 4, 65536,
                 "tokens per example, at most the model's positions"),
      number<F>("learning_rate", &F::learning_rate, 0, true, 1e3, false,
                "peak AdamW learning rate"),
      number<F>("warmup_fraction", &F::warmup_fraction, 0, false, 1, false,
                "share of the steps warming up"),
      number<F>("weight_decay", &F::weight_decay, 0, false, 1, true,
                "AdamW decoupled decay of weight matrices"),
      number<F>("dropout", &F::dropout, 0, false, 1, true,
                "dropout on the pooled state before the head"),
      choice<F>("pooling", &F::pooling, {"mean", "cls"},
                "what the head sits on: the mean of the last hidden states, or the pooled [CLS]"),
      number<F>("clip_norm", &F::clip_norm, 0, true, 1e9, false, "global gradient-norm clip"),
      uinteger<F>("seed", &F::seed, "training order, head initialization, dropout"),
      integer<F>("max_train_examples", &F::max_train_examples, 0, int64_t{1} << 40,
                 "use only the first N training examples; 0: all"),
      integer<F>("threads", &F::threads, 0, 1024,
                 "intra-op threads of the trial; 0 = the worker's setting"),
  };
  return knobs;
}

const std::vector<Knob<ServingSettings>>& serving_knobs() {
  using V = ServingSettings;
  static const std::vector<Knob<V>> knobs = {
      integer<V>("batch_size", &V::batch_size, 1, kMaxServing,
                 "sequences per forward pass (the paper measures 1)"),
      integer<V>("seq_len", &V::seq_len, 1, kMaxServing,
                 "tokens per sequence, at most the student's `max_positions`"),
      integer<V>("threads", &V::threads, 1, 4096,
                 "intra-op threads of the forward pass, at most the probe worker's pinned CPUs"),
  };
  return knobs;
}

const char* const kSizeKeys[] = {"vocab_size", "max_positions", "type_vocab_size"};
const char* const kFactorKeys[] = {"num_blocks", "hidden_size",       "bottleneck_size",
                                   "num_heads",  "intermediate_size", "num_stacked_ffn"};

bool is_size_or_factor(const std::string& key) {
  for (const char* k : kSizeKeys)
    if (key == k) return true;
  for (const char* k : kFactorKeys)
    if (key == k) return true;
  return false;
}

bool is_device(const std::string& d) {
  const bool cuda_index = d.rfind("cuda:", 0) == 0 && d.size() > 5 &&
                          d.find_first_not_of("0123456789", 5) == std::string::npos;
  return d == "cpu" || d == "cuda" || cuda_index;
}

Result<std::map<std::string, double>> number_map(const json& v, const std::string& field) {
  if (!v.is_object()) return invalid(field, "must be an object of name -> number");
  std::map<std::string, double> out;
  for (const auto& [name, x] : v.items()) {
    if (!x.is_number() || !std::isfinite(x.get<double>())) {
      return invalid(field + "." + name, "must be a finite number");
    }
    out[name] = x.get<double>();
  }
  return out;
}

}  // namespace

void StudentSettings::apply(StudentArch& arch) const {
  const std::map<std::string, int64_t*> fields = {{"vocab_size", &arch.vocab_size},
                                                  {"max_positions", &arch.max_positions},
                                                  {"type_vocab_size", &arch.type_vocab_size},
                                                  {"num_blocks", &arch.num_blocks},
                                                  {"hidden_size", &arch.hidden_size},
                                                  {"bottleneck_size", &arch.bottleneck_size},
                                                  {"num_heads", &arch.num_heads},
                                                  {"intermediate_size", &arch.intermediate_size},
                                                  {"num_stacked_ffn", &arch.num_stacked_ffn}};
  for (const auto& [key, value] : sizes) *fields.at(key) = value;
  for (const std::string& key : given_options) {
    if (key == "embedding_size") arch.embedding_size = options.embedding_size;
    if (key == "trigram_input") arch.trigram_input = options.trigram_input;
    if (key == "normalization_type") arch.normalization = options.normalization;
    if (key == "use_bottleneck_attention")
      arch.use_bottleneck_attention = options.use_bottleneck_attention;
    if (key == "key_query_shared_bottleneck")
      arch.key_query_shared_bottleneck = options.key_query_shared_bottleneck;
  }
}

std::string StudySettings::serving_key() const {
  return serving_json.is_null() ? std::string("{}") : serving_json.dump();
}

Result<StudentSettings> read_student_section(const json& v, const std::string& field) {
  if (!v.is_object()) return invalid(field, "must be an object");
  StudentSettings out;
  for (const auto& [key, value] : v.items()) {
    const std::string f = field + "." + key;
    if (is_student_option(key)) {
      if (Status s = set_student_option(out.options, key, value, field + "."); !s) return s;
      out.given_options.insert(key);
    } else if (is_size_or_factor(key)) {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
          value.get<int64_t>() > kMaxSize) {
        return invalid(f, "must be a positive integer up to 2^31");
      }
      out.sizes[key] = value.get<int64_t>();
    } else {
      return invalid(f,
                     "is not a student setting (vocab_size, max_positions, type_vocab_size, "
                     "num_blocks, hidden_size, bottleneck_size, num_heads, intermediate_size, "
                     "num_stacked_ffn, embedding_size, trigram_input, normalization_type, "
                     "use_bottleneck_attention, key_query_shared_bottleneck)");
    }
  }
  return out;
}

Result<ServingSettings> read_serving_section(const json& v, const std::string& field) {
  if (!v.is_object()) return invalid(field, "must be an object");
  ServingSettings out;
  for (const auto& [key, value] : v.items()) {
    const std::string f = field + "." + key;
    if (const auto* k = find_knob(serving_knobs(), key)) {
      if (Status s = read_knob(*k, value, out, f); !s) return s;
    } else if (key == "device") {
      if (!value.is_string() || !is_device(value.get<std::string>())) {
        return invalid(f, "must be \"cpu\", \"cuda\" or \"cuda:N\"");
      }
      out.device = value.get<std::string>();
    } else if (key == "throughput_batch_sizes") {
      if (!value.is_array()) return invalid(f, "must be an array of batch sizes");
      for (size_t i = 0; i < value.size(); ++i) {
        const json& n = value[i];
        if (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > kMaxServing) {
          return invalid(f + "[" + std::to_string(i) + "]", "must be an integer from 1 to 2⁴⁰");
        }
        out.throughput_batch_sizes.push_back(n.get<int64_t>());
      }
      std::sort(out.throughput_batch_sizes.begin(), out.throughput_batch_sizes.end());
      out.throughput_batch_sizes.erase(
          std::unique(out.throughput_batch_sizes.begin(), out.throughput_batch_sizes.end()),
          out.throughput_batch_sizes.end());
    } else {
      return invalid(f, "is not a serving setting (" + key_list(serving_knobs()) +
                            ", device, throughput_batch_sizes)");
    }
    out.given.insert(key);
  }
  return out;
}

Result<DistillKnobs> read_distill_section(const json& v, const std::string& field) {
  if (!v.is_object()) return invalid(field, "must be an object");
  DistillKnobs out;
  for (const auto& [key, value] : v.items()) {
    const auto* k = find_knob(distill_knobs(), key);
    if (!k) {
      return invalid(field + "." + key,
                     "is not a distill setting (" + key_list(distill_knobs()) + ")");
    }
    if (Status s = read_knob(*k, value, out, field + "." + key); !s) return s;
    out.given.insert(key);
  }
  return out;
}

Status read_finetune_knob(FinetuneKnobs& knobs, const std::string& key, const json& value,
                          const std::string& field_prefix) {
  const auto* k = find_knob(finetune_knobs(), key);
  if (!k) {
    return invalid(field_prefix + key,
                   "is not a Finetune option (" + key_list(finetune_knobs()) + ")");
  }
  if (Status s = read_knob(*k, value, knobs, field_prefix + key); !s) return s;
  knobs.given.insert(key);
  return Status::ok();
}

Result<FinetuneSection> read_finetune_section(const json& v, const std::string& field) {
  if (!v.is_object()) {
    return invalid(field, "must be an object with a model and a task");
  }
  FinetuneSection out;
  auto model = v.find("model");
  if (model == v.end())
    return invalid(field + ".model", "is required (\"teacher\", a digest or files)");
  const std::string model_why = "must be \"teacher\", a sha256 digest or an object of file digests";
  if (model->is_string() && model->get<std::string>() == "teacher") {
    out.source = FinetuneSection::Source::kTeacher;
  } else if (model->is_string()) {
    if (!wire::is_valid_digest(model->get<std::string>()))
      return invalid(field + ".model", model_why);
    out.source = FinetuneSection::Source::kBundle;
    out.bundle_digest = model->get<std::string>();
  } else if (model->is_object() && !model->empty()) {
    out.source = FinetuneSection::Source::kFiles;
    for (const auto& [name, digest] : model->items()) {
      const bool plain = !name.empty() && name != "." && name != ".." &&
                         name.find('/') == std::string::npos &&
                         name.find('\0') == std::string::npos;
      if (!plain) return invalid(field + ".model", "\"" + name + "\" is not a plain file name");
      if (!digest.is_string() || !wire::is_valid_digest(digest.get<std::string>())) {
        return invalid(field + ".model." + name, "must be a sha256 digest");
      }
      out.files[name] = digest.get<std::string>();
    }
  } else {
    return invalid(field + ".model", model_why);
  }
  auto task = v.find("task");
  if (task == v.end() || !task->is_string() || !wire::is_valid_digest(task->get<std::string>())) {
    return invalid(field + ".task", "must be the sha256 digest of a task bundle");
  }
  out.task_digest = task->get<std::string>();
  for (const auto& [key, value] : v.items()) {
    if (key == "model" || key == "task") continue;
    if (Status s = read_finetune_knob(out.knobs, key, value, field + "."); !s) return s;
  }
  return out;
}

Result<ProbeHandoff> read_probe_section(const json& v, const std::string& field) {
  if (!v.is_object()) return invalid(field, "must be an object");
  ProbeHandoff out;
  for (const auto& [key, value] : v.items()) {
    const std::string f = field + "." + key;
    if (key == "trial_id") {
      if (!value.is_number_unsigned()) return invalid(f, "must be a non-negative integer");
      out.trial_id = value.get<uint64_t>();
    } else if (key == "hardware_fingerprint") {
      if (!value.is_string()) return invalid(f, "must be a string");
      out.hardware_fingerprint = value.get<std::string>();
    } else if (key == "objectives" || key == "metrics") {
      auto m = number_map(value, f);
      if (!m) return m.status();
      (key == "objectives" ? out.objectives : out.metrics) = std::move(m.value());
    } else {
      return invalid(f,
                     "is not a probe handoff key (trial_id, hardware_fingerprint, objectives, "
                     "metrics)");
    }
  }
  return out;
}

Result<GlueSettings> read_glue_settings(const json& glue, const std::string& prefix) {
  auto bad = [&](const std::string& key, const std::string& why) {
    return invalid(key.empty() ? prefix : prefix + "." + key, why);
  };
  if (!glue.is_object()) return bad("", "must be an object with \"tasks\"");
  GlueSettings out;
  auto tasks = glue.find("tasks");
  if (tasks == glue.end() || !tasks->is_object() || tasks->empty()) {
    return bad("tasks", "must be an object of task name -> task bundle digest (at least one)");
  }
  if (tasks->size() > kMaxGlueTasks) {
    return bad("tasks", "names " + std::to_string(tasks->size()) + " tasks; at most " +
                            std::to_string(kMaxGlueTasks));
  }
  for (const auto& [name, digest] : tasks->items()) {
    if (!is_glue_task_name(name)) {
      return bad("tasks", "has a task name that is not 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    if (!digest.is_string() || !wire::is_valid_digest(digest.get<std::string>())) {
      return bad("tasks." + name, "must be the sha256 digest of a task bundle");
    }
    out.tasks[name] = digest.get<std::string>();
  }
  FinetuneKnobs knobs;
  for (const auto& [key, v] : glue.items()) {
    if (key == "tasks") continue;
    if (Status s = read_finetune_knob(knobs, key, v, prefix + "."); !s) {
      if (!find_knob(finetune_knobs(), key)) {
        return bad(key, "is not a GLUE setting (tasks, " + key_list(finetune_knobs()) + ")");
      }
      return s;
    }
    out.options[key] = v;
  }
  return out;
}

Result<StudySettings> parse_study_settings(const json& settings, const std::string& prefix) {
  if (!settings.is_object()) return invalid(prefix, "must be a JSON object");
  StudySettings out;
  for (const auto& [key, v] : settings.items()) {
    const std::string field = prefix + "." + key;
    if (key == "student") {
      auto s = read_student_section(v, field);
      if (!s) return s.status();
      out.student = std::move(s.value());
    } else if (key == "serving") {
      auto s = read_serving_section(v, field);
      if (!s) return s.status();
      out.serving = std::move(s.value());
      out.serving_json = v;
    } else if (key == "distill") {
      auto s = read_distill_section(v, field);
      if (!s) return s.status();
      out.distill = std::move(s.value());
    } else if (key == "glue") {
      auto s = read_glue_settings(v, field);
      if (!s) return s.status();
      out.glue = std::move(s.value());
    } else if (key == "probe") {
      auto s = read_probe_section(v, field);
      if (!s) return s.status();
      out.probe = std::move(s.value());
    } else if (key == "finetune") {
      auto s = read_finetune_section(v, field);
      if (!s) return s.status();
      out.finetune = std::move(s.value());
    } else {
      out.others[key] = v;
    }
  }
  return out;
}

Result<StudySettings> parse_study_settings_text(std::string_view text, const std::string& prefix) {
  auto parsed = parse_json(text.empty() ? std::string_view("{}") : text, prefix);
  if (!parsed) return Status(Code::kMalformed, parsed.status().message(), prefix);
  if (!parsed->is_object()) {
    return Status(Code::kMalformed, "settings are not a JSON object", prefix);
  }
  return parse_study_settings(parsed.value(), prefix);
}

json to_json(const StudentSettings& s) {
  json out = json::object();
  for (const auto& [key, value] : s.sizes) out[key] = value;
  for (const std::string& key : s.given_options) {
    if (key == "embedding_size") out[key] = s.options.embedding_size;
    if (key == "trigram_input") out[key] = s.options.trigram_input;
    if (key == "normalization_type") {
      out[key] = s.options.normalization == Normalization::kNoNorm ? "no_norm" : "layer_norm";
    }
    if (key == "use_bottleneck_attention") out[key] = s.options.use_bottleneck_attention;
    if (key == "key_query_shared_bottleneck") out[key] = s.options.key_query_shared_bottleneck;
  }
  return out;
}

json to_json(const ServingSettings& s) {
  json out = knobs_to_json(serving_knobs(), s);
  if (s.given.count("device")) out["device"] = s.device;
  if (s.given.count("throughput_batch_sizes")) {
    out["throughput_batch_sizes"] = s.throughput_batch_sizes;
  }
  return out;
}

json to_json(const DistillKnobs& k) {
  return knobs_to_json(distill_knobs(), k);
}

json to_json(const FinetuneKnobs& k) {
  return knobs_to_json(finetune_knobs(), k);
}

json to_json(const FinetuneSection& f) {
  json out = to_json(f.knobs);
  switch (f.source) {
    case FinetuneSection::Source::kTeacher:
      out["model"] = "teacher";
      break;
    case FinetuneSection::Source::kBundle:
      out["model"] = f.bundle_digest;
      break;
    case FinetuneSection::Source::kFiles:
      out["model"] = f.files;
      break;
  }
  out["task"] = f.task_digest;
  return out;
}

json to_json(const ProbeHandoff& p) {
  return json{{"trial_id", p.trial_id},
              {"hardware_fingerprint", p.hardware_fingerprint},
              {"objectives", p.objectives},
              {"metrics", p.metrics}};
}

json to_json(const GlueSettings& g) {
  json out = g.options;
  out["tasks"] = g.tasks;
  return out;
}

json to_json(const StudySettings& s) {
  json out = s.others;
  if (s.student) out["student"] = to_json(*s.student);
  if (s.serving) out["serving"] = s.serving_json;
  if (s.distill) out["distill"] = to_json(*s.distill);
  if (s.glue) out["glue"] = to_json(*s.glue);
  if (s.probe) out["probe"] = to_json(*s.probe);
  if (s.finetune) out["finetune"] = to_json(*s.finetune);
  return out;
}

std::string settings_reference_markdown(const std::string& section) {
  if (section == "distill") return knobs_markdown(distill_knobs(), "`distill` key");
  if (section == "finetune") return knobs_markdown(finetune_knobs(), "`finetune` / `glue` option");
  if (section == "serving") {
    std::string out = knobs_markdown(serving_knobs(), "`serving` key");
    out +=
        "| `device` | string | \"cpu\", \"cuda\", \"cuda:N\" | `\"cpu\"` | where the forward "
        "pass runs |\n"
        "| `throughput_batch_sizes` | array of integers | each 1..2⁴⁰ | `[]` | batch sizes whose "
        "throughput is measured too (sorted, duplicates dropped) |\n";
    return out;
  }
  return "";
}

}  // namespace autodistill
