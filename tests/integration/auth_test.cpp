// CURVE authentication end to end: keys made by `autodistill keygen`, the
// daemon's ZAP handler and allow-lists, per-key study ownership, revocation
// on reload, and the refusal to bind a public address without keys.
#include <sys/stat.h>

#include <fstream>

#include "autodistill/wire/curve.hpp"
#include "cluster.hpp"

using namespace autodistill;
using namespace autodistill::testing;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Runs the CLI; returns its exit code, stdout+stderr in *out.
int cli(const std::vector<std::string>& args, const std::string& log, std::string* out = nullptr) {
  std::vector<std::string> argv = {AUTODISTILL_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  std::remove(log.c_str());
  Process p = Process::spawn(argv, log);
  int code = p.wait(30s);
  if (out) *out = slurp(log);
  return code;
}

struct Keys {
  explicit Keys(const std::string& dir) : dir(dir) {
    for (const char* name : {"server", "worker", "alice", "bob", "admin", "mallory"}) {
      REQUIRE(cli({"keygen", "--out", dir, "--name", name}, dir + "/keygen.log") == 0);
    }
  }
  std::string pub(const std::string& name) const {
    return wire::read_curve_key_file(dir + "/" + name + ".key", false)->public_key;
  }
  wire::CurveClientKeys client(const std::string& name) const {
    return wire::load_client_keys(dir + "/server.key", dir + "/" + name + ".secret").value();
  }
  std::vector<std::string> cli_flags(const std::string& name) const {
    return {"--server-key", dir + "/server.key", "--key-file", dir + "/" + name + ".secret"};
  }
  std::string dir;
};

}  // namespace

TEST_CASE("auth: CURVE keys, allow-lists and study ownership", "[integration][auth]") {
  testing::TempDir dir;
  Keys keys(dir.path());
  // keygen wrote a private secret file and a public key file.
  struct stat st;
  REQUIRE(::stat((dir.path() + "/alice.secret").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  const std::string workers = dir.path() + "/workers.allow";
  const std::string clients = dir.path() + "/clients.allow";
  std::ofstream(workers) << keys.pub("worker") << "  # build host\n";
  std::ofstream(clients) << keys.pub("alice") << "\n"
                         << keys.pub("bob") << "\n"
                         << keys.pub("admin") << " admin  # release manager\n";
  Cluster c({"--curve_secret_key_file", dir.path() + "/server.secret", "--worker_keys_file",
             workers, "--client_keys_file", clients},
            keys.client("admin"));
  const std::string endpoint = c.client_endpoint();
  auto as = [&](const std::string& who, std::vector<std::string> args) {
    std::vector<std::string> all = {"--endpoint", endpoint, "--timeout-ms", "1500"};
    auto flags = keys.cli_flags(who);
    all.insert(all.end(), flags.begin(), flags.end());
    all.insert(all.end(), args.begin(), args.end());
    return all;
  };

  // Alice submits; the spec file is the client example's.
  std::string out;
  REQUIRE(cli(as("alice", {"--json", "submit", "--spec",
                           std::string(AUTODISTILL_EXAMPLES_DIR) + "/external-study.json", "--key",
                           "alice-1"}),
              c.path("alice.log"), &out) == 0);
  const auto at = out.find("\"study_id\":");
  REQUIRE(at != std::string::npos);
  const std::string id = std::to_string(std::stoull(out.substr(at + 11)));

  // Bob neither sees nor cancels it; the admin sees it.
  CHECK(cli(as("bob", {"get", id}), c.path("bob-get.log"), &out) == 4);
  CHECK(cli(as("bob", {"cancel", id}), c.path("bob-cancel.log")) == 4);
  CHECK(cli(as("bob", {"--json", "list"}), c.path("bob-list.log"), &out) == 0);
  CHECK(out.find("\"study_id\":" + id) == std::string::npos);
  CHECK(cli(as("admin", {"get", id}), c.path("admin-get.log")) == 0);
  CHECK(cli(as("alice", {"get", id}), c.path("alice-get.log")) == 0);

  // A key on no list gets no answer at all, and the daemon logs it.
  CHECK(cli(as("mallory", {"list"}), c.path("mallory.log")) == 5);
  CHECK(slurp(c.path("daemon.log")).find("is not on the allow-list") != std::string::npos);
  // A client key is not a worker key.
  WirePeer rogue(c.context(), c.worker_endpoint(), keys.client("alice"));
  wire::HelloT hello;
  hello.worker_id = "rogue";
  hello.role = wire::Role::Distill;
  CHECK_FALSE(rogue.call(std::move(hello), 1500ms).has_value());

  // A worker with its key evaluates Alice's study to the end.
  auto worker_flags = keys.cli_flags("worker");
  std::vector<std::string> wargs = {"--study", id, "--builtin", "quadratic", "--slots", "4"};
  wargs.insert(wargs.end(), worker_flags.begin(), worker_flags.end());
  c.start_worker("w", "external", wargs);
  c.wait_state(std::stoull(id), wire::StudyState::Succeeded);

  // Revocation: Bob leaves the list; after a reload he is refused.
  std::ofstream(clients, std::ios::trunc) << keys.pub("alice") << "\n"
                                          << keys.pub("admin") << " admin\n";
  Process reload = Process::spawn(
      {AUTODISTILLD_PATH, "--data_dir", c.data_dir(), "--reload", std::to_string(c.daemon().pid())},
      c.path("reload.log"));
  REQUIRE(reload.wait(10s) == 0);
  CHECK(cli(as("bob", {"list"}), c.path("bob-revoked.log")) == 5);
  CHECK(cli(as("alice", {"list"}), c.path("alice-after.log")) == 0);

  // A secret key file others can read is refused before anything is sent.
  ::chmod((dir.path() + "/alice.secret").c_str(), 0644);
  CHECK(cli(as("alice", {"list"}), c.path("alice-loose.log"), &out) == 3);
  CHECK(out.find("chmod 600") != std::string::npos);
}

TEST_CASE("auth: a public endpoint without keys refuses to start", "[integration][auth]") {
  testing::TempDir dir;
  Process d =
      Process::spawn({AUTODISTILLD_PATH, "--data_dir", dir.path() + "/data", "--worker_endpoint",
                      "tcp://0.0.0.0:" + std::to_string(free_tcp_port()), "--client_endpoint",
                      loopback(free_tcp_port()), "--http_listen", ""},
                     dir.path() + "/log");
  CHECK(d.wait(10s) == 2);
  CHECK(slurp(dir.path() + "/log").find("(field: worker_endpoint)") != std::string::npos);
}
