#include "onnx_export.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace autodistill::cli {

namespace fs = std::filesystem;

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

std::string find_onnx_exporter() {
  if (const char* env = std::getenv("AUTODISTILL_EXPORT_ONNX"); env && *env) return env;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& candidate :
         {self.parent_path() / "autodistill-export-onnx",
          self.parent_path().parent_path() / "tools" / "autodistill-export-onnx"}) {
      if (executable(candidate)) return candidate.string();
    }
  }
  return "autodistill-export-onnx";
}

Result<fs::path> export_onnx(const std::string& exporter, const fs::path& student_dir) {
  const fs::path out = student_dir / "onnx" / "model.onnx";
  const std::string command =
      shell_quote(exporter) + " " + shell_quote(student_dir.string()) + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return Status(Code::kInternal, "cannot run " + exporter);
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe))
    output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  std::error_code ec;
  if (status != 0 || !fs::is_regular_file(out, ec)) {
    if (output.size() > 2000) output = "..." + output.substr(output.size() - 2000);
    while (!output.empty() && output.back() == '\n') output.pop_back();
    return Status(Code::kInternal,
                  exporter + " " + student_dir.string() + " failed (exit " +
                      std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "): " + output,
                  "onnx");
  }
  return out;
}

}  // namespace autodistill::cli
