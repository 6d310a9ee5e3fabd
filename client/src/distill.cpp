#include "autodistill/distill.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "autodistill/baseline.hpp"
#include "autodistill/bounded_json.hpp"
#include "autodistill/glue_settings.hpp"
#include "autodistill/study_json.hpp"
#include "autodistill/wire/bundle.hpp"
#include "autodistill/wire/digest.hpp"

namespace autodistill {

namespace fs = std::filesystem;

namespace {

Status invalid(const std::string& field, const std::string& message) {
  return Status(Code::kInvalidArgument, message, field);
}

Result<std::string> read_file(const fs::path& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "cannot read " + path.string(), field);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Status write_file(const fs::path& path, const std::string& text) {
  const fs::path part = path.string() + ".part";
  {
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return Status(Code::kInternal, "cannot write " + part.string());
  }
  std::error_code ec;
  fs::rename(part, path, ec);
  if (ec) return Status(Code::kInternal, "cannot rename " + part.string() + ": " + ec.message());
  return Status::ok();
}

// A scratch directory removed when it goes out of scope (unless given).
class Scratch {
 public:
  explicit Scratch(const fs::path& given) : owned_(given.empty()) {
    if (owned_) {
      std::random_device random;
      path_ = fs::temp_directory_path() /
              ("autodistill-distill-" + std::to_string(getpid()) + "-" + std::to_string(random()));
    } else {
      path_ = given;
    }
  }
  ~Scratch() {
    std::error_code ec;
    if (owned_) fs::remove_all(path_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  Status create() const {
    std::error_code ec;
    fs::create_directories(path_, ec);
    if (ec) return Status(Code::kInternal, "cannot create " + path_.string() + ": " + ec.message());
    return Status::ok();
  }
  const fs::path& path() const { return path_; }

 private:
  bool owned_;
  fs::path path_;
};

// The files of a Hugging Face BERT checkpoint the distillation worker reads
// (docs/distillation.md, "Teacher").
constexpr const char* kCheckpointFiles[] = {"config.json", "model.safetensors", "vocab.txt",
                                            "tokenizer_config.json"};

// The teacher as one bundle file, and its config.json text.
struct PackedTeacher {
  fs::path bundle;
  std::string config_json;
};

Result<PackedTeacher> pack_teacher(const fs::path& teacher, const Scratch& scratch) {
  std::error_code ec;
  if (!fs::exists(teacher, ec)) {
    return Status(Code::kNotFound, "no such teacher: " + teacher.string(), "teacher");
  }
  if (Status s = scratch.create(); !s) return s;
  PackedTeacher out;
  if (fs::is_directory(teacher, ec)) {
    auto config = read_file(teacher / "config.json", "teacher");
    if (!config) {
      return Status(Code::kInvalidArgument,
                    teacher.string() +
                        " has no config.json (want a Hugging Face BERT "
                        "checkpoint directory)",
                    "teacher");
    }
    out.config_json = *config;
    // Only the checkpoint goes into the bundle: a directory that also holds
    // a corpus, logs or reports (as autodistill-make-teacher writes it)
    // still gives a small bundle whose digest depends on the model alone.
    // Files are hard-linked (copied across file systems), not rewritten.
    const fs::path staged = scratch.path() / "checkpoint";
    fs::create_directories(staged, ec);
    if (ec)
      return Status(Code::kInternal, "cannot create " + staged.string() + ": " + ec.message());
    for (const char* name : kCheckpointFiles) {
      const fs::path from = teacher / name;
      if (!fs::is_regular_file(from, ec)) continue;
      fs::create_hard_link(from, staged / name, ec);
      if (ec) fs::copy_file(from, staged / name, ec);
      if (ec) return Status(Code::kInternal, "cannot stage " + from.string() + ": " + ec.message());
    }
    out.bundle = scratch.path() / "teacher.tar";
    if (Status s = wire::pack_directory(staged, out.bundle); !s) return s;
    return out;
  }
  if (!wire::is_bundle(teacher)) {
    return invalid("teacher",
                   teacher.string() + " is neither a checkpoint directory nor a tar bundle of one");
  }
  const fs::path unpacked = scratch.path() / "teacher";
  if (Status s = wire::unpack_bundle(teacher, unpacked); !s) return s;
  auto config = read_file(unpacked / "config.json", "teacher");
  if (!config) return invalid("teacher", teacher.string() + " holds no config.json");
  out.config_json = *config;
  out.bundle = teacher;
  return out;
}

void say(const DistillCallbacks& callbacks, const std::string& line) {
  if (callbacks.on_message) callbacks.on_message(line);
}

// An artifact name that stays inside the student's directory.
bool safe_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) out.push_back(part);
  if (!text.empty() && text.back() == sep) out.emplace_back();
  return out;
}

// Adds the teacher's vocabulary, positions and token types to
// settings.student where the study leaves them out, so the probe worker
// (which never sees the teacher) measures the model the distillation
// worker builds. kInvalidArgument when the settings are not a JSON object.
Status fill_student_sizes(const std::string& teacher_config, StudySpec& spec) {
  using json = nlohmann::json;
  auto parsed = parse_json(spec.settings_json.empty() ? "{}" : spec.settings_json, "settings");
  if (!parsed) return parsed.status();
  json settings = std::move(parsed.value());
  if (!settings.is_object()) return invalid("settings", "the settings are not a JSON object");
  json& student = settings["student"];
  if (student.is_null()) student = json::object();
  if (!student.is_object()) return invalid("settings.student", "not a JSON object");
  auto parsed_config = parse_json(teacher_config, "teacher");
  if (!parsed_config) {
    return invalid("teacher", "the teacher's config.json: " + parsed_config.status().message());
  }
  const json& config = parsed_config.value();
  if (!config.is_object()) return invalid("teacher", "the teacher's config.json is not an object");
  for (auto [ours, theirs] : {std::pair{"vocab_size", "vocab_size"},
                              std::pair{"max_positions", "max_position_embeddings"},
                              std::pair{"type_vocab_size", "type_vocab_size"}}) {
    auto it = config.find(theirs);
    if (!student.contains(ours) && it != config.end() && it->is_number_integer()) {
      student[ours] = *it;
    }
  }
  spec.settings_json = settings.dump();
  return Status::ok();
}

// Packs and uploads each GLUE task directory (train.tsv, dev.tsv,
// task.json) as a bundle and names it in settings.glue.tasks by the
// directory's name; settings.glue.max_seq_len defaults to the teacher's
// positions (at most 128, the fine-tuner's default) so a small teacher
// does not fail every Finetune trial.
Status add_glue_tasks(Client& client, const std::vector<std::string>& dirs,
                      const std::string& teacher_config, const Scratch& scratch,
                      const DistillCallbacks& callbacks, StudySpec& spec) {
  using json = nlohmann::json;
  if (dirs.empty()) return Status::ok();
  auto parsed = parse_json(spec.settings_json.empty() ? "{}" : spec.settings_json, "settings");
  if (!parsed) return parsed.status();
  json settings = std::move(parsed.value());
  if (!settings.is_object()) return invalid("settings", "the settings are not a JSON object");
  json& glue = settings["glue"];
  if (glue.is_null()) glue = json::object();
  if (!glue.is_object()) return invalid("settings.glue", "not a JSON object");
  if (!glue.contains("tasks")) glue["tasks"] = json::object();
  if (!glue["tasks"].is_object()) return invalid("settings.glue.tasks", "not a JSON object");
  for (const std::string& dir : dirs) {
    const fs::path path = fs::path(dir).lexically_normal();
    const std::string name = (path.has_filename() ? path : path.parent_path()).filename().string();
    if (!is_glue_task_name(name)) {
      return invalid("glue_task", dir + ": the directory's name \"" + name +
                                      "\" is not a task name (1-64 of A-Z a-z 0-9 . _ -)");
    }
    if (glue["tasks"].contains(name)) {
      return invalid("glue_task", dir + ": a task named \"" + name + "\" is given twice");
    }
    const fs::path staged = scratch.path() / "glue" / name;
    std::error_code ec;
    fs::create_directories(staged, ec);
    if (ec)
      return Status(Code::kInternal, "cannot create " + staged.string() + ": " + ec.message());
    for (const char* file : {"train.tsv", "dev.tsv", "task.json"}) {
      const fs::path from = fs::path(dir) / file;
      if (!fs::is_regular_file(from, ec)) {
        return Status(Code::kNotFound,
                      dir + " is not a GLUE task directory: no " + file +
                          " (autodistill-make-tasks writes train.tsv, dev.tsv, task.json)",
                      "glue_task");
      }
      fs::create_hard_link(from, staged / file, ec);
      if (ec) fs::copy_file(from, staged / file, ec);
      if (ec) return Status(Code::kInternal, "cannot stage " + from.string() + ": " + ec.message());
    }
    const fs::path bundle = scratch.path() / "glue" / (name + ".tar");
    if (Status s = wire::pack_directory(staged, bundle); !s) return s;
    auto digest = client.upload(bundle.string());
    if (!digest) return digest.status();
    say(callbacks, "GLUE task " + dir + "  " + *digest);
    glue["tasks"][name] = *digest;
  }
  if (!glue.contains("max_seq_len")) {
    auto config = parse_json(teacher_config, "teacher");
    int64_t positions = 128;
    if (config && config->is_object() && config->contains("max_position_embeddings") &&
        (*config)["max_position_embeddings"].is_number_integer()) {
      positions = std::min<int64_t>(positions, (*config)["max_position_embeddings"].get<int64_t>());
    }
    glue["max_seq_len"] = positions;
  }
  spec.settings_json = settings.dump();
  return Status::ok();
}

}  // namespace

std::string distill_key(const std::string& teacher_digest, const std::string& corpus_digest,
                        const StudySpec& spec) {
  StudySpec normalized = spec;
  normalized.teacher_digest.clear();
  normalized.corpus_digest.clear();
  const std::string material =
      teacher_digest + "\n" + corpus_digest + "\n" + study_spec_to_json(normalized, -1);
  return "distill-" + wire::sha256_hex(material).substr(0, 32);
}

Status write_report(const StudyReport& report, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, "cannot create " + dir.string() + ": " + ec.message());
  if (Status s = write_file(dir / "report.md", report_markdown(report)); !s) return s;
  return write_file(dir / "pareto.svg", pareto_svg(report));
}

Result<DistillOutcome> deliver_students(Client& client, uint64_t study_id,
                                        const fs::path& out_dir) {
  return deliver_study(client, study_id, out_dir / std::to_string(study_id));
}

Result<DistillOutcome> deliver_study(Client& client, uint64_t study_id, const fs::path& study_dir,
                                     bool fetch_students) {
  auto details = client.get(study_id, true);
  if (!details) return details.status();
  DistillOutcome outcome;
  outcome.submitted.study = details->study;
  outcome.report = build_report(details->study, details->trials);
  outcome.study_dir = study_dir;
  if (fetch_students && details->study.state == StudyState::kSucceeded) {
    for (const CandidateReport& c : outcome.report->candidates) {
      if (c.artifacts.empty()) continue;
      DeliveredStudent student{c.candidate,
                               outcome.study_dir / ("student-" + std::to_string(c.candidate)),
                               c.regular_accuracy, c.latency_ms};
      std::error_code ec;
      fs::create_directories(student.dir, ec);
      if (ec) {
        return Status(Code::kInternal,
                      "cannot create " + student.dir.string() + ": " + ec.message());
      }
      for (const Artifact& a : c.artifacts) {
        if (!safe_name(a.name)) {
          return Status(Code::kMalformed, "the daemon named an artifact \"" + a.name + "\"",
                        "artifacts");
        }
        const fs::path target = student.dir / a.name;
        if (auto have = wire::sha256_file(target.string()); have && *have == a.digest) continue;
        if (Status s = client.fetch_artifact(a.digest, target.string()); !s) return s;
      }
      outcome.students.push_back(std::move(student));
    }
  }
  if (Status s = write_report(*outcome.report, outcome.study_dir); !s) return s;
  return outcome;
}

Result<DistillOutcome> distill(Client& client, const DistillOptions& options,
                               const DistillCallbacks& callbacks) {
  if (options.teacher.empty()) return invalid("teacher", "a teacher is required");
  if (options.corpus.empty()) return invalid("corpus", "a corpus is required");
  std::error_code ec;
  if (!fs::is_regular_file(options.corpus, ec)) {
    return Status(Code::kNotFound, "no such corpus file: " + options.corpus, "corpus");
  }
  StudySpec spec = options.spec;
  spec.kind = StudyKind::kDistill;
  if (spec.objectives.empty()) {
    spec.objectives = distill_default_objectives();
  }
  Scratch scratch(options.scratch_dir);
  auto teacher = pack_teacher(options.teacher, scratch);
  if (!teacher) return teacher.status();
  if (Status s = fill_student_sizes(teacher->config_json, spec); !s) return s;
  switch (options.baseline_choice) {
    case BaselineChoice::kDefault: {
      auto shape = parse_teacher_shape(teacher->config_json);
      if (!shape) {
        return Status(shape.status().code(), options.teacher + ": " + shape.status().message(),
                      "teacher");
      }
      auto baseline = default_baseline(*shape, spec.factors);
      if (!baseline) return baseline.status();
      spec.baseline = std::move(*baseline);
      break;
    }
    case BaselineChoice::kNone:
      spec.baseline.clear();
      break;
    case BaselineChoice::kGiven:
      spec.baseline = options.baseline;
      break;
  }
  if (options.beyond_baseline) {
    if (spec.baseline.empty()) {
      return invalid("baseline", "the region beyond the baseline needs a baseline (not none)");
    }
    for (Objective& o : spec.objectives) {
      o.reference.reset();
      o.reference_baseline = true;
    }
  }
  auto teacher_digest = client.upload(teacher->bundle.string());
  if (!teacher_digest) return teacher_digest.status();
  say(callbacks, "teacher " + options.teacher + "  " + *teacher_digest);
  auto corpus_digest = client.upload(options.corpus);
  if (!corpus_digest) return corpus_digest.status();
  say(callbacks, "corpus " + options.corpus + "  " + *corpus_digest);
  spec.teacher_digest = *teacher_digest;
  spec.corpus_digest = *corpus_digest;
  if (Status s = add_glue_tasks(client, options.glue_tasks, teacher->config_json, scratch,
                                callbacks, spec);
      !s) {
    return s;
  }
  const std::string key = options.idempotency_key.empty()
                              ? distill_key(*teacher_digest, *corpus_digest, spec)
                              : options.idempotency_key;
  auto submitted = client.submit(spec, key);
  if (!submitted) return submitted.status();
  if (callbacks.on_submitted) callbacks.on_submitted(*submitted);
  DistillOutcome outcome;
  outcome.submitted = *submitted;
  if (!options.wait) return outcome;
  const uint64_t id = submitted->study.study_id;
  bool stopped = false;
  Status watched = client.watch(id, 0, [&](const Event& event) {
    if (callbacks.on_event && !callbacks.on_event(event)) {
      stopped = true;
      return false;
    }
    return true;
  });
  if (!watched) return watched;
  if (stopped) return outcome;
  auto delivered = deliver_students(client, id, options.out_dir);
  if (!delivered) return delivered.status();
  delivered->submitted = *submitted;
  return delivered;
}

std::vector<Objective> distill_default_objectives() {
  return {{"accuracy", Direction::kMaximize}, {"latency_ms", Direction::kMinimize}};
}

Result<std::vector<Objective>> parse_objectives_text(const std::string& text,
                                                     const std::string& field) {
  std::vector<Objective> out;
  for (const std::string& item : split(text, ',')) {
    const auto colon = item.rfind(':');
    if (item.empty() || colon == std::string::npos || colon == 0) {
      return invalid(field, "want NAME:max or NAME:min, comma-separated, got \"" + item + "\"");
    }
    const std::string name = item.substr(0, colon), dir = item.substr(colon + 1);
    if (dir == "max" || dir == "maximize") {
      out.push_back({name, Direction::kMaximize});
    } else if (dir == "min" || dir == "minimize") {
      out.push_back({name, Direction::kMinimize});
    } else {
      return invalid(field, "unknown direction \"" + dir + "\" for " + name + " (want max or min)");
    }
  }
  if (out.empty()) return invalid(field, "no objectives given");
  return out;
}

Result<Selection> parse_selection_text(const std::string& text, const std::string& field) {
  const std::vector<std::string> parts = split(text, ':');
  auto count = [&](const std::string& s, uint32_t min) -> Result<uint32_t> {
    uint32_t k = 0;
    auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), k);
    if (s.empty() || error != std::errc() || end != s.data() + s.size() || k < min) {
      return invalid(field, "want a whole number >= " + std::to_string(min) + ", got \"" + s +
                                "\" in \"" + text + "\"");
    }
    return k;
  };
  if (!parts.empty() && parts[0] == "pareto" && parts.size() <= 2) {
    Selection out{SelectionRule::kPareto, 0, ""};
    if (parts.size() == 2) {
      auto k = count(parts[1], 1);
      if (!k) return k.status();
      out.k = *k;
    }
    return out;
  }
  if (parts.size() == 3 && parts[0] == "top") {
    auto k = count(parts[1], 1);
    if (!k) return k.status();
    if (parts[2].empty()) return invalid(field, "top:K:METRIC needs a metric");
    return Selection{SelectionRule::kTopK, *k, parts[2]};
  }
  return invalid(field, "want pareto, pareto:K or top:K:METRIC, got \"" + text + "\"");
}

Result<std::vector<ParamValue>> parse_baseline_json(const std::string& text,
                                                    const std::string& field) {
  auto spec = parse_study_spec("{\"baseline\": " + text + "\n}");
  if (!spec) return Status(Code::kInvalidArgument, spec.status().message(), field);
  if (spec->baseline.empty()) return invalid(field, "the baseline names no factor");
  return spec->baseline;
}

}  // namespace autodistill
