#pragma once
// Is a worker's Result good enough to complete its trial? A pure decision
// over what the trial expects and what the Result carries (no I/O: the
// caller looks up the announced blobs' stored sizes and paths first).
//
// A Result is refused (kTrialError: the trial fails, the worker is still
// acknowledged) when, checked in this order:
// - an objective the trial must report is missing or not finite (field
//   "objectives");
// - a reported value is one the engine cannot model: not finite, or <= 0
//   under a log transform (check_measurements(), field "objectives.<name>");
// - an artifact names a blob that was not uploaded, or announces a size
//   other than its blob's (field "artifacts.<name>").
// The first refusal wins. A Regular trial's accepted result still has its
// student checked (check_student_artifacts(): file reads, the caller's).
// Who may report at all (the lease holder) is decided before this.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autodistill/daemon/artifact_check.hpp"
#include "autodistill/daemon/store.hpp"
#include "autodistill/status.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon::study {

// What the check reads of the trial.
struct ResultTrialView {
  wire::TrialKind kind = wire::TrialKind::Probe;
  std::vector<std::string> objectives;  // it must report each, finite
  // Its study's spec (the objectives' transforms); null when the study is
  // gone (no measurement check then).
  const wire::StudySpecT* spec = nullptr;
};

// One artifact as the Result announces it, with what the blob store holds.
struct AnnouncedArtifact {
  std::string name;
  std::string digest;
  uint64_t announced_size = 0;
  std::optional<uint64_t> stored_size;  // none: the blob was not uploaded
  std::string path;                     // where the blob is (or would be) held
};

// The Result's fields, decoded.
struct ResultFields {
  Values objectives;
  Values metrics;
  std::vector<AnnouncedArtifact> artifacts;
};

// An accepted Result: the values stored with the trial (non-finite extras
// dropped) and, for a Regular trial, the files check_student_artifacts()
// must pass (empty for other kinds).
struct CheckedResult {
  Values objectives;
  Values metrics;
  std::vector<DeliveredFile> student_files;
};

// The values to store, or the refusal (kTrialError naming the field).
Result<CheckedResult> check_result(const ResultTrialView& trial, const ResultFields& result);

}  // namespace autodistill::daemon::study
