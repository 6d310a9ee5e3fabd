// The scheduler as data (daemon/src/study/scheduler.hpp): one rule per case.
#include "study/scheduler.hpp"

#include <catch2/catch.hpp>

using namespace autodistill::daemon::study;
using autodistill::wire::Role;

namespace {

constexpr int kDistill = static_cast<int>(Role::Distill);
constexpr int kProbe = static_cast<int>(Role::Probe);
constexpr int kExternal = static_cast<int>(Role::External);

WorkerView worker(const std::string& id, Role role, uint32_t credits = 1) {
  WorkerView w;
  w.worker_id = id;
  w.role = role;
  w.credits = credits;
  return w;
}

QueuedTrialView trial(uint64_t id, uint32_t ranks = 1) {
  QueuedTrialView t;
  t.trial_id = id;
  t.ranks = ranks;
  return t;
}

StudyQueueView study(uint64_t id, int role, std::vector<QueuedTrialView> ready) {
  StudyQueueView s;
  s.study_id = id;
  s.ready[role] = std::move(ready);
  return s;
}

// (trial, worker ids by rank) of each assignment, in order.
std::vector<std::pair<uint64_t, std::vector<std::string>>> pairs(
    const Plan& plan, const std::vector<WorkerView>& workers) {
  std::vector<std::pair<uint64_t, std::vector<std::string>>> out;
  for (const Assignment& a : plan.assignments) {
    std::vector<std::string> ids;
    for (size_t i : a.workers) ids.push_back(workers.at(i).worker_id);
    out.emplace_back(a.trial_id, ids);
  }
  return out;
}

using P = std::vector<std::pair<uint64_t, std::vector<std::string>>>;

}  // namespace

TEST_CASE("workers take queued trials front first, as many as their credits", "[scheduler]") {
  std::vector<StudyQueueView> studies = {study(1, kDistill, {trial(10), trial(11), trial(12)})};
  std::vector<WorkerView> workers = {worker("a", Role::Distill, 2), worker("b", Role::Distill, 2)};
  Plan plan = schedule(studies, workers, 0);
  CHECK(pairs(plan, workers) == P{{10, {"a"}}, {11, {"a"}}, {12, {"b"}}});
  REQUIRE(plan.dequeued.size() == 3);
  CHECK(plan.dequeued[0].study_id == 1);
  CHECK(plan.dequeued[0].role == kDistill);
  CHECK(plan.dequeued[2].trial_id == 12);
}

TEST_CASE("studies are served in the order given, inactive ones are skipped", "[scheduler]") {
  std::vector<StudyQueueView> studies = {study(5, kDistill, {trial(50)}),
                                         study(2, kDistill, {trial(20)}),
                                         study(9, kDistill, {trial(90)})};
  studies[1].active = false;
  std::vector<WorkerView> workers = {worker("a", Role::Distill, 3)};
  CHECK(pairs(schedule(studies, workers, 0), workers) == P{{50, {"a"}}, {90, {"a"}}});
}

TEST_CASE("a worker without credit or quarantined gets nothing", "[scheduler]") {
  std::vector<StudyQueueView> studies = {study(1, kDistill, {trial(10), trial(11)})};
  std::vector<WorkerView> workers = {worker("none", Role::Distill, 0),
                                     worker("q", Role::Distill, 4), worker("ok", Role::Distill)};
  workers[1].quarantined = true;
  CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"ok"}}});
}

TEST_CASE("roles: a worker takes only its role's queue", "[scheduler]") {
  StudyQueueView s = study(1, kDistill, {trial(10)});
  s.ready[kProbe] = {trial(20)};
  std::vector<WorkerView> workers = {worker("p", Role::Probe, 5)};
  CHECK(pairs(schedule({s}, workers, 0), workers) == P{{20, {"p"}}});
}

TEST_CASE("eligibility: external study lists and probe hardware tags", "[scheduler]") {
  StudyQueueView tagged = study(1, kProbe, {trial(10)});
  tagged.hardware_tag = "gpu-a";
  StudyQueueView untagged = study(2, kProbe, {trial(20)});
  std::vector<WorkerView> probes = {worker("cpu", Role::Probe, 5), worker("gpu", Role::Probe, 5)};
  probes[0].hardware_tag = "cpu";
  probes[1].hardware_tag = "gpu-a";
  CHECK(pairs(schedule({tagged, untagged}, probes, 0), probes) == P{{20, {"cpu"}}, {10, {"gpu"}}});

  StudyQueueView e1 = study(1, kExternal, {trial(10)});
  StudyQueueView e2 = study(2, kExternal, {trial(20)});
  std::vector<WorkerView> ext = {worker("x", Role::External, 5)};
  ext[0].studies = {2};
  CHECK(pairs(schedule({e1, e2}, ext, 0), ext) == P{{20, {"x"}}});
  // A Distill worker may run any study's Distill trials, whatever the tag.
  StudyQueueView d = study(3, kDistill, {trial(30)});
  d.hardware_tag = "gpu-a";
  std::vector<WorkerView> dw = {worker("d", Role::Distill)};
  dw[0].hardware_tag = "cpu";
  CHECK(pairs(schedule({d}, dw, 0), dw) == P{{30, {"d"}}});
}

TEST_CASE("a trial waits until its not_before_ms", "[scheduler]") {
  QueuedTrialView later = trial(10);
  later.not_before_ms = 1000;
  std::vector<StudyQueueView> studies = {study(1, kProbe, {later, trial(11)})};
  std::vector<WorkerView> workers = {worker("p", Role::Probe, 2)};
  CHECK(pairs(schedule(studies, workers, 999), workers) == P{{11, {"p"}}});
  CHECK(pairs(schedule(studies, workers, 1000), workers) == P{{10, {"p"}}, {11, {"p"}}});
}

TEST_CASE("after an expiry another worker is preferred only when one could take it",
          "[scheduler]") {
  std::set<std::string> expired = {"a"};
  QueuedTrialView t = trial(10);
  t.expired_with = &expired;
  std::vector<StudyQueueView> studies = {study(1, kDistill, {t})};

  SECTION("alone: the worker that let it expire gets it again") {
    std::vector<WorkerView> workers = {worker("a", Role::Distill)};
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"a"}}});
  }
  SECTION("another worker, even one busy now, is waited for") {
    std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("b", Role::Distill, 0)};
    Plan plan = schedule(studies, workers, 0);
    CHECK(plan.assignments.empty());
    CHECK(plan.dequeued.empty());
    workers[1].credits = 1;
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"b"}}});
  }
  SECTION("others that cannot take it do not count") {
    std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("q", Role::Distill),
                                       worker("p", Role::Probe)};
    workers[1].quarantined = true;
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"a"}}});
    expired.insert("q");
    workers[1].quarantined = false;  // it let the lease expire too
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"a"}}});
  }
  SECTION("the worker takes the next trial instead") {
    studies[0].ready[kDistill].push_back(trial(11));
    std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("b", Role::Distill, 0)};
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{11, {"a"}}});
  }
}

TEST_CASE("stale entries are dequeued where a scan meets them", "[scheduler]") {
  QueuedTrialView gone = trial(10);
  gone.queued = false;
  std::vector<StudyQueueView> studies = {study(1, kDistill, {gone, trial(11)})};
  std::vector<WorkerView> workers = {worker("a", Role::Distill)};
  Plan plan = schedule(studies, workers, 0);
  CHECK(pairs(plan, workers) == P{{11, {"a"}}});
  REQUIRE(plan.dequeued.size() == 2);
  CHECK(plan.dequeued[0].trial_id == 10);
  CHECK(plan.dequeued[1].trial_id == 11);
}

TEST_CASE("a gang is leased to N distinct free workers at once, or not at all",
          "[scheduler][gang]") {
  std::vector<StudyQueueView> studies = {study(1, kDistill, {trial(10, 2)})};
  SECTION("two free workers: both ranks in one turn") {
    std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("b", Role::Distill)};
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"a", "b"}}});
  }
  SECTION("one worker with two credits is not two ranks") {
    std::vector<WorkerView> workers = {worker("a", Role::Distill, 2)};
    Plan plan = schedule(studies, workers, 0);
    CHECK(plan.assignments.empty());
    CHECK(plan.dequeued.empty());
  }
  SECTION("a busy, a quarantined or an ineligible worker does not count") {
    std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("busy", Role::Distill, 0),
                                       worker("q", Role::Distill), worker("p", Role::Probe)};
    workers[2].quarantined = true;
    CHECK(schedule(studies, workers, 0).assignments.empty());
    workers[1].credits = 1;
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"a", "busy"}}});
  }
  SECTION("workers that did not let it expire are chosen first") {
    std::set<std::string> expired = {"a"};
    studies[0].ready[kDistill][0].expired_with = &expired;
    std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("b", Role::Distill),
                                       worker("c", Role::Distill)};
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"b", "c"}}});
    workers[2].credits = 0;  // then it may take a rank
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"b", "a"}}});
  }
  SECTION("each rank consumes one credit; the rest goes on to other trials") {
    studies[0].ready[kDistill].push_back(trial(11));
    std::vector<WorkerView> workers = {worker("a", Role::Distill, 2), worker("b", Role::Distill)};
    CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"a", "b"}}, {11, {"a"}}});
  }
}

TEST_CASE("a waiting gang reserves free workers so single trials cannot starve it",
          "[scheduler][gang]") {
  // Gang 10 (3 ranks) is ahead of single trials 11, 12 in study 1 and 20 in study 2.
  std::vector<StudyQueueView> studies = {study(1, kDistill, {trial(10, 3), trial(11), trial(12)}),
                                         study(2, kDistill, {trial(20)})};
  std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("b", Role::Distill),
                                     worker("c", Role::Distill, 0)};
  // a and b are free, c is busy: the gang cannot form; a and b wait for it.
  Plan plan = schedule(studies, workers, 0);
  CHECK(plan.assignments.empty());
  // c frees up: all three ranks go out in this turn.
  workers[2].credits = 1;
  CHECK(pairs(schedule(studies, workers, 0), workers) == P{{10, {"a", "b", "c"}}});
  // A worker's credits beyond the one it keeps for the gang still serve.
  workers[0].credits = 2;
  workers[2].credits = 0;
  CHECK(pairs(schedule(studies, workers, 0), workers) == P{{11, {"a"}}});
}

TEST_CASE("trials ahead of a waiting gang still run", "[scheduler][gang]") {
  std::vector<StudyQueueView> studies = {study(1, kDistill, {trial(9), trial(10, 2), trial(11)})};
  std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("b", Role::Distill),
                                     worker("c", Role::Distill, 0)};
  // a takes 9; b alone cannot form the gang and keeps its credit for it.
  CHECK(pairs(schedule(studies, workers, 0), workers) == P{{9, {"a"}}});
}

TEST_CASE("a gang the fleet cannot ever form holds up nothing", "[scheduler][gang]") {
  std::vector<StudyQueueView> studies = {study(1, kDistill, {trial(10, 3), trial(11)})};
  std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("b", Role::Distill),
                                     worker("q", Role::Distill)};
  workers[2].quarantined = true;  // two able workers for three ranks
  CHECK(pairs(schedule(studies, workers, 0), workers) == P{{11, {"a"}}});
}

TEST_CASE("gangs form in queue order, and a later gang cannot take reserved workers",
          "[scheduler][gang]") {
  std::vector<StudyQueueView> studies = {study(1, kDistill, {trial(10, 3), trial(11, 2)})};
  std::vector<WorkerView> workers = {worker("a", Role::Distill), worker("b", Role::Distill),
                                     worker("c", Role::Distill, 0)};
  CHECK(schedule(studies, workers, 0).assignments.empty());
  // Gang 10 formed from three workers with two credits each: 11 then forms too.
  for (auto& w : workers) w.credits = 2;
  CHECK(pairs(schedule(studies, workers, 0), workers) ==
        P{{10, {"a", "b", "c"}}, {11, {"a", "b"}}});
}

TEST_CASE("each slot goes to the eligible study with the fewest running trials", "[scheduler]") {
  std::vector<StudyQueueView> studies = {study(1, kDistill, {trial(10), trial(11), trial(12)}),
                                         study(2, kDistill, {trial(20), trial(21), trial(22)}),
                                         study(3, kDistill, {trial(30), trial(31)})};
  studies[0].running[kDistill] = 2;  // study 1 already runs two, study 3 one
  studies[2].running[kDistill] = 1;
  std::vector<WorkerView> workers = {worker("a", Role::Distill, 3), worker("b", Role::Distill, 2)};
  // Study 2 (none running) twice; then 3 (1 running against 2 and 2); then
  // all three at 2: ties go in the order given.
  CHECK(pairs(schedule(studies, workers, 0), workers) ==
        P{{20, {"a"}}, {21, {"a"}}, {30, {"a"}}, {10, {"b"}}, {22, {"b"}}});
  // Another role's running trials do not count.
  studies[0].running[kDistill] = 0;
  studies[0].running[kProbe] = 5;
  studies[2].running[kDistill] = 0;
  CHECK(pairs(schedule(studies, workers, 0), workers) ==
        P{{10, {"a"}}, {20, {"a"}}, {30, {"a"}}, {11, {"b"}}, {21, {"b"}}});
}
