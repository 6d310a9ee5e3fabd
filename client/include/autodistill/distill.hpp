#pragma once
// distill(): the whole release-pipeline step in one call (docs/cli.md,
// `autodistill distill`). It
//   1. packs the teacher checkpoint directory into a bundle — only its
//      config.json, model.safetensors, vocab.txt and tokenizer_config.json
//      (wire::pack_directory: same files, same bytes, same digest),
//   2. uploads teacher and corpus as blobs (nothing is sent for a blob the
//      daemon already holds; an interrupted upload resumes),
//   3. fills in the study: kind Distill, the digests, the baseline (by
//      default the MobileBERT-like one of autodistill/baseline.hpp), and
//      settings.student's vocab_size, max_positions and type_vocab_size
//      from the teacher's config.json where the settings leave them out
//      (so the probe worker, which never sees the teacher, measures the
//      model the distillation worker builds),
//   4. submits it under an idempotency key derived from (teacher digest,
//      corpus digest, normalized spec) unless one is given, so running the
//      same step again — after a crash, a timeout, a daemon restart —
//      resumes the same study instead of starting another,
//   5. with `wait`, follows the study to its end, downloads the chosen
//      students (the artifacts of its completed Regular trials) into
//      out_dir/<study>/student-<candidate>/ and writes report.md and
//      pareto.svg (autodistill/report.hpp) next to them.
//
//   autodistill::Client client({.endpoint = "tcp://distill-host:5556"});
//   autodistill::DistillOptions options;
//   options.teacher = "out/teacher";            // config.json, model.safetensors, vocab.txt
//   options.corpus = "data/corpus.txt";
//   options.spec = *autodistill::parse_study_spec(space_json);
//   auto outcome = autodistill::distill(client, options, {});
//   if (!outcome) return report(outcome.status());
//   for (const auto& s : outcome->students) deploy(s.dir);
//
// Thread-safety: distill() uses the Client, so one call per Client at a
// time; the free functions are pure and thread-safe.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "autodistill/client.hpp"
#include "autodistill/report.hpp"
#include "autodistill/status.hpp"
#include "autodistill/study.hpp"

namespace autodistill {

enum class BaselineChoice : uint8_t {
  kDefault = 0,  // the MobileBERT-like baseline scaled to the teacher (baseline.hpp)
  kNone = 1,     // no baseline
  kGiven = 2,    // DistillOptions::baseline
};

struct DistillOptions {
  // The teacher: a Hugging Face BERT checkpoint directory (packed here), or
  // a bundle file already packed. Required.
  std::string teacher;
  // The corpus text file (docs/distillation.md, "Corpus"). Required.
  std::string corpus;
  // The study: its factors are the design space; objectives, constraints,
  // budget, settings, selection, ... are used as given. distill() sets kind
  // (Distill), teacher_digest, corpus_digest and, unless kGiven/kNone chose
  // otherwise, baseline. Empty objectives become accuracy (maximize) and
  // latency_ms (minimize).
  StudySpec spec;
  // Which baseline the study evaluates first.
  BaselineChoice baseline_choice = BaselineChoice::kDefault;
  // The baseline when baseline_choice is kGiven.
  std::vector<ParamValue> baseline;
  // The region of interest is what dominates the baseline: every objective's
  // reference becomes the baseline's measured value (Objective::
  // reference_baseline), so the search spends its budget on candidates that
  // beat the baseline on all objectives rather than on the whole front.
  // Needs a baseline (not kNone).
  bool beyond_baseline = false;
  // The idempotency key; empty = distill_key() of the uploaded digests and
  // the completed spec.
  std::string idempotency_key;
  // Follow the study to its end and deliver its students.
  bool wait = true;
  // Where students and the report go (out_dir/<study id>/), with `wait`.
  std::filesystem::path out_dir = "autodistill-out";
  // GLUE-format task directories (train.tsv, dev.tsv, task.json, as
  // autodistill-make-tasks writes them): each is packed, uploaded and named
  // in settings.glue.tasks by its directory's name, so every delivered
  // student, the teacher and the baseline are fine-tuned on it (Finetune
  // trials; docs/glue.md). Other settings.glue options come from the spec.
  std::vector<std::string> glue_tasks;
  // Where the teacher bundle is packed while it uploads; empty = a fresh
  // directory under the system's temporary directory, removed afterwards.
  std::filesystem::path scratch_dir;
};

// Called as distill() goes; every member may be empty.
struct DistillCallbacks {
  // One line for people: "packed teacher ...", "uploaded corpus ...".
  std::function<void(const std::string& line)> on_message;
  // The submit's answer (created, or the existing study for the key).
  std::function<void(const SubmitResult& submitted)> on_submitted;
  // Each study event while waiting; return false to stop waiting (distill()
  // then returns the study as it is, without delivering students).
  Client::EventCallback on_event;
};

struct DeliveredStudent {
  uint32_t candidate = 0;
  std::filesystem::path dir;  // out_dir/<study>/student-<candidate>
  std::optional<double> accuracy;
  std::optional<double> latency_ms;
};

struct DistillOutcome {
  SubmitResult submitted;
  // With `wait`: the study when it ended, its report and what was delivered.
  std::optional<StudyReport> report;
  std::filesystem::path study_dir;  // out_dir/<study>; empty without `wait`
  std::vector<DeliveredStudent> students;
};

// "distill-" + the first 32 hex digits of sha256(teacher digest, corpus
// digest, the spec's one-line study-spec JSON with both digests cleared).
// The JSON form is normalized (fixed key order, settings keys sorted, new
// fields only when set), so equal requests give equal keys.
std::string distill_key(const std::string& teacher_digest, const std::string& corpus_digest,
                        const StudySpec& spec);

// Runs the step above. Errors: kNotFound (teacher or corpus missing, field
// "teacher" / "corpus"), kInvalidArgument (a teacher directory without a
// usable config.json, a baseline that does not fit the space), the
// daemon's errors for the upload and submit, kUnavailable when it cannot
// be reached. A study that ends failed or cancelled is not an error: the
// outcome's report says how it ended (and no students are delivered).
Result<DistillOutcome> distill(Client& client, const DistillOptions& options,
                               const DistillCallbacks& callbacks);

// Step 5 alone, for a study that already ended: downloads the artifacts of
// its completed Regular trials into out_dir/<study>/student-<candidate>/
// (a file already there with the right digest is kept) and writes the
// report. Used by distill().
Result<DistillOutcome> deliver_students(Client& client, uint64_t study_id,
                                        const std::filesystem::path& out_dir);

// The same into `study_dir` itself (study_dir/student-<candidate>/,
// study_dir/report.md); with `fetch_students` false only the report is
// written. Used by `autodistill report ID --out DIR`.
Result<DistillOutcome> deliver_study(Client& client, uint64_t study_id,
                                     const std::filesystem::path& study_dir,
                                     bool fetch_students = true);

// Writes report.md and pareto.svg into `dir` (created if missing).
Status write_report(const StudyReport& report, const std::filesystem::path& dir);

// A Distill study's objectives when its spec gives none (distill() fills
// them in; build_report() assumes them): accuracy (maximize) and latency_ms
// (minimize).
std::vector<Objective> distill_default_objectives();

// The text forms of the CLI flags (docs/cli.md), kInvalidArgument naming
// `field` otherwise:
//   objectives: "accuracy:max,latency_ms:min" (max|maximize, min|minimize)
//   selection:  "pareto", "pareto:K", "top:K:METRIC"
//   baseline:   the study-spec JSON form, {"num_blocks": 4, ...}
Result<std::vector<Objective>> parse_objectives_text(const std::string& text,
                                                     const std::string& field);
Result<Selection> parse_selection_text(const std::string& text, const std::string& field);
Result<std::vector<ParamValue>> parse_baseline_json(const std::string& text,
                                                    const std::string& field);

}  // namespace autodistill
