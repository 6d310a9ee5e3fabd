#include "table1_measured.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "autodistill/bo/space.hpp"

namespace autodistill::bo::measured {
namespace {

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

Status bad(const std::string& message, size_t line) {
  return Status(Code::kInvalidArgument, message, "line " + std::to_string(line));
}

bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(out);
}

}  // namespace

double LatencyTable::at(const Point& p) const {
  const auto it = latency_ms.find(p);
  return it == latency_ms.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

std::string default_latency_csv() {
  return std::string(AUTODISTILL_BO_BENCH_DATA) + "/table1_latency_cpu.csv";
}

Result<LatencyTable> load_latency_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kNotFound, "cannot read " + path, "--latency-csv");
  static const std::vector<std::string> kFactors = {"num_blocks",        "hidden_size",
                                                    "bottleneck_size",   "num_heads",
                                                    "intermediate_size", "num_stacked_ffn"};
  LatencyTable table;
  std::map<std::string, size_t> column;
  size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    if (line.front() == '#') {
      table.header.push_back(line.substr(1));
      continue;
    }
    const std::vector<std::string> cells = split_csv(line);
    if (column.empty()) {
      for (size_t i = 0; i < cells.size(); ++i) column[cells[i]] = i;
      for (const auto& name : kFactors) {
        if (!column.count(name)) return bad("no column \"" + name + "\"", number);
      }
      for (const char* name : {"latency_ms", "hardware_fingerprint", "error"}) {
        if (!column.count(name)) return bad(std::string("no column \"") + name + "\"", number);
      }
      continue;
    }
    if (cells.size() != column.size()) return bad("wrong number of cells", number);
    if (!cells[column["error"]].empty()) {
      return bad("the probe failed on this point: " + cells[column["error"]], number);
    }
    Point p;
    for (const auto& name : kFactors) {
      double v = 0;
      if (!parse_number(cells[column[name]], v)) return bad("bad " + name, number);
      p.push_back(v);
    }
    double latency = 0;
    if (!parse_number(cells[column["latency_ms"]], latency) || latency <= 0) {
      return bad("bad latency_ms", number);
    }
    if (table.num_blocks == 0) {
      table.num_blocks = static_cast<int>(p[0]);
      table.hardware_fingerprint = cells[column["hardware_fingerprint"]];
    }
    if (p[0] != table.num_blocks) return bad("a second num_blocks value", number);
    if (cells[column["hardware_fingerprint"]] != table.hardware_fingerprint) {
      return bad("a second hardware fingerprint", number);
    }
    table.latency_ms[p] = latency;
  }
  if (table.num_blocks <= 0) return bad("no measurements", number);
  const auto space = Space::build(table.space());
  if (!space) return space.status();
  size_t missing = 0, points = 0;
  space->for_each([&](const Point& p) {
    ++points;
    missing += table.latency_ms.count(p) ? 0 : 1;
    return true;
  });
  if (missing > 0 || table.latency_ms.size() != points) {
    return bad(path + " does not cover the Table 1 space exactly (" + std::to_string(missing) +
                   " of its points missing)",
               number);
  }
  return table;
}

}  // namespace autodistill::bo::measured
