// The web view of the real autodistilld binary: its JSON over loopback
// HTTP while real test workers ran a Distill study with a baseline, the
// token, hostile requests, and the page rendered by a headless Chromium
// (DOM checked after the JS ran; screenshots in WEBVIEW_ARTIFACTS_DIR).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "../integration/cluster.hpp"
#include "autodistill/wire/blob_transfer.hpp"
#include "autodistill/wire/curve.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

// One request over a fresh loopback connection; returns the whole response.
std::string raw_request(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  (void)!::write(fd, request.data(), request.size());
  ::shutdown(fd, SHUT_WR);
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return response;
}

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
};

Reply http(int port, const std::string& target, const std::string& headers = "") {
  const std::string response =
      raw_request(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n");
  Reply r;
  const size_t end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
  r.status = std::stoi(response.substr(9, 3));
  r.head = response.substr(0, end);
  r.body = response.substr(end + 4);
  return r;
}

nlohmann::json json_of(const Reply& r) {
  INFO(r.head << "\n" << r.body);
  REQUIRE(r.head.find("Content-Type: application/json") != std::string::npos);
  return nlohmann::json::parse(r.body);
}

wire::RoundTrip round_trip_of(WirePeer& peer) {
  return [&peer](wire::MessageUnion request) -> Result<wire::EnvelopeT> {
    std::optional<wire::EnvelopeT> reply;
    if (auto* s = request.AsBlobStat()) reply = peer.call(*s);
    if (auto* p = request.AsBlobPut()) reply = peer.call(*p);
    if (!reply) return Status(Code::kUnavailable, "timeout");
    return std::move(*reply);
  };
}

// A Distill study with a baseline (candidate 0), run to the end by a probe
// and a distillation test worker; returns the client's final reply.
wire::StudyReplyT run_distill_study(Cluster& c) {
  auto teacher = wire::upload_bytes(round_trip_of(c.client()), "teacher weights");
  auto corpus = wire::upload_bytes(round_trip_of(c.client()), "a corpus");
  REQUIRE(teacher);
  REQUIRE(corpus);
  auto spec = distill_spec(teacher.value(), corpus.value());
  spec.name = "webview-distill";
  spec.max_trials = 5;
  set_baseline(spec);
  const uint64_t study = c.submit(std::move(spec));
  c.start_worker("probe", "probe", {"--tag", "cpu-test", "--builtin", "quadratic"});
  c.start_worker("distill", "distill", {"--builtin", "quadratic", "--slots", "2"});
  return c.wait_state(study, wire::StudyState::Succeeded);
}

// The candidates on the client protocol's Pareto set (StudyInfo.pareto holds trial ids).
std::vector<uint32_t> front_of(const wire::StudyReplyT& reply) {
  std::set<uint32_t> front;
  for (uint64_t id : reply.study->pareto) {
    for (const auto& t : reply.trials) {
      if (t->trial_id == id) front.insert(t->candidate);
    }
  }
  return {front.begin(), front.end()};
}

// $AUTODISTILL_CHROMIUM when set (only it), else the first chromium or
// chromium-browser found; "" when none can be run.
std::string find_chromium() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("AUTODISTILL_CHROMIUM")) {
    return ::access(env, X_OK) == 0 ? env : "";
  }
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/snap/bin"}) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      candidates.push_back(std::string(dir) + "/" + name);
    }
  }
  for (const auto& path : candidates) {
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Runs headless Chromium on `url` with `mode` (--dump-dom, --screenshot=...),
// its own profile under `dir`; stdout to `out`. Returns its exit status.
int run_chromium(const std::string& chromium, const std::string& dir, const std::string& url,
                 const std::string& mode, const std::string& out) {
  const std::string profile = dir + "/chromium-profile";
  const std::string command =
      "exec '" + chromium + "' --headless --no-sandbox --disable-gpu --no-first-run " +
      "--disable-extensions --disable-background-networking --user-data-dir='" + profile +
      "' --virtual-time-budget=4000 --window-size=1600,1100 " + mode + " '" + url + "' > '" + out +
      "' 2>> '" + dir + "/chromium.log'";
  Process p = Process::spawn({"/bin/sh", "-c", command}, dir + "/chromium.log");
  return p.wait(60s);
}

}  // namespace

TEST_CASE("webview: the real daemon serves a study's candidates, front and fleet over HTTP",
          "[integration][webview]") {
  Cluster c;
  const auto reply = run_distill_study(c);
  const uint64_t study = reply.study->study_id;

  auto list = json_of(http(c.http_port(), "/api/studies"));
  REQUIRE(list["studies"].size() == 1);
  CHECK(list["studies"][0]["id"] == study);
  CHECK(list["studies"][0]["state"] == "succeeded");

  const Reply detail_reply = http(c.http_port(), "/api/studies/" + std::to_string(study));
  REQUIRE(detail_reply.status == 200);
  auto d = json_of(detail_reply);
  CHECK(d["name"] == "webview-distill");
  CHECK(d["kind"] == "distill");
  CHECK(d["baseline"] == 0);
  CHECK(d["hardware_tag"] == "cpu-test");
  const auto& candidates = d["candidates"];
  REQUIRE(candidates.size() >= 2);
  CHECK(candidates[0]["baseline"] == true);
  size_t delivered = 0;
  std::vector<uint32_t> on_front;
  for (const auto& cand : candidates) {
    INFO(cand.dump());
    CHECK(cand["params"].size() == 6);
    CHECK(cand["params"].contains("hidden_size"));
    std::set<std::string> kinds;
    for (const auto& t : cand["trials"]) {
      kinds.insert(t["kind"].get<std::string>());
      CHECK(t["state"] == "completed");
      CHECK(t["started_ms"].is_number());
      CHECK(t["finished_ms"].is_number());
      if (t["kind"] == "probe") CHECK(t["worker_id"] == "probe");
      if (t["kind"] != "probe") CHECK(t["worker_id"] == "distill");
    }
    CHECK(kinds.count("probe") == 1);
    CHECK(kinds.count("flash") == 1);
    CHECK(cand["values"].contains("latency_ms"));
    CHECK(cand["values"].contains("accuracy"));
    if (kinds.count("regular")) {
      CHECK(cand["stage"] == "delivered");
      ++delivered;
    }
    if (cand["pareto"] == true) on_front.push_back(cand["candidate"]);
  }
  CHECK(delivered >= 1);
  // The same front as the client protocol's, and the history ends there.
  CHECK(on_front == front_of(reply));
  CHECK(d["front"] == front_of(reply));
  REQUIRE_FALSE(d["front_history"].empty());
  CHECK(d["front_history"].back()["front"] == front_of(reply));

  auto workers = json_of(http(c.http_port(), "/api/workers"))["workers"];
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& w : workers) by_id[w["worker_id"]] = w;
  REQUIRE(by_id.count("probe"));
  REQUIRE(by_id.count("distill"));
  CHECK(by_id["probe"]["role"] == "probe");
  CHECK(by_id["probe"]["hardware_tag"] == "cpu-test");
  CHECK(by_id["probe"]["connected"] == true);
  CHECK(by_id["distill"]["slots"] == 2);

  // The page itself: self-contained, no external fetch, with a CSP.
  const Reply page = http(c.http_port(), "/");
  CHECK(page.status == 200);
  CHECK(page.head.find("Content-Security-Policy: default-src 'none'") != std::string::npos);
  CHECK(page.body.find("<svg id=\"front\"") != std::string::npos);
  CHECK(page.body.find("http://") == page.body.find("http://www.w3.org/2000/svg"));
  CHECK(page.body.find("https://") == std::string::npos);

  // Hostile requests: each answered or closed, the daemon keeps serving.
  const int port = c.http_port();
  CHECK(http(port, "/api/studies/999").status == 404);
  CHECK(json_of(http(port, "/api/studies/999"))["error"]["field"] == "study_id");
  CHECK(http(port, "/api/studies/1%00").status == 400);
  CHECK(http(port, "/api/nope").status == 404);
  CHECK(raw_request(port, "POST /api/studies HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0) == 0);
  CHECK(raw_request(port, "DELETE /api/studies/1 HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0) == 0);
  CHECK(raw_request(port, "GET api/studies HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  const std::string garbage("\x00\x01\xff garbage\r\n\r\n", 15);
  CHECK(raw_request(port, garbage).rfind("HTTP/1.1 405", 0) == 0);
  CHECK(raw_request(port, "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n")
            .rfind("HTTP/1.1 400", 0) == 0);
  CHECK(raw_request(port, "GET / HTTP/1.1\r\n").rfind("HTTP/1.1 400", 0) == 0);  // cut short
  CHECK(http(port, "/healthz").status == 200);
  CHECK(http(port, "/api/studies/" + std::to_string(study)).status == 200);
  CHECK(c.daemon().running());
}

TEST_CASE("webview: with web_token_file every request carries the token",
          "[integration][webview]") {
  TempDir dir;
  const std::string token_file = dir.path() + "/web.token";
  const std::string token = "0123456789abcdef0123456789abcdef";
  std::ofstream(token_file) << token << "\n";
  REQUIRE(::chmod(token_file.c_str(), 0600) == 0);
  const std::string conf = dir.path() + "/autodistilld.conf";
  std::ofstream(conf) << "web_token_file = " << token_file << "\n";
  Cluster c({"--config", conf});
  const int port = c.http_port();

  const Reply none = http(port, "/api/studies");
  CHECK(none.status == 401);
  CHECK(json_of(none)["error"]["field"] == "token");
  CHECK(http(port, "/").status == 401);
  CHECK(http(port, "/api/studies", "Authorization: Bearer " + token + "\r\n").status == 200);
  CHECK(http(port, "/api/studies", "authorization:   Bearer " + token + "\r\n").status == 200);
  CHECK(http(port, "/api/studies", "Authorization: Bearer x" + token + "\r\n").status == 401);
  CHECK(http(port, "/?token=" + token).status == 200);
  CHECK(http(port, "/?token=" + token.substr(0, 31)).status == 401);
  CHECK(http(port, "/metrics").status == 200);  // not the view's: served as before
  CHECK(http(port, "/healthz").status == 200);

  // SIGHUP re-reads the token file: the old token stops working.
  const std::string next = "fedcba9876543210fedcba9876543210";
  std::ofstream(token_file, std::ios::trunc) << next << "\n";
  Process reload = Process::spawn(
      {AUTODISTILLD_PATH, "--data_dir", c.data_dir(), "--reload", std::to_string(c.daemon().pid())},
      c.path("reload.log"));
  CHECK(reload.wait(10s) == 0);
  CHECK(http(port, "/api/studies", "Authorization: Bearer " + token + "\r\n").status == 401);
  CHECK(http(port, "/api/studies", "Authorization: Bearer " + next + "\r\n").status == 200);

  // A token file others can read is refused at reload; the daemon keeps the token it has.
  REQUIRE(::chmod(token_file.c_str(), 0644) == 0);
  Process refused = Process::spawn(
      {AUTODISTILLD_PATH, "--data_dir", c.data_dir(), "--reload", std::to_string(c.daemon().pid())},
      c.path("reload-refused.log"));
  CHECK(refused.wait(10s) == 1);
  CHECK(read_file(c.path("reload-refused.log")).find("web_token_file") != std::string::npos);
  CHECK(http(port, "/api/studies", "Authorization: Bearer " + next + "\r\n").status == 200);
}

TEST_CASE("webview: under CURVE the view is off until a token is configured",
          "[integration][webview]") {
  TempDir dir;
  for (const char* name : {"server", "worker", "admin"}) {
    auto keys = wire::generate_curve_keypair();
    REQUIRE(keys);
    REQUIRE(wire::write_curve_key_files(dir.path(), name, keys.value()));
  }
  auto pub = [&](const std::string& name) {
    return wire::read_curve_key_file(dir.path() + "/" + name + ".key", false)->public_key;
  };
  std::ofstream(dir.path() + "/workers.allow") << pub("worker") << "\n";
  std::ofstream(dir.path() + "/clients.allow") << pub("admin") << " admin\n";
  const std::string conf = dir.path() + "/autodistilld.conf";
  std::ofstream(conf) << "curve_secret_key_file = " << dir.path() << "/server.secret\n"
                      << "worker_keys_file = " << dir.path() << "/workers.allow\n"
                      << "client_keys_file = " << dir.path() << "/clients.allow\n";
  Cluster c(
      {"--config", conf},
      wire::load_client_keys(dir.path() + "/server.key", dir.path() + "/admin.secret").value());
  const int port = c.http_port();

  // The client endpoint needs a key, so the view (no token) is off, even on loopback.
  const Reply off = http(port, "/api/studies");
  CHECK(off.status == 403);
  CHECK(json_of(off)["error"]["field"] == "web_token_file");
  CHECK(http(port, "/").status == 403);
  CHECK(http(port, "/metrics").status == 200);
  CHECK(read_file(c.path("daemon.log")).find("web view off") != std::string::npos);

  // A token added by SIGHUP turns it on, behind the token.
  const std::string token_file = dir.path() + "/web.token";
  const std::string token = "0123456789abcdef0123456789abcdef";
  std::ofstream(token_file) << token << "\n";
  REQUIRE(::chmod(token_file.c_str(), 0600) == 0);
  std::ofstream(conf, std::ios::app) << "web_token_file = " << token_file << "\n";
  Process reload = Process::spawn(
      {AUTODISTILLD_PATH, "--data_dir", c.data_dir(), "--reload", std::to_string(c.daemon().pid())},
      c.path("reload.log"));
  CHECK(reload.wait(10s) == 0);
  CHECK(http(port, "/api/studies").status == 401);
  CHECK(http(port, "/api/studies", "Authorization: Bearer " + token + "\r\n").status == 200);
}

TEST_CASE("webview: headless Chromium renders the studies, candidates, front and fleet",
          "[webview][browser]") {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    // ctest reports this test as skipped (SKIP_REGULAR_EXPRESSION), not passed.
    std::cout << "WEBVIEW-SKIP: chromium is not installed (apt-get install chromium, or set "
                 "AUTODISTILL_CHROMIUM)"
              << std::endl;
    return;
  }
  Cluster c;
  const auto reply = run_distill_study(c);
  const uint64_t study = reply.study->study_id;
  auto d = json_of(http(c.http_port(), "/api/studies/" + std::to_string(study)));
  const size_t candidates = d["candidates"].size();
  const size_t front = d["front"].size();
  REQUIRE(candidates >= 2);

  const std::string artifacts = WEBVIEW_ARTIFACTS_DIR;
  std::filesystem::create_directories(artifacts);
  const std::string url = "http://127.0.0.1:" + std::to_string(c.http_port()) + "/";
  const std::string dom_path = artifacts + "/webview-dom.html";
  const int dumped = run_chromium(chromium, c.path(""), url, "--dump-dom", dom_path);
  INFO("chromium's log: " << read_file(c.path("chromium.log")));
  REQUIRE(dumped == 0);
  const std::string dom = read_file(dom_path);
  INFO("the DOM after the page's JS ran:\n" << dom);
  // The studies list, the study's title, no error shown.
  CHECK(dom.find("data-study-id=\"" + std::to_string(study) + "\"") != std::string::npos);
  CHECK(dom.find("webview-distill") != std::string::npos);
  CHECK(dom.find("<span id=\"error\" role=\"alert\"></span>") != std::string::npos);
  // One row per candidate, the front's rows marked, the baseline tagged.
  CHECK(count(dom, "<tr class=\"candidate") == candidates);
  CHECK(count(dom, "<tr class=\"candidate on-front\"") == front);
  CHECK(dom.find("tag baseline") != std::string::npos);
  CHECK(dom.find("data-kind=\"probe\"") != std::string::npos);
  CHECK(dom.find("data-kind=\"regular\"") != std::string::npos);
  // The chart: every candidate a point (the baseline a diamond), the front line.
  CHECK(dom.find("<svg id=\"front\"") != std::string::npos);
  CHECK(count(dom, "<circle class=\"point") + count(dom, "class=\"baseline-point") == candidates);
  CHECK(dom.find("class=\"front-line\"") != std::string::npos);
  CHECK(dom.find("baseline-label") != std::string::npos);
  // The fleet.
  CHECK(dom.find("data-worker-id=\"probe\"") != std::string::npos);
  CHECK(dom.find("data-worker-id=\"distill\"") != std::string::npos);

  const std::string png = artifacts + "/webview.png";
  std::filesystem::remove(png);
  REQUIRE(run_chromium(chromium, c.path(""), url, "--screenshot='" + png + "'",
                       c.path("screenshot.out")) == 0);
  const std::string bytes = read_file(png);
  CHECK(bytes.size() > 20000);  // a rendered page, not a blank one
  CHECK(bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
}

TEST_CASE("webview: in Chromium the page carries a token given in its address",
          "[webview][browser]") {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    std::cout << "WEBVIEW-SKIP: chromium is not installed (apt-get install chromium, or set "
                 "AUTODISTILL_CHROMIUM)"
              << std::endl;
    return;
  }
  TempDir dir;
  const std::string token_file = dir.path() + "/web.token";
  const std::string token = "0123456789abcdef0123456789abcdef";
  std::ofstream(token_file) << token << "\n";
  REQUIRE(::chmod(token_file.c_str(), 0600) == 0);
  Cluster c({"--web_token_file", token_file});
  const uint64_t study = c.submit(external_spec(3, 1));
  c.start_worker("ext", "external", {"--study", std::to_string(study), "--builtin", "quadratic"});
  c.wait_state(study, wire::StudyState::Succeeded);
  const std::string base = "http://127.0.0.1:" + std::to_string(c.http_port()) + "/";

  // The page drops ?token= from its address before its first fetch, so the
  // data can only have come with the Authorization header.
  const std::string with_token = c.path("with-token.html");
  REQUIRE(run_chromium(chromium, c.path(""), base + "?token=" + token, "--dump-dom", with_token) ==
          0);
  const std::string dom = read_file(with_token);
  INFO("the DOM with the token:\n" << dom);
  CHECK(dom.find("data-study-id=\"" + std::to_string(study) + "\"") != std::string::npos);
  CHECK(count(dom, "<tr class=\"candidate") == 3);
  CHECK(dom.find("<span id=\"error\" role=\"alert\"></span>") != std::string::npos);

  // Without it the page itself is refused: Chromium shows the 401's JSON, no data.
  const std::string without = c.path("without-token.html");
  REQUIRE(run_chromium(chromium, c.path(""), base, "--dump-dom", without) == 0);
  const std::string refused = read_file(without);
  INFO("the DOM without the token:\n" << refused);
  CHECK(refused.find("data-study-id") == std::string::npos);
  CHECK(refused.find("needs its token") != std::string::npos);
}
