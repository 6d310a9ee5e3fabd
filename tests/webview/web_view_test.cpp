// The web view's JSON API, access rules and front history, against the
// in-process controller over a real SQLite store (no sockets).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../daemon/controller_harness.hpp"
#include "autodistill/daemon/pareto.hpp"
#include "autodistill/daemon/study_spec.hpp"
#include "web/study_json.hpp"
#include "web/web_view.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::testing::external_spec;
using autodistill::testing::Harness;

namespace {

HttpServer::Request get(std::string path, std::string query = "", std::string auth = "") {
  return {std::move(path), std::move(query), std::move(auth)};
}

nlohmann::json body_of(const HttpServer::Response& r) {
  INFO(r.body);
  return nlohmann::json::parse(r.body);
}

// A completed External trial of `candidate` with objectives f1, f2, ended at `ms`.
TrialRow row(uint64_t id, uint32_t candidate, double f1, double f2, int64_t ms,
             wire::TrialState state = wire::TrialState::Completed) {
  TrialRow t;
  t.id = id;
  t.study_id = 1;
  t.candidate = candidate;
  t.kind = wire::TrialKind::External;
  t.state = state;
  t.objectives = {{"f1", f1}, {"f2", f2}};
  t.updated_ms = ms;
  return t;
}

// Runs an External study of `n` candidates to completion; candidate i gets
// (f1, f2) = (i, n - i) except the last, which is dominated.
uint64_t run_external_study(Harness& h, uint32_t n) {
  const uint64_t study = h.submit(external_spec(n, 1));
  auto assigns = h.join("p1", wire::Role::External, 1, {study});
  uint32_t done = 0;
  while (!assigns.empty()) {
    const auto a = assigns.back();
    assigns.pop_back();
    h.now += 1000;
    const double f1 = done + 1 == n ? n : done;
    const double f2 = done + 1 == n ? n : n - done;
    auto out = h.result("p1", a, f1, f2);
    ++done;
    auto more = Harness::assigns(out);
    if (more.empty()) more = h.pull("p1", 1);
    assigns.insert(assigns.end(), more.begin(), more.end());
  }
  REQUIRE(done == n);
  return study;
}

}  // namespace

TEST_CASE("web view: the front over time ends at pareto_candidates()", "[webview]") {
  const wire::StudySpecT spec = external_spec(5);  // f1, f2 both minimized
  // Completion order (by time): 3, 0, 1, 4, 2; candidate 2 dominates 0 and 1.
  std::vector<TrialRow> trials = {
      row(1, 0, 3, 3, 200), row(2, 1, 2, 4, 300),   row(3, 2, 1, 2, 500),
      row(4, 3, 5, 5, 100), row(5, 4, 0.5, 9, 400), row(6, 5, 0, 0, 50, wire::TrialState::Leased)};
  const auto history = web::front_history(spec, trials);
  std::vector<uint32_t> joined;
  for (const auto& s : history) joined.push_back(s.candidate);
  // 3 first (alone), 0 dominates 3, 1 joins, 4 joins, 2 removes 0 and 1.
  CHECK(joined == std::vector<uint32_t>{3, 0, 1, 4, 2});
  REQUIRE(history.size() == 5);
  CHECK(history[0].front == std::vector<uint32_t>{3});
  CHECK(history[1].front == std::vector<uint32_t>{0});
  CHECK(history[2].front == std::vector<uint32_t>{0, 1});
  CHECK(history[3].time_ms == 400);
  CHECK(history.back().front == pareto_candidates(spec, trials));
  CHECK(history.back().front == std::vector<uint32_t>{2, 4});
  // The running candidate 5 (dominating everything) is not measured yet.
  CHECK(web::front_history(spec, {}).empty());
}

TEST_CASE("web view: the JSON of a study, its list and the workers", "[webview]") {
  Harness h;
  const uint64_t study = run_external_study(h, 4);
  web::WebView view(*h.store, *h.controller, [&] { return h.now; });
  view.set_access(web::Access::kOpen, "", "test");

  auto list = view.serve(get("/api/studies"));
  REQUIRE(list);
  CHECK(list->status == 200);
  CHECK(list->content_type == "application/json");
  auto studies = body_of(*list)["studies"];
  REQUIRE(studies.size() == 1);
  CHECK(studies[0]["id"] == study);
  CHECK(studies[0]["name"] == "external-test");
  CHECK(studies[0]["state"] == "succeeded");
  CHECK(studies[0]["candidates"] == 4);
  CHECK(studies[0]["explored"] == 4);

  auto detail = view.serve(get("/api/studies/" + std::to_string(study)));
  REQUIRE(detail);
  REQUIRE(detail->status == 200);
  auto d = body_of(*detail);
  CHECK(d["kind"] == "external");
  CHECK(d["baseline"].is_null());
  CHECK(d["objectives"][0] == nlohmann::json({{"name", "f1"}, {"direction", "minimize"}}));
  REQUIRE(d["candidates"].size() == 4);
  std::vector<uint32_t> on_front;
  for (const auto& c : d["candidates"]) {
    CHECK(c["stage"] == "explored");
    CHECK(c["open"] == false);
    CHECK(c["params"].contains("x"));
    CHECK(c["params"].contains("width"));
    REQUIRE(c["trials"].size() == 1);
    const auto& t = c["trials"][0];
    CHECK(t["kind"] == "external");
    CHECK(t["state"] == "completed");
    CHECK(t["worker_id"] == "w-p1");
    CHECK(t["progress"] == 1.0);
    // Queued, started and finished, in that order.
    REQUIRE(t["queued_ms"].is_number());
    REQUIRE(t["started_ms"].is_number());
    REQUIRE(t["finished_ms"].is_number());
    CHECK(t["queued_ms"].get<int64_t>() <= t["started_ms"].get<int64_t>());
    CHECK(t["started_ms"].get<int64_t>() < t["finished_ms"].get<int64_t>());
    CHECK(c["values"] == t["values"]);
    CHECK(c["explored_ms"] == t["finished_ms"]);
    if (c["pareto"] == true) on_front.push_back(c["candidate"]);
  }
  // The same front the client protocol reports (StudyInfo.pareto: trial ids).
  auto reply = h.get(study);
  std::vector<uint32_t> expected;
  for (uint64_t trial : reply.study->pareto) {
    for (const auto& t : reply.trials) {
      if (t->trial_id == trial) expected.push_back(t->candidate);
    }
  }
  std::sort(expected.begin(), expected.end());
  CHECK(on_front == expected);
  CHECK(d["front"] == expected);
  CHECK(on_front.size() == 3);  // the last candidate was dominated
  REQUIRE_FALSE(d["front_history"].empty());
  CHECK(d["front_history"].back()["front"] == expected);
  CHECK(d["now_ms"] == h.now);

  auto workers = view.serve(get("/api/workers"));
  REQUIRE(workers);
  auto w = body_of(*workers)["workers"];
  REQUIRE(w.size() == 1);
  CHECK(w[0]["worker_id"] == "w-p1");
  CHECK(w[0]["role"] == "external");
  CHECK(w[0]["connected"] == true);
  CHECK(w[0]["slots"] == 1);
}

TEST_CASE("web view: a running trial shows its live progress", "[webview]") {
  Harness h;
  const uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  wire::HeartbeatT hb;
  auto p = std::make_unique<wire::TrialProgressT>();
  p->trial_id = a[0].trial_id;
  p->attempt = a[0].attempt;
  p->fraction = 0.25f;
  hb.progress.push_back(std::move(p));
  h.worker("p1", std::move(hb));
  web::WebView view(*h.store, *h.controller, [&] { return h.now; });
  view.set_access(web::Access::kOpen, "", "test");
  auto d = body_of(*view.serve(get("/api/studies/" + std::to_string(study))));
  REQUIRE(d["candidates"].size() == 1);
  const auto& c = d["candidates"][0];
  CHECK(c["stage"] == "external");
  CHECK(c["open"] == true);
  CHECK(c["explored_ms"].is_null());
  CHECK(c["trials"][0]["state"] == "leased");
  CHECK(c["trials"][0]["progress"] == Approx(0.25));
  CHECK(c["trials"][0]["finished_ms"].is_null());
  CHECK(d["front"].empty());
}

TEST_CASE("web view: polls follow an active study, and a finished one is served as built",
          "[webview]") {
  Harness h;
  const uint64_t study = h.submit(external_spec(1, 1));
  auto a = h.join("p1", wire::Role::External, 1, {study});
  REQUIRE(a.size() == 1);
  web::WebView view(*h.store, *h.controller, [&] { return h.now; });
  view.set_access(web::Access::kOpen, "", "test");
  const std::string path = "/api/studies/" + std::to_string(study);
  auto heartbeat = [&](float fraction) {
    wire::HeartbeatT hb;
    auto p = std::make_unique<wire::TrialProgressT>();
    p->trial_id = a[0].trial_id;
    p->attempt = a[0].attempt;
    p->fraction = fraction;
    hb.progress.push_back(std::move(p));
    h.worker("p1", std::move(hb));
  };
  heartbeat(0.25f);
  CHECK(body_of(*view.serve(get(path)))["candidates"][0]["trials"][0]["progress"] == Approx(0.25));
  CHECK(body_of(*view.serve(get("/api/studies")))["studies"][0]["running_trials"] == 1);
  heartbeat(0.5f);
  CHECK(body_of(*view.serve(get(path)))["candidates"][0]["trials"][0]["progress"] == Approx(0.5));
  h.now += 1000;
  h.result("p1", a[0], 1, 2);
  auto done = body_of(*view.serve(get(path)));
  CHECK(done["state"] == "succeeded");
  CHECK(done["candidates"][0]["trials"][0]["state"] == "completed");
  auto listed = body_of(*view.serve(get("/api/studies")))["studies"][0];
  CHECK(listed["state"] == "succeeded");
  CHECK(listed["running_trials"] == 0);
  // Served again (kept), it equals what a fresh view builds.
  h.now += 5000;
  auto again = body_of(*view.serve(get(path)));
  web::WebView fresh(*h.store, *h.controller, [&] { return h.now; });
  fresh.set_access(web::Access::kOpen, "", "test");
  CHECK(again == body_of(*fresh.serve(get(path))));
  CHECK(again["now_ms"] == h.now);
  CHECK(body_of(*view.serve(get("/api/studies")))["studies"] ==
        body_of(*fresh.serve(get("/api/studies")))["studies"]);
}

TEST_CASE("web view: hostile paths get JSON errors naming the field", "[webview]") {
  Harness h;
  const uint64_t study = run_external_study(h, 2);
  web::WebView view(*h.store, *h.controller);
  view.set_access(web::Access::kOpen, "", "test");
  struct Case {
    std::string path;
    int status;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/api/studies/" + std::to_string(study + 1), 404, "study_id"},
      {"/api/studies/0", 404, "study_id"},
      {"/api/studies/abc", 400, "study_id"},
      {"/api/studies/-1", 400, "study_id"},
      {"/api/studies/1x", 400, "study_id"},
      {"/api/studies/", 400, "study_id"},
      {"/api/studies/18446744073709551616", 400, "study_id"},  // 2^64
      {"/api/studies/1/../2", 400, "study_id"},
      {"/api/studies/%31", 400, "study_id"},
      {"/api/studies/" + std::string(4000, '9'), 400, "study_id"},
      {"/api/studies/\xff\xfe", 400, "study_id"},
      {"/api/", 404, "path"},
      {"/api/nope", 404, "path"},
      {"/api/workers/x", 404, "path"},
      {"/api/../metrics", 404, "path"},
  };
  for (const Case& c : cases) {
    INFO(c.path);
    auto r = view.serve(get(c.path));
    REQUIRE(r);
    CHECK(r->status == c.status);
    auto e = body_of(*r)["error"];
    CHECK(e["field"] == c.field);
    CHECK(e["message"].is_string());
  }
  // Paths that are not the view's are left to the caller.
  CHECK_FALSE(view.serve(get("/metrics")));
  CHECK_FALSE(view.serve(get("/index.html")));
  CHECK(view.serve(get("/"))->status == 200);
  CHECK(view.serve(get("/ui"))->content_type == "text/html; charset=utf-8");
}

TEST_CASE("web view: names with invalid UTF-8 are replaced, not thrown on", "[webview]") {
  Harness h;
  auto spec = external_spec(1, 1);
  spec.name = "bad \xff\xfe name";
  const uint64_t study = h.submit(std::move(spec));
  web::WebView view(*h.store, *h.controller);
  view.set_access(web::Access::kOpen, "", "test");
  auto r = view.serve(get("/api/studies/" + std::to_string(study)));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(body_of(*r)["name"].get<std::string>().rfind("bad ", 0) == 0);
}

TEST_CASE("web view: access follows the client endpoint's rules", "[webview]") {
  Config c;
  std::string why;
  c.http_listen = "127.0.0.1:9464";
  CHECK(web::access_for(c, false, &why) == web::Access::kOpen);
  c.http_listen = "[::1]:9464";
  CHECK(web::access_for(c, false, &why) == web::Access::kOpen);
  c.http_listen = "localhost:9464";
  CHECK(web::access_for(c, false, &why) == web::Access::kOpen);
  c.http_listen = "0.0.0.0:9464";
  CHECK(web::access_for(c, false, &why) == web::Access::kOff);
  CHECK(why.find("web_token_file") != std::string::npos);
  CHECK(web::access_for(c, true, &why) == web::Access::kToken);
  c.allow_insecure_bind = 1;
  CHECK(web::access_for(c, false, &why) == web::Access::kOpen);
  // CURVE on the client endpoint: a secret is needed even on loopback.
  c.http_listen = "127.0.0.1:9464";
  c.curve_secret_key_file = "/etc/autodistill/server.secret";
  CHECK(web::access_for(c, false, &why) == web::Access::kOff);
  CHECK(why.find("CURVE") != std::string::npos);
  CHECK(web::access_for(c, true, &why) == web::Access::kToken);

  Harness h;
  web::WebView view(*h.store, *h.controller);
  view.set_access(web::Access::kOff, "", "the reason");
  auto off = view.serve(get("/api/studies"));
  REQUIRE(off);
  CHECK(off->status == 403);
  CHECK(body_of(*off)["error"]["field"] == "web_token_file");
  CHECK(body_of(*off)["error"]["message"].get<std::string>().find("the reason") !=
        std::string::npos);
  CHECK(view.serve(get("/"))->status == 403);
  CHECK_FALSE(view.serve(get("/healthz")));  // metrics and health stay the caller's

  const std::string token = "s3cret-token_0123456789";
  view.set_access(web::Access::kToken, token, "token");
  CHECK(view.serve(get("/api/studies"))->status == 401);
  CHECK(body_of(*view.serve(get("/api/studies")))["error"]["field"] == "token");
  CHECK(view.serve(get("/api/studies", "", "Bearer " + token))->status == 200);
  CHECK(view.serve(get("/api/studies", "", "Bearer " + token + "x"))->status == 401);
  CHECK(view.serve(get("/api/studies", "", "Basic " + token))->status == 401);
  CHECK(view.serve(get("/api/studies", "", "Bearer "))->status == 401);
  CHECK(view.serve(get("/", "token=" + token))->status == 200);
  CHECK(view.serve(get("/", "a=1&token=" + token + "&b=2"))->status == 200);
  CHECK(view.serve(get("/", "token=s3cret%2Dtoken_0123456789"))->status == 200);  // %2D: '-'
  CHECK(view.serve(get("/", "token="))->status == 401);
  CHECK(view.serve(get("/", "token=" + token.substr(1)))->status == 401);
  CHECK(view.serve(get("/", "xtoken=" + token))->status == 401);
}

TEST_CASE("web view: the token file must be private and long enough", "[webview]") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/web.token";
  auto write = [&](const std::string& text, mode_t mode) {
    std::ofstream(path, std::ios::trunc) << text;
    REQUIRE(::chmod(path.c_str(), mode) == 0);
  };
  CHECK(web::read_web_token(dir.path() + "/missing").status().code() == Code::kNotFound);
  write("0123456789abcdef0123\n", 0644);
  auto open = web::read_web_token(path);
  CHECK(open.status().code() == Code::kFailedPrecondition);
  CHECK(open.status().field() == "web_token_file");
  write("short\n", 0600);
  CHECK(web::read_web_token(path).status().code() == Code::kInvalidArgument);
  write("has a space in the middle of it\n", 0600);
  CHECK(web::read_web_token(path).status().code() == Code::kInvalidArgument);
  write("  0123456789abcdef0123  \nsecond line\n", 0600);
  auto ok = web::read_web_token(path);
  REQUIRE(ok);
  CHECK(ok.value() == "0123456789abcdef0123");
}

TEST_CASE("web view: trial times come from the trial rows and not from the events", "[webview]") {
  // The study page used to rebuild queued/started times from the study's
  // events, so a trial whose events were not read had no times.
  const wire::StudySpecT spec = external_spec(2);
  StudyRow study;
  study.id = 1;
  study.state = wire::StudyState::Exploring;
  TrialRow done = row(1, 0, 1, 2, 900);
  done.created_ms = 100;
  done.started_ms = 400;
  done.finished_ms = 900;
  TrialRow running = row(2, 1, 0, 0, 700, wire::TrialState::Leased);
  running.objectives.clear();
  running.created_ms = 200;
  running.started_ms = 700;
  TrialRow queued = row(3, 1, 0, 0, 200, wire::TrialState::Queued);
  queued.kind = wire::TrialKind::External;
  queued.objectives.clear();
  queued.created_ms = 250;
  const auto d = web::study_detail(study, spec, {done, running, queued}, {});
  REQUIRE(d["candidates"].size() == 2);
  const auto& t0 = d["candidates"][0]["trials"][0];
  CHECK(t0["queued_ms"] == 100);
  CHECK(t0["started_ms"] == 400);
  CHECK(t0["finished_ms"] == 900);
  CHECK(d["candidates"][0]["explored_ms"] == 900);
  const auto& t1 = d["candidates"][1]["trials"][0];
  CHECK(t1["queued_ms"] == 200);
  CHECK(t1["started_ms"] == 700);
  CHECK(t1["finished_ms"].is_null());
  const auto& t2 = d["candidates"][1]["trials"][1];
  CHECK(t2["queued_ms"] == 250);
  CHECK(t2["started_ms"].is_null());
  CHECK(t2["finished_ms"].is_null());
}
