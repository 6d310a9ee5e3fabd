// The GLUE step of a Distill study (study/finetune_plan.hpp): the settings
// each Finetune trial is assigned with. Which Finetune trials a study owes
// is study::queue_finetunes() (study/lifecycle.hpp), applied by maybe_advance.

#include "autodistill/daemon/controller.hpp"

#include "controller_state.hpp"
#include "study/finetune_plan.hpp"

namespace autodistill::daemon {

Result<std::string> Controller::finetune_settings(const Study& s, const Trial& t) {
  auto trials = store_.trials_of_study(s.row.id);
  if (!trials) return trials.status();
  return study::finetune_settings_json(s.glue, t.row.candidate,
                                       study::finetune_task_of(t.row.params), trials.value());
}

}  // namespace autodistill::daemon
