#pragma once
// A fresh directory under /tmp, removed with its contents at scope exit.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace autodistill::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "autodistill-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace autodistill::testing
