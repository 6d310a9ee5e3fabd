#include "autodistill/wire/curve.hpp"

#include <sys/stat.h>
#include <zmq.h>

#include <fstream>
#include <sstream>

namespace autodistill::wire {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

Status write_file(const std::string& path, const std::string& text, mode_t mode) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    return Status(Code::kAlreadyExists, path + " exists; not overwriting a key", "out");
  }
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status(Code::kInternal, "cannot write " + path, "out");
  ::chmod(path.c_str(), mode);  // before the key is written
  out << text;
  out.close();
  if (!out) return Status(Code::kInternal, "write error on " + path, "out");
  return Status::ok();
}

}  // namespace

bool is_z85_key(const std::string& key) {
  if (key.size() != 40) return false;
  static const std::string kZ85 =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  return key.find_first_not_of(kZ85) == std::string::npos;
}

autodistill::Result<CurveKeyPair> generate_curve_keypair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status(Code::kUnavailable, "this libzmq was built without CURVE support");
  }
  return CurveKeyPair{pub, sec};
}

Status write_curve_key_files(const std::string& dir, const std::string& name,
                             const CurveKeyPair& keys) {
  const std::string base = dir + "/" + name;
  const std::string header = "# autodistill CURVE key \"" + name + "\"\n";
  if (Status s = write_file(
          base + ".secret",
          header + "public = " + keys.public_key + "\nsecret = " + keys.secret_key + "\n", 0600);
      !s) {
    return s;
  }
  return write_file(base + ".key", header + "public = " + keys.public_key + "\n", 0644);
}

autodistill::Result<CurveKeyPair> read_curve_key_file(const std::string& path, bool need_secret) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status(Code::kNotFound, "no key file " + path, path);
  }
  if (need_secret && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    std::ostringstream mode;
    mode << std::oct << (st.st_mode & 0777);
    return Status(Code::kFailedPrecondition,
                  "secret key file " + path + " has permissions 0" + mode.str() +
                      "; it must not be readable by group or others (chmod 600)",
                  path);
  }
  std::ifstream in(path);
  CurveKeyPair keys;
  std::string line;
  while (std::getline(in, line)) {
    // `#` starts a comment only at the start of a line: Z85 keys contain '#'.
    if (trim(line).rfind('#', 0) == 0) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "public") keys.public_key = value;
    if (key == "secret") keys.secret_key = value;
  }
  if (!is_z85_key(keys.public_key)) {
    return Status(Code::kInvalidArgument, path + " holds no valid public key", path);
  }
  if (need_secret && !is_z85_key(keys.secret_key)) {
    return Status(Code::kInvalidArgument, path + " holds no valid secret key", path);
  }
  return keys;
}

autodistill::Result<std::vector<AllowedKey>> read_allow_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kNotFound, "cannot read allow-list " + path, path);
  std::vector<AllowedKey> keys;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    AllowedKey k;
    std::istringstream words(line);
    std::string word;
    // The key is the first word (Z85 keys may contain '#'); a comment is a
    // line or a later word that starts with '#'.
    if (!(words >> k.public_key)) continue;
    if (k.public_key[0] == '#' && !is_z85_key(k.public_key)) continue;  // a comment line
    while (words >> word) {
      if (word[0] == '#') {
        std::getline(words, k.comment);
        k.comment = trim(word.substr(1) + k.comment);
        break;
      }
      if (word != "admin") {
        return Status(Code::kInvalidArgument,
                      path + ":" + std::to_string(number) + ": unknown word \"" + word + "\"",
                      path + ":" + std::to_string(number));
      }
      k.admin = true;
    }
    if (!is_z85_key(k.public_key)) {
      return Status(Code::kInvalidArgument,
                    path + ":" + std::to_string(number) + ": not a 40-character Z85 public key",
                    path + ":" + std::to_string(number));
    }
    keys.push_back(std::move(k));
  }
  return keys;
}

autodistill::Result<CurveClientKeys> load_client_keys(const std::string& server_key_file,
                                                      const std::string& key_file) {
  CurveClientKeys keys;
  if (server_key_file.empty() && key_file.empty()) return keys;
  if (server_key_file.empty() || key_file.empty()) {
    return Status(Code::kInvalidArgument,
                  "CURVE needs both the daemon's public key file and this peer's secret key file",
                  server_key_file.empty() ? "server_key" : "key_file");
  }
  auto server = read_curve_key_file(server_key_file, false);
  if (!server) return server.status();
  auto mine = read_curve_key_file(key_file, true);
  if (!mine) return mine.status();
  keys.server_public_key = server->public_key;
  keys.public_key = mine->public_key;
  keys.secret_key = mine->secret_key;
  return keys;
}

Status apply_curve_client(void* socket, const CurveClientKeys& keys) {
  if (!keys.enabled()) return Status::ok();
  if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, keys.server_public_key.c_str(), 41) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, keys.public_key.c_str(), 41) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, keys.secret_key.c_str(), 41) != 0) {
    return Status(Code::kInvalidArgument,
                  std::string("cannot set CURVE keys: ") + zmq_strerror(zmq_errno()), "key_file");
  }
  return Status::ok();
}

}  // namespace autodistill::wire
