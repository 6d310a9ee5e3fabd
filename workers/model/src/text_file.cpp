#include "text_file.hpp"

#include <fstream>
#include <sstream>

namespace autodistill::model {

Result<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, path.string() + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return Status(Code::kInternal, path.string() + ": cannot write");
  return Status::ok();
}

}  // namespace autodistill::model
