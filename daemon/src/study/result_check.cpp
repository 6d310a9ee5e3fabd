#include "study/result_check.hpp"

#include <cmath>

#include "autodistill/daemon/proposer.hpp"
#include "autodistill/daemon/row_codec.hpp"

namespace autodistill::daemon::study {

namespace {

Status refused(const std::string& message, const std::string& field) {
  return Status(Code::kTrialError, message, field);
}

Status check_objectives(const ResultTrialView& trial, const Values& objectives) {
  for (const std::string& name : trial.objectives) {
    auto o = objectives.find(name);
    if (o == objectives.end()) {
      return refused("result lacks objective \"" + name + "\"", "objectives");
    }
    if (!std::isfinite(o->second)) {
      return refused("objective \"" + name + "\" is not finite", "objectives");
    }
  }
  // Values the engine cannot model (<= 0 under a log transform) fail the
  // trial rather than complete it without an observation.
  if (trial.spec != nullptr) {
    if (Status bad = check_measurements(*trial.spec, objectives); !bad) {
      return refused(bad.message(), bad.field());
    }
  }
  return Status::ok();
}

Status check_artifact(const AnnouncedArtifact& a) {
  if (!a.stored_size) {
    return refused("artifact \"" + a.name + "\" names blob " + a.digest + " that was not uploaded",
                   "artifacts." + a.name);
  }
  if (*a.stored_size != a.announced_size) {
    return refused("artifact \"" + a.name + "\" is announced as " +
                       std::to_string(a.announced_size) + " bytes; its blob has " +
                       std::to_string(*a.stored_size),
                   "artifacts." + a.name);
  }
  return Status::ok();
}

}  // namespace

Result<CheckedResult> check_result(const ResultTrialView& trial, const ResultFields& result) {
  if (Status bad = check_objectives(trial, result.objectives); !bad) return bad;
  CheckedResult checked;
  for (const AnnouncedArtifact& a : result.artifacts) {
    if (Status bad = check_artifact(a); !bad) return bad;
    if (trial.kind == wire::TrialKind::Regular) {
      checked.student_files.push_back(DeliveredFile{a.name, a.digest, a.announced_size, a.path});
    }
  }
  checked.objectives = finite_values(result.objectives);
  checked.metrics = finite_values(result.metrics);
  return checked;
}

}  // namespace autodistill::daemon::study
