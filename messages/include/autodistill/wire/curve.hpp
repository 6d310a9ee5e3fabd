#pragma once
// ZeroMQ CURVE keys for autodistill: generation, key files and allow-lists.
// Shared by the daemon (server key, allow-lists), the client and the workers.
//
// A key file holds `public = <Z85>` and, for a secret key file, also
// `secret = <Z85>` (40 Z85 characters each; lines starting with `#` are
// comments — Z85 itself contains '#'). A secret key file must not be
// readable by group or others. An allow-list holds one public key per line,
// optionally followed by `admin` and a comment word starting with `#`:
//
//   rN6k...x3/h  admin   # release pipeline
//   Q1w9...0pzK          # build host 7

#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::wire {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters; empty in a public key file
};

struct AllowedKey {
  std::string public_key;
  bool admin = false;
  std::string comment;
};

// A fresh key pair (zmq_curve_keypair). kUnavailable when libzmq lacks CURVE.
autodistill::Result<CurveKeyPair> generate_curve_keypair();

// Writes `<dir>/<name>.key` (public, 0644) and `<dir>/<name>.secret`
// (public + secret, 0600); refuses to overwrite existing files.
Status write_curve_key_files(const std::string& dir, const std::string& name,
                             const CurveKeyPair& keys);

// Reads a key file. With `need_secret`, the file must hold a secret key and
// must not be group/world readable (kFailedPrecondition naming the path).
autodistill::Result<CurveKeyPair> read_curve_key_file(const std::string& path, bool need_secret);

// Reads an allow-list; kInvalidArgument naming "path:line" for a bad key.
autodistill::Result<std::vector<AllowedKey>> read_allow_list(const std::string& path);

bool is_z85_key(const std::string& key);

// What a client or worker needs to talk CURVE to the daemon.
struct CurveClientKeys {
  std::string server_public_key;  // the daemon's public key (Z85); empty = no CURVE
  std::string public_key;         // this peer's key pair (Z85)
  std::string secret_key;
  bool enabled() const { return !server_public_key.empty(); }
};

// Loads the daemon's public key file and this peer's secret key file (both
// given, or both empty for no CURVE).
autodistill::Result<CurveClientKeys> load_client_keys(const std::string& server_key_file,
                                                      const std::string& key_file);

// Sets the CURVE client options on a libzmq socket handle (before connect);
// does nothing when `keys` is not enabled.
Status apply_curve_client(void* socket, const CurveClientKeys& keys);

}  // namespace autodistill::wire
