// A study's lifecycle decisions as effects (daemon/src/study/lifecycle.hpp):
// the study state machine, the end of exploration, selection for regular
// distillation, the GLUE step and the end of finalizing, without a Store.
#include "study/lifecycle.hpp"

#include <catch2/catch.hpp>

#include "spec_builder.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using namespace autodistill::testing;
using autodistill::daemon::study::CandidateBook;
using autodistill::wire::StudyState;
using autodistill::wire::TrialKind;
using autodistill::wire::TrialState;

namespace {

TrialRow row(uint32_t candidate, TrialKind kind, TrialState state, Values objectives = {},
             double width = 0) {
  TrialRow t;
  t.candidate = candidate;
  t.kind = kind;
  t.state = state;
  t.objectives = std::move(objectives);
  wire::ParamValueT p;
  p.name = "hidden_size";
  p.number = width;
  t.params.push_back(p);
  return t;
}

// Probe + flash rows of a completed candidate, its params hidden_size = width.
void explored(std::vector<TrialRow>& rows, CandidateBook& book, uint32_t c, double latency,
              double accuracy, double width) {
  rows.push_back(row(c, TrialKind::Probe, TrialState::Completed, {{"latency_ms", latency}}, width));
  rows.push_back(row(c, TrialKind::Flash, TrialState::Completed, {{"accuracy", accuracy}}, width));
  book.fold(rows[rows.size() - 2]);
  book.fold(rows.back());
}

const study::SetStudyState& state_at(const study::Effects& e, size_t i) {
  REQUIRE(i < e.size());
  REQUIRE(std::holds_alternative<study::SetStudyState>(e[i]));
  return std::get<study::SetStudyState>(e[i]);
}

const study::QueueTrial& queue_at(const study::Effects& e, size_t i) {
  REQUIRE(i < e.size());
  REQUIRE(std::holds_alternative<study::QueueTrial>(e[i]));
  return std::get<study::QueueTrial>(e[i]);
}

const study::EmitEvent& event_at(const study::Effects& e, size_t i) {
  REQUIRE(i < e.size());
  REQUIRE(std::holds_alternative<study::EmitEvent>(e[i]));
  return std::get<study::EmitEvent>(e[i]);
}

}  // namespace

TEST_CASE("study state machine: only the documented transitions", "[study][lifecycle]") {
  using S = StudyState;
  const S all[] = {S::Queued,    S::Exploring, S::Selecting, S::Finalizing,
                   S::Succeeded, S::Failed,    S::Cancelled};
  const std::set<std::pair<S, S>> allowed = {
      {S::Queued, S::Exploring},     {S::Queued, S::Failed},        {S::Queued, S::Cancelled},
      {S::Exploring, S::Selecting},  {S::Exploring, S::Succeeded},  {S::Exploring, S::Failed},
      {S::Exploring, S::Cancelled},  {S::Selecting, S::Finalizing}, {S::Selecting, S::Failed},
      {S::Selecting, S::Cancelled},  {S::Finalizing, S::Succeeded}, {S::Finalizing, S::Failed},
      {S::Finalizing, S::Cancelled},
  };
  for (S from : all) {
    for (S to : all) {
      INFO(wire::EnumNameStudyState(from) << " -> " << wire::EnumNameStudyState(to));
      CHECK(study::transition_allowed(from, to) == (allowed.count({from, to}) > 0));
    }
  }
  // Nothing leaves a terminal state, not even a cancellation.
  CHECK_FALSE(study::transition_allowed(S::Succeeded, S::Cancelled));
  CHECK_FALSE(study::transition_allowed(S::Cancelled, S::Exploring));
}

TEST_CASE("exploration is over when the budget is spent and nothing is open",
          "[study][lifecycle]") {
  const wire::StudySpecT spec = external_spec(3);
  CandidateBook book;
  const study::StudyView v{spec, book, GlueSettings{}, false};
  CHECK_FALSE(study::exploration_over(v, {2, false, false, false}));  // budget left
  CHECK(study::exploration_over(v, {3, false, false, false}));
  CHECK(study::exploration_over(v, {0, true, false, false}));        // design space exhausted
  CHECK(study::exploration_over(v, {0, false, true, false}));        // wall clock spent
  CHECK_FALSE(study::exploration_over(v, {3, false, false, true}));  // a suggestion in flight
  book.queued(book.propose(), TrialKind::External);
  CHECK_FALSE(study::exploration_over(v, {3, false, false, false}));  // a candidate is open
}

TEST_CASE("an External study ends Succeeded or Failed at the end of exploration",
          "[study][lifecycle]") {
  const wire::StudySpecT spec = external_spec(3);
  CandidateBook book;
  std::vector<TrialRow> rows;
  for (uint32_t c = 0; c < 3; ++c) {
    book.propose();
    rows.push_back(row(c, TrialKind::External, c == 1 ? TrialState::Failed : TrialState::Completed,
                       {{"f1", 1}, {"f2", 2}}));
    rows.back().error_message = "boom";
    book.fold(rows.back());
  }
  const study::StudyView v{spec, book, GlueSettings{}, false};
  auto done = study::end_exploration(v, &rows);
  REQUIRE(done.size() == 1);
  CHECK(state_at(done, 0).state == StudyState::Succeeded);
  CHECK(state_at(done, 0).message == "2 of 3 candidates evaluated");

  for (TrialRow& r : rows) r.state = TrialState::Failed;
  auto failed = study::end_exploration(v, &rows);
  REQUIRE(failed.size() == 1);
  CHECK(state_at(failed, 0).state == StudyState::Failed);
  CHECK(state_at(failed, 0).message.find("all 3 trials failed") != std::string::npos);
  CHECK(state_at(failed, 0).message.find("boom") != std::string::npos);

  // Unreadable rows: nothing is known to have completed.
  auto unread = study::end_exploration(v, nullptr);
  REQUIRE(unread.size() == 1);
  CHECK(state_at(unread, 0).state == StudyState::Failed);
  CHECK(state_at(unread, 0).message == "every candidate failed");
}

TEST_CASE("selection queues a Regular trial per Pareto candidate, then Finalizing",
          "[study][lifecycle]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  CandidateBook book;
  std::vector<TrialRow> rows;
  for (int i = 0; i < 4; ++i) book.propose();
  explored(rows, book, 0, 1.0, 0.50, 100);
  explored(rows, book, 1, 2.0, 0.70, 101);
  explored(rows, book, 2, 3.0, 0.60, 102);  // dominated by 1
  explored(rows, book, 3, 4.0, 0.90, 103);
  const study::StudyView v{spec, book, GlueSettings{}, false};

  // The end of exploration of a Distill study with flash trials selects.
  auto e = study::end_exploration(v, &rows);
  REQUIRE(e.size() == 6);
  CHECK(state_at(e, 0).state == StudyState::Selecting);
  CHECK(state_at(e, 0).message.empty());
  const uint32_t want[] = {0, 1, 3};
  for (size_t i = 0; i < 3; ++i) {
    const study::QueueTrial& q = queue_at(e, 1 + i);
    CHECK(q.candidate == want[i]);
    CHECK(q.kind == TrialKind::Regular);
    REQUIRE(q.params.size() == 1);
    CHECK(q.params[0].number == 100 + want[i]);  // the candidate's architecture
    CHECK(q.note.empty());
    CHECK(q.not_before_ms == 0);
  }
  CHECK(event_at(e, 4).kind == "selected");
  CHECK(event_at(e, 4).message == "candidates 0, 1, 3");
  CHECK(state_at(e, 5).state == StudyState::Finalizing);
  CHECK(state_at(e, 5).message == "3 Pareto candidates chosen");

  // Top-k by accuracy.
  wire::StudySpecT topk = distill_spec("t", "c");
  topk.selection = selection(wire::SelectionRule::TopK, 1, "accuracy");
  auto k = study::select_for_regular({topk, book, GlueSettings{}, false}, &rows);
  REQUIRE(k.size() == 4);
  CHECK(queue_at(k, 1).candidate == 3);
  CHECK(event_at(k, 2).message == "candidates 3");
  CHECK(state_at(k, 3).message == "1 top-k candidates chosen");
}

TEST_CASE("selection: the baseline joins for the GLUE table, nothing selectable fails",
          "[study][lifecycle]") {
  wire::StudySpecT spec = distill_spec("t", "c");
  set_baseline(spec);
  CandidateBook book;
  std::vector<TrialRow> rows;
  for (int i = 0; i < 2; ++i) book.propose();
  explored(rows, book, 0, 5.0, 0.50, 100);  // the baseline, dominated by 1
  explored(rows, book, 1, 1.0, 0.90, 101);
  GlueSettings glue;
  glue.tasks = {{"pos", std::string(64, 'b')}};

  auto without = study::select_for_regular({spec, book, GlueSettings{}, true}, &rows);
  REQUIRE(without.size() == 4);
  CHECK(queue_at(without, 1).candidate == 1);

  auto with = study::select_for_regular({spec, book, glue, true}, &rows);
  REQUIRE(with.size() == 5);
  CHECK(queue_at(with, 1).candidate == 0);
  CHECK(queue_at(with, 2).candidate == 1);
  CHECK(event_at(with, 3).message == "candidates 0, 1; baseline 0 for the GLUE table");
  CHECK(state_at(with, 4).message == "2 Pareto candidates chosen");

  // Every complete candidate violates a constraint.
  spec.constraints.push_back(constraint("accuracy", false, 0.95));
  auto none = study::select_for_regular({spec, book, glue, true}, &rows);
  REQUIRE(none.size() == 2);
  CHECK(state_at(none, 0).state == StudyState::Selecting);
  CHECK(state_at(none, 1).state == StudyState::Failed);
  CHECK(state_at(none, 1).message == "no candidate completed within the constraints");

  // Unreadable rows: only Selecting (recovery selects again).
  auto unread = study::select_for_regular({spec, book, glue, true}, nullptr);
  REQUIRE(unread.size() == 1);
  CHECK(state_at(unread, 0).state == StudyState::Selecting);
}

TEST_CASE("the GLUE step as effects: Finetune trials for a delivered student and the teacher",
          "[study][lifecycle]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  GlueSettings glue;
  glue.tasks = {{"pos", std::string(64, 'b')}};
  CandidateBook book;
  book.propose();
  book.propose();
  CHECK(study::queue_finetunes({spec, book, glue, false}).empty());  // nothing delivered
  book.queued(1, TrialKind::Regular);
  book.ended(1, TrialKind::Regular, TrialState::Completed);
  CHECK(study::queue_finetunes({spec, book, GlueSettings{}, false}).empty());  // no tasks
  auto e = study::queue_finetunes({spec, book, glue, false});
  REQUIRE(e.size() == 2);
  CHECK(queue_at(e, 0).candidate == 1);
  CHECK(queue_at(e, 0).kind == TrialKind::Finetune);
  CHECK(queue_at(e, 0).note == " pos candidate 1");
  REQUIRE(queue_at(e, 0).params.size() == 1);
  CHECK(queue_at(e, 0).params[0].category == "pos");
  CHECK(queue_at(e, 1).candidate == kTeacherCandidate);
  CHECK(queue_at(e, 1).note == " pos teacher");
}

TEST_CASE("finalizing ends on how the Regular trials went", "[study][lifecycle]") {
  std::vector<TrialRow> rows;
  rows.push_back(row(0, TrialKind::Flash, TrialState::Completed));
  rows.push_back(row(0, TrialKind::Regular, TrialState::Completed));
  rows.push_back(row(1, TrialKind::Regular, TrialState::Completed));
  auto all = study::end_finalizing(rows);
  REQUIRE(all.size() == 1);
  CHECK(state_at(all, 0).state == StudyState::Succeeded);
  CHECK(state_at(all, 0).message == "regular distillation of the selected candidates done");

  rows[2].state = TrialState::Failed;
  rows[2].error_message = "out of memory";
  auto some = study::end_finalizing(rows);
  CHECK(state_at(some, 0).state == StudyState::Succeeded);
  CHECK(state_at(some, 0).message.rfind("1 of 2 regular distillations done; ", 0) == 0);
  CHECK(state_at(some, 0).message.find("out of memory") != std::string::npos);

  rows[1].state = TrialState::Cancelled;
  auto none = study::end_finalizing(rows);
  CHECK(state_at(none, 0).state == StudyState::Failed);
  CHECK(state_at(none, 0).message.find("regular trials") != std::string::npos);
}

TEST_CASE("after a probe: the flash is queued, or skipped when hopeless", "[study][lifecycle]") {
  wire::StudySpecT spec = distill_spec("t", "c");
  set_baseline(spec);
  CandidateBook book;
  for (int i = 0; i < 4; ++i) book.propose();
  int scored = 0;
  double score = 0.5;
  auto score_fn = [&] {
    ++scored;
    return score;
  };
  const Params params = row(2, TrialKind::Probe, TrialState::Completed, {}, 128).params;
  const Values slow{{"latency_ms", 3.0}};

  // Without skip_dominated_flash: always the flash, the baseline's noted.
  auto e = study::after_probe({spec, book, GlueSettings{}, true}, 2, params, slow, score_fn);
  REQUIRE(e.size() == 1);
  CHECK(queue_at(e, 0).kind == TrialKind::Flash);
  CHECK(queue_at(e, 0).candidate == 2);
  CHECK(queue_at(e, 0).note.empty());
  REQUIRE(queue_at(e, 0).params.size() == 1);
  CHECK(queue_at(e, 0).params[0].number == 128);
  e = study::after_probe({spec, book, GlueSettings{}, true}, 0, params, slow, score_fn);
  CHECK(queue_at(e, 0).note == " baseline");
  CHECK(scored == 0);

  spec.skip_dominated_flash = true;
  spec.constraints.push_back(constraint("latency_ms", true, 2.0));
  const study::StudyView v{spec, book, GlueSettings{}, true};
  // A probe metric outside a constraint: skipped, the engine not asked.
  e = study::after_probe(v, 2, params, slow, score_fn);
  REQUIRE(e.size() == 1);
  REQUIRE(std::holds_alternative<study::SkipFlash>(e[0]));
  CHECK(std::get<study::SkipFlash>(e[0]).candidate == 2);
  CHECK(std::get<study::SkipFlash>(e[0]).why.find("violates") != std::string::npos);
  CHECK(scored == 0);
  // The baseline is never skipped.
  e = study::after_probe(v, 0, params, slow, score_fn);
  CHECK(queue_at(e, 0).note == " baseline");

  // Within the constraints: the engine is asked only once kSkipFlashAfter
  // candidates are complete.
  const Values fast{{"latency_ms", 1.0}};
  score = 0.001;
  e = study::after_probe(v, 2, params, fast, score_fn);
  CHECK(queue_at(e, 0).kind == TrialKind::Flash);
  CHECK(scored == 0);
  std::vector<TrialRow> rows;
  explored(rows, book, 0, 1.0, 0.5, 100);
  explored(rows, book, 1, 1.5, 0.6, 101);
  REQUIRE(book.complete() == study::kSkipFlashAfter);
  e = study::after_probe(v, 2, params, fast, score_fn);
  CHECK(scored == 1);
  REQUIRE(std::holds_alternative<study::SkipFlash>(e[0]));
  CHECK(std::get<study::SkipFlash>(e[0]).why ==
        "expected hypervolume improvement 0.001 <= 0.01 given its measured probe metrics");
  score = 0.02;  // above kSkipFlashScore: worth a flash
  e = study::after_probe(v, 2, params, fast, score_fn);
  CHECK(scored == 2);
  CHECK(queue_at(e, 0).kind == TrialKind::Flash);

  // An External study has no flash step.
  const wire::StudySpecT external = external_spec(3);
  CHECK(study::after_probe({external, book, GlueSettings{}, false}, 2, params, fast, score_fn)
            .empty());
}
