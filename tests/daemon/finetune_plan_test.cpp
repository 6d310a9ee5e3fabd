// The GLUE step as data (daemon/src/study/finetune_plan.hpp): which Finetune
// trials a study owes, each one's settings, the study's summary line.
#include "study/finetune_plan.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::daemon::study::CandidateBook;
using autodistill::wire::TrialKind;
using autodistill::wire::TrialState;

namespace {

GlueSettings two_tasks() {
  GlueSettings glue;
  glue.tasks = {{"pos", std::string(64, 'b')}, {"testament", std::string(64, 'a')}};
  glue.options = {{"epochs", 2}, {"threads", 1}};
  return glue;
}

void deliver(CandidateBook& book, uint32_t c) {
  book.queued(c, TrialKind::Regular);
  book.ended(c, TrialKind::Regular, TrialState::Completed);
}

}  // namespace

TEST_CASE("glue plan: each delivered student per task, the teacher once", "[study][glue]") {
  const GlueSettings glue = two_tasks();
  CandidateBook book;
  book.propose();
  book.propose();
  book.propose();
  CHECK(study::owed_finetunes(glue, book).empty());  // nothing delivered yet
  CHECK(study::owed_finetunes(GlueSettings{}, book).empty());
  deliver(book, 2);
  auto owed = study::owed_finetunes(glue, book);
  REQUIRE(owed.size() == 4);
  CHECK(owed[0].candidate == 2);
  CHECK(owed[0].task == "pos");
  CHECK(owed[1].task == "testament");
  CHECK(owed[2].candidate == kTeacherCandidate);
  CHECK(owed[3].candidate == kTeacherCandidate);
  for (const auto& p : owed) book.queued(p.candidate, TrialKind::Finetune);
  CHECK(study::owed_finetunes(glue, book).empty());  // queued once
  deliver(book, 0);
  owed = study::owed_finetunes(glue, book);
  REQUIRE(owed.size() == 2);  // the teacher's are not owed again
  CHECK(owed[0].candidate == 0);
}

TEST_CASE("glue plan: a trial's settings name the delivered files or the teacher",
          "[study][glue]") {
  const GlueSettings glue = two_tasks();
  TrialRow regular;
  regular.candidate = 3;
  regular.kind = TrialKind::Regular;
  regular.state = TrialState::Completed;
  regular.artifacts = {{"config.json", std::string(64, '1'), 10},
                       {"model.safetensors", std::string(64, '2'), 20}};
  const Params params = study::finetune_params("testament");
  CHECK(study::finetune_task_of(params) == "testament");
  CHECK(params_to_json(params) == R"([{"category":"testament","name":"glue_task"}])");
  CHECK(study::finetune_task_of({}).empty());

  auto student = study::finetune_settings_json(glue, 3, "testament", {regular});
  REQUIRE(student);
  auto s = nlohmann::json::parse(student.value());
  CHECK(s["finetune"]["task"] == std::string(64, 'a'));
  CHECK(s["finetune"]["epochs"] == 2);
  CHECK(s["finetune"]["threads"] == 1);
  CHECK(s["finetune"]["model"]["config.json"] == std::string(64, '1'));
  CHECK(s["finetune"]["model"]["model.safetensors"] == std::string(64, '2'));

  auto teacher = study::finetune_settings_json(glue, kTeacherCandidate, "pos", {regular});
  REQUIRE(teacher);
  CHECK(nlohmann::json::parse(teacher.value())["finetune"]["model"] == "teacher");

  auto undelivered = study::finetune_settings_json(glue, 4, "pos", {regular});
  CHECK(undelivered.status().code() == Code::kFailedPrecondition);
  CHECK(undelivered.status().field() == "settings.finetune.model");
  CHECK(study::finetune_settings_json(glue, 3, "nope", {regular}).status().field() ==
        "settings.glue.tasks");
}

TEST_CASE("glue plan: the summary counts Finetune trials only", "[study][glue]") {
  std::vector<TrialRow> rows(3);
  rows[0].kind = TrialKind::Regular;
  rows[0].state = TrialState::Failed;
  rows[1].kind = TrialKind::Finetune;
  rows[1].state = TrialState::Completed;
  rows[2].kind = TrialKind::Finetune;
  rows[2].state = TrialState::Failed;
  rows[2].error_message = "settings.finetune.max_seq_len too long";
  const std::string summary = study::finetune_summary(rows);
  CHECK(summary.find("fine-tuning: 1 of 2 trials completed") == 0);
  CHECK(summary.find("1 of 2 Finetune trials failed; last error: settings.finetune.max_seq_len") !=
        std::string::npos);
  rows.erase(rows.begin() + 1, rows.end());
  CHECK(study::finetune_summary(rows).empty());
}
