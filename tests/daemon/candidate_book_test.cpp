// The study domain's candidate stage machine and the one fold of stored
// trial rows (daemon/src/study/candidate_book.hpp): in memory, no I/O.
#include "study/candidate_book.hpp"

#include <catch2/catch.hpp>

using namespace autodistill::daemon;
using autodistill::daemon::study::CandidateBook;
using autodistill::daemon::study::Stage;
using autodistill::wire::TrialKind;
using autodistill::wire::TrialState;

namespace {

TrialRow row(uint32_t candidate, TrialKind kind, TrialState state) {
  TrialRow r;
  r.candidate = candidate;
  r.kind = kind;
  r.state = state;
  return r;
}

// Two books are the same when every observable agrees on candidates 0..n-1.
void require_same(const CandidateBook& a, const CandidateBook& b) {
  REQUIRE(a.next_candidate() == b.next_candidate());
  CHECK(a.open_candidates() == b.open_candidates());
  CHECK(a.failed_candidates() == b.failed_candidates());
  CHECK(a.complete() == b.complete());
  CHECK(a.finetunes_failed() == b.finetunes_failed());
  CHECK(a.teacher_finetunes_queued() == b.teacher_finetunes_queued());
  for (uint32_t c = 0; c < a.next_candidate(); ++c) {
    INFO("candidate " << c);
    CHECK(a.stage(c) == b.stage(c));
    CHECK(a.open(c) == b.open(c));
    CHECK(a.skipped(c) == b.skipped(c));
    CHECK(a.probed(c) == b.probed(c));
  }
}

}  // namespace

TEST_CASE("a candidate moves probe -> probed -> flash -> explored -> regular -> delivered",
          "[study]") {
  CandidateBook book;
  const uint32_t c = book.propose();
  CHECK(c == 0);
  CHECK(book.stage(c) == Stage::kProposed);
  book.queued(c, TrialKind::Probe);
  CHECK(book.stage(c) == Stage::kProbe);
  CHECK(book.open(c));
  auto ended = book.ended(c, TrialKind::Probe, TrialState::Completed);
  CHECK(book.stage(c) == Stage::kProbed);
  CHECK(ended.closed);
  CHECK_FALSE(ended.newly_failed);
  book.queued(c, TrialKind::Flash);
  CHECK(book.stage(c) == Stage::kFlash);
  book.ended(c, TrialKind::Flash, TrialState::Completed);
  CHECK(book.stage(c) == Stage::kExplored);
  CHECK(book.complete() == 1);
  book.queued(c, TrialKind::Regular);
  CHECK(book.stage(c) == Stage::kRegular);
  CHECK(book.open_candidates() == 1);
  book.ended(c, TrialKind::Regular, TrialState::Completed);
  CHECK(book.stage(c) == Stage::kDelivered);
  CHECK(book.open_candidates() == 0);
  CHECK(book.next_candidate() == 1);
}

TEST_CASE("the flash queued before the probe closes keeps the candidate open", "[study]") {
  CandidateBook book;
  const uint32_t c = book.propose();
  book.queued(c, TrialKind::Probe);
  book.queued(c, TrialKind::Flash);  // the controller queues it from the probe's completion
  const auto ended = book.ended(c, TrialKind::Probe, TrialState::Completed);
  CHECK_FALSE(ended.closed);
  CHECK(book.stage(c) == Stage::kFlash);  // the probe's end does not move it back
}

TEST_CASE("a skipped flash: the candidate closes as skipped, not failed", "[study]") {
  CandidateBook book;
  const uint32_t c = book.propose();
  book.queued(c, TrialKind::Probe);
  book.fold(row(c, TrialKind::Flash, TrialState::Cancelled));  // inserted already ended
  CHECK(book.open(c));                                         // the probe is still open
  CHECK(book.ended(c, TrialKind::Probe, TrialState::Completed).closed);
  CHECK(book.stage(c) == Stage::kFlashSkipped);
  CHECK(book.skipped(c));
  CHECK_FALSE(book.failed(c));
  CHECK(book.complete() == 0);
}

TEST_CASE("a failure is reported once and sticks", "[study]") {
  CandidateBook book;
  const uint32_t c = book.propose();
  book.queued(c, TrialKind::Probe);
  book.queued(c, TrialKind::Flash);
  auto first = book.ended(c, TrialKind::Probe, TrialState::Failed);
  CHECK(first.newly_failed);
  CHECK_FALSE(first.closed);
  auto sibling = book.ended(c, TrialKind::Flash, TrialState::Cancelled);
  CHECK_FALSE(sibling.newly_failed);
  CHECK(sibling.closed);
  CHECK(book.stage(c) == Stage::kFailed);
  CHECK(book.failed_candidates() == 1);
  book.queued(c, TrialKind::Regular);  // no stage leaves kFailed
  CHECK(book.stage(c) == Stage::kFailed);
}

TEST_CASE("an External trial is the candidate's one measurement", "[study]") {
  CandidateBook book;
  const uint32_t c = book.propose();
  book.queued(c, TrialKind::External);
  CHECK(book.stage(c) == Stage::kExternal);
  book.ended(c, TrialKind::External, TrialState::Completed);
  CHECK(book.stage(c) == Stage::kExplored);
  CHECK(book.complete() == 0);  // complete() counts Flash trials
}

TEST_CASE("recovery's fold of the stored rows rebuilds the live book", "[study][recovery]") {
  // The live path: the calls the controller makes, in order; each trial is
  // also stored as a row with its final state (queued ones stay Queued/Leased).
  CandidateBook live;
  std::vector<TrialRow> rows;
  auto create = [&](uint32_t c, TrialKind kind) {
    live.queued(c, kind);
    rows.push_back(row(c, kind, TrialState::Queued));
    return rows.size() - 1;
  };
  auto end = [&](size_t i, TrialState state) {
    live.ended(rows[i].candidate, static_cast<TrialKind>(rows[i].kind), state);
    rows[i].state = state;
  };
  // 0: probe, flash, both complete, then selected for regular (still running).
  uint32_t c0 = live.propose();
  size_t p0 = create(c0, TrialKind::Probe);
  size_t f0 = create(c0, TrialKind::Flash);
  end(p0, TrialState::Completed);
  end(f0, TrialState::Completed);
  size_t r0 = create(c0, TrialKind::Regular);
  rows[r0].state = TrialState::Leased;
  // 1: probe failed, its flash cancelled as a sibling.
  uint32_t c1 = live.propose();
  size_t p1 = create(c1, TrialKind::Probe);
  size_t f1 = create(c1, TrialKind::Flash);
  end(p1, TrialState::Failed);
  end(f1, TrialState::Cancelled);
  // 2: probe complete from the cache, flash skipped (both stored already ended).
  uint32_t c2 = live.propose();
  TrialRow cached = row(c2, TrialKind::Probe, TrialState::Completed);
  live.fold(cached);
  rows.push_back(cached);
  TrialRow skip = row(c2, TrialKind::Flash, TrialState::Cancelled);
  live.fold(skip);
  rows.push_back(skip);
  // 3: probe running.
  uint32_t c3 = live.propose();
  size_t p3 = create(c3, TrialKind::Probe);
  rows[p3].state = TrialState::Leased;

  CandidateBook recovered;
  for (const TrialRow& r : rows) recovered.fold(r);
  require_same(live, recovered);
  CHECK(recovered.stage(c0) == Stage::kRegular);
  CHECK(recovered.stage(c1) == Stage::kFailed);
  CHECK(recovered.stage(c2) == Stage::kFlashSkipped);
  CHECK(recovered.stage(c3) == Stage::kProbe);
  CHECK(recovered.open_candidates() == 2);
  CHECK(recovered.next_candidate() == 4);
}

TEST_CASE("a re-probe keeps the stage, its failure does not fail the candidate",
          "[study][reprobe]") {
  // The live order (controller/lifecycle.cpp): the flash and the re-probe are
  // queued before the first probe's end is recorded.
  CandidateBook live;
  const uint32_t c = live.propose();
  live.queued(c, TrialKind::Probe);
  CHECK_FALSE(live.probed(c));
  live.queued(c, TrialKind::Flash);
  live.queued(c, TrialKind::Probe);  // the re-probe
  CHECK(live.stage(c) == Stage::kFlash);
  live.ended(c, TrialKind::Probe, TrialState::Completed);
  CHECK(live.probed(c));
  live.ended(c, TrialKind::Flash, TrialState::Completed);
  CHECK(live.stage(c) == Stage::kExplored);
  CHECK(live.open(c));  // the re-probe is still open
  auto reprobe = live.ended(c, TrialKind::Probe, TrialState::Failed);
  CHECK_FALSE(reprobe.newly_failed);
  CHECK(reprobe.closed);
  CHECK(live.stage(c) == Stage::kExplored);
  CHECK(live.failed_candidates() == 0);

  // Recovery folds the rows in id order: probe, flash, re-probe.
  CandidateBook recovered;
  recovered.fold(row(c, TrialKind::Probe, TrialState::Completed));
  recovered.fold(row(c, TrialKind::Flash, TrialState::Completed));
  recovered.fold(row(c, TrialKind::Probe, TrialState::Failed));
  require_same(live, recovered);
}

TEST_CASE("GLUE: delivered -> finetune -> finetuned, a failed fine-tuning fails no candidate",
          "[study][glue]") {
  using autodistill::kTeacherCandidate;
  CandidateBook book;
  const uint32_t c = book.propose();
  book.queued(c, TrialKind::Flash);
  book.ended(c, TrialKind::Flash, TrialState::Completed);
  book.queued(c, TrialKind::Regular);
  book.ended(c, TrialKind::Regular, TrialState::Completed);
  REQUIRE(book.stage(c) == Stage::kDelivered);
  CHECK_FALSE(book.teacher_finetunes_queued());

  book.queued(c, TrialKind::Finetune);
  book.queued(c, TrialKind::Finetune);
  book.queued(kTeacherCandidate, TrialKind::Finetune);
  CHECK(book.stage(c) == Stage::kFinetune);
  CHECK(book.teacher_finetunes_queued());
  CHECK(book.open_candidates() == 2);  // the student and the teacher
  CHECK(book.next_candidate() == 1);   // the teacher is no candidate
  CHECK(book.stages().count(kTeacherCandidate) == 0);

  auto first = book.ended(c, TrialKind::Finetune, TrialState::Failed);
  CHECK_FALSE(first.newly_failed);
  CHECK_FALSE(first.closed);
  CHECK(book.stage(c) == Stage::kFinetune);
  auto second = book.ended(c, TrialKind::Finetune, TrialState::Completed);
  CHECK(second.closed);
  CHECK(book.stage(c) == Stage::kFinetuned);
  CHECK(book.failed_candidates() == 0);
  CHECK(book.finetunes_failed() == 1);
  CHECK(book.open_candidates() == 1);  // the teacher's
  CHECK(book.ended(kTeacherCandidate, TrialKind::Finetune, TrialState::Completed).closed);
  CHECK(book.open_candidates() == 0);
  CHECK(study::stage_name(Stage::kFinetuned) == std::string("finetuned"));
}

TEST_CASE("GLUE: the fold of rows stored mid fine-tune rebuilds the live book",
          "[study][glue][recovery]") {
  using autodistill::kTeacherCandidate;
  // A study whose daemon stopped while candidate 1's and the teacher's
  // fine-tunings ran: 0 finetuned (one failed), 1 in fine-tuning.
  std::vector<TrialRow> rows = {
      row(0, TrialKind::Flash, TrialState::Completed),
      row(1, TrialKind::Flash, TrialState::Completed),
      row(0, TrialKind::Regular, TrialState::Completed),
      row(1, TrialKind::Regular, TrialState::Completed),
      row(0, TrialKind::Finetune, TrialState::Completed),
      row(0, TrialKind::Finetune, TrialState::Failed),
      row(kTeacherCandidate, TrialKind::Finetune, TrialState::Leased),
      row(1, TrialKind::Finetune, TrialState::Queued),
      row(1, TrialKind::Finetune, TrialState::Completed),
  };
  CandidateBook live;
  live.propose();
  live.propose();
  for (const TrialRow& r : rows) {
    live.queued(r.candidate, r.kind);
    if (r.state >= TrialState::Completed) {
      live.ended(r.candidate, r.kind, r.state);
    }
  }
  CandidateBook folded;
  for (const TrialRow& r : rows) folded.fold(r);
  require_same(live, folded);
  CHECK(folded.stage(0) == Stage::kFinetuned);
  CHECK(folded.stage(1) == Stage::kFinetune);
  CHECK(folded.open(kTeacherCandidate));
  CHECK(folded.teacher_finetunes_queued());
  CHECK(folded.finetunes_failed() == 1);
  CHECK(folded.failed_candidates() == 0);
  CHECK(folded.open_candidates() == 2);
}
