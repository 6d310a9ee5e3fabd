// The GLUE step of a Distill study (study/finetune_plan.hpp): Finetune trials
// for each delivered student and for the teacher, and the settings each is
// assigned with.

#include "autodistill/daemon/controller.hpp"

#include "autodistill/daemon/log.hpp"
#include "controller_state.hpp"
#include "study/finetune_plan.hpp"

namespace autodistill::daemon {

void Controller::queue_finetunes(Study& s) {
  for (const study::PlannedFinetune& p : study::owed_finetunes(s.glue, s.book)) {
    const std::string whose = p.candidate == kTeacherCandidate
                                  ? std::string("teacher")
                                  : "candidate " + std::to_string(p.candidate);
    if (!queue_trial(s, p.candidate, TrialKind::Finetune, study::finetune_params(p.task),
                     " " + p.task + " " + whose)) {
      return;  // the batch fails at commit
    }
  }
}

Result<std::string> Controller::finetune_settings(const Study& s, const Trial& t) {
  auto trials = store_.trials_of_study(s.row.id);
  if (!trials) return trials.status();
  return study::finetune_settings_json(s.glue, t.row.candidate,
                                       study::finetune_task_of(t.row.params), trials.value());
}

}  // namespace autodistill::daemon
