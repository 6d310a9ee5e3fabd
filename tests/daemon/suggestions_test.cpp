// Suggestions as effects (daemon/src/study/suggestions.hpp): when a study
// asks its proposer for candidates and how many, what becomes of the
// proposals, and a new candidate's first trial, without a proposer or a
// Store.
#include <catch2/catch.hpp>

#include "spec_builder.hpp"
#include "study/suggestions.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using namespace autodistill::testing;
using autodistill::daemon::study::CandidateBook;
using autodistill::wire::StudyState;
using autodistill::wire::TrialKind;

namespace {

template <class T>
const T& at(const study::Effects& e, size_t i) {
  REQUIRE(i < e.size());
  REQUIRE(std::holds_alternative<T>(e[i]));
  return std::get<T>(e[i]);
}

Params width(double w) {
  wire::ParamValueT p;
  p.name = "hidden_size";
  p.number = w;
  return {p};
}

double width_of(const Params& params) {
  REQUIRE(params.size() == 1);
  return params[0].number;
}

// A study with `open` candidates open.
struct Fixture {
  wire::StudySpecT spec = external_spec(10, 4);
  CandidateBook book;
  GlueSettings glue;
  void open(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) book.queued(book.propose(), TrialKind::External);
  }
  study::StudyView view(StudyState state = StudyState::Exploring, bool shutting_down = false) {
    return study::StudyView{spec, book, glue, false, state, shutting_down};
  }
};

constexpr int64_t kCreated = 1'000'000;

}  // namespace

TEST_CASE("refill: asks for the open slots, at most the engine's budget left",
          "[study][suggestions]") {
  Fixture f;
  f.open(1);
  auto e = study::refill(f.view(), {1, false, false, false}, 4, kCreated, kCreated + 10);
  REQUIRE(e.size() == 1);
  CHECK(at<study::AskProposer>(e, 0).count == 3);  // 4 slots, 1 open

  // 10 candidates budgeted, 8 explored: 2 left.
  e = study::refill(f.view(), {8, false, false, false}, 4, kCreated, kCreated + 10);
  REQUIRE(e.size() == 1);
  CHECK(at<study::AskProposer>(e, 0).count == 2);
}

TEST_CASE("refill: nothing with no slot, no budget or an exhausted space", "[study][suggestions]") {
  Fixture f;
  f.open(4);
  CHECK(study::refill(f.view(), {4, false, false, false}, 4, kCreated, kCreated).empty());
  Fixture g;
  CHECK(study::refill(g.view(), {10, false, false, false}, 4, kCreated, kCreated).empty());
  CHECK(study::refill(g.view(), {2, true, false, false}, 4, kCreated, kCreated).empty());
}

TEST_CASE("refill: nothing while a suggestion is in flight, not exploring or shutting down",
          "[study][suggestions]") {
  Fixture f;
  CHECK(study::refill(f.view(), {0, false, false, true}, 4, kCreated, kCreated).empty());
  CHECK(
      study::refill(f.view(StudyState::Finalizing), {0, false, false, false}, 4, kCreated, kCreated)
          .empty());
  CHECK(study::refill(f.view(StudyState::Exploring, true), {0, false, false, false}, 4, kCreated,
                      kCreated)
            .empty());
}

TEST_CASE("refill: the wall budget is spent once, then nothing is asked for",
          "[study][suggestions]") {
  Fixture f;
  f.spec.max_wall_seconds = 60;
  // Not yet: 59.999 s after creation.
  auto e = study::refill(f.view(), {3, false, false, false}, 4, kCreated, kCreated + 59'999);
  REQUIRE(e.size() == 1);
  CHECK(std::holds_alternative<study::AskProposer>(e[0]));

  e = study::refill(f.view(), {3, false, false, false}, 4, kCreated, kCreated + 60'000);
  REQUIRE(e.size() == 1);
  CHECK(at<study::SpendWallBudget>(e, 0).message ==
        "max_wall_seconds 60 passed after 3 candidates; no new candidates");

  // Already spent: no second event, still nothing asked for.
  CHECK(study::refill(f.view(), {3, false, true, false}, 4, kCreated, kCreated + 90'000).empty());
}

TEST_CASE("take_suggestions: every proposal pending before any becomes a candidate",
          "[study][suggestions]") {
  Fixture f;
  auto e = study::take_suggestions(f.view(), 2, {width(64), width(128)});
  REQUIRE(e.size() == 6);
  CHECK(width_of(at<study::AddPending>(e, 0).params) == 64);
  CHECK(width_of(at<study::AddPending>(e, 1).params) == 128);
  CHECK(width_of(at<study::AddCandidate>(e, 2).params) == 64);
  CHECK(width_of(at<study::AddCandidate>(e, 3).params) == 128);
  at<study::EndSuggestion>(e, 4);
  at<study::AdvanceStudy>(e, 5);
}

TEST_CASE("take_suggestions: no proposals: the design space is exhausted", "[study][suggestions]") {
  Fixture f;
  auto e = study::take_suggestions(f.view(), 7, {});
  REQUIRE(e.size() == 3);
  CHECK(at<study::MarkExhausted>(e, 0).explored == 7);
  at<study::EndSuggestion>(e, 1);
  at<study::AdvanceStudy>(e, 2);
}

TEST_CASE("take_suggestions: a study no longer exploring only ends the suggestion",
          "[study][suggestions]") {
  Fixture f;
  for (auto e : {study::take_suggestions(f.view(StudyState::Cancelled), 2, {width(64)}),
                 study::take_suggestions(f.view(StudyState::Exploring, true), 2, {width(64)})}) {
    REQUIRE(e.size() == 1);
    at<study::EndSuggestion>(e, 0);
  }
}

TEST_CASE("first_trial: by the study's kind and what it measures", "[study][suggestions]") {
  Fixture external;
  auto e = study::first_trial(external.view(), 3, width(64));
  REQUIRE(e.size() == 1);
  CHECK(at<study::QueueTrial>(e, 0).kind == TrialKind::External);
  CHECK(at<study::QueueTrial>(e, 0).candidate == 3);
  CHECK(at<study::QueueTrial>(e, 0).note.empty());

  Fixture distill;
  distill.spec = distill_spec("t", "c");  // accuracy and latency_ms
  e = study::first_trial(distill.view(), 0, width(64));
  REQUIRE(e.size() == 1);
  CHECK(width_of(at<study::ProbeCandidate>(e, 0).params) == 64);

  Fixture accuracy_only;
  accuracy_only.spec = distill_spec("t", "c");
  accuracy_only.spec.objectives.pop_back();  // no latency: no probe
  e = study::first_trial(accuracy_only.view(), 0, width(64));
  REQUIRE(e.size() == 1);
  CHECK(at<study::QueueTrial>(e, 0).kind == TrialKind::Flash);

  Fixture neither;
  neither.spec = distill_spec("t", "c");
  neither.spec.objectives.clear();
  neither.spec.objectives.push_back(objective("size", false));
  CHECK(study::first_trial(neither.view(), 0, width(64)).empty());
}

TEST_CASE("first_trial: the baseline says so", "[study][suggestions]") {
  Fixture f;
  study::StudyView v{f.spec, f.book, f.glue, true, StudyState::Exploring, false};
  CHECK(at<study::QueueTrial>(study::first_trial(v, 0, width(64)), 0).note == " baseline");
  CHECK(at<study::QueueTrial>(study::first_trial(v, 1, width(64)), 0).note.empty());
}

TEST_CASE("settle_proposed: an open candidate waits, a closed one is finished or failed",
          "[study][suggestions]") {
  Fixture f;
  f.open(1);
  CHECK(study::settle_proposed(f.view(), 0, width(64)).empty());

  // A cached probe and nothing more to run: finished.
  TrialRow probe;
  probe.candidate = f.book.propose();
  probe.kind = TrialKind::Probe;
  probe.state = wire::TrialState::Completed;
  f.book.fold(probe);
  auto e = study::settle_proposed(f.view(), probe.candidate, width(64));
  REQUIRE(e.size() == 1);
  CHECK(width_of(at<study::FinishCandidate>(e, 0).params) == 64);

  // Its flash skipped: the proposer hears it failed.
  TrialRow flash;
  flash.candidate = probe.candidate;
  flash.kind = TrialKind::Flash;
  flash.state = wire::TrialState::Cancelled;
  f.book.fold(flash);
  REQUIRE(f.book.skipped(probe.candidate));
  e = study::settle_proposed(f.view(), probe.candidate, width(64));
  REQUIRE(e.size() == 1);
  CHECK(width_of(at<study::ObserveFailure>(e, 0).params) == 64);
}
