#include "autodistill/probe/landscape.hpp"

#include <cmath>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"

namespace autodistill::probe {

namespace {

using nlohmann::json;

Status invalid(std::string message, std::string field) {
  return Status(Code::kInvalidArgument, std::move(message), std::move(field));
}

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", v);
  return buffer;
}

// RFC 4180 quoting: always quoted, inner quotes doubled.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Result<DesignSpace::Factor> parse_factor(const json& f, const std::string& field) {
  if (!f.is_object()) return invalid("a factor must be an object", field);
  DesignSpace::Factor factor;
  auto name = f.find("name");
  if (name == f.end() || !name->is_string() || name->get<std::string>().empty()) {
    return invalid("a factor needs a name", field + ".name");
  }
  factor.name = name->get<std::string>();
  auto kind = f.find("kind");
  const std::string kind_name =
      kind != f.end() && kind->is_string() ? kind->get<std::string>() : "";
  if (kind_name == "ordinal") {
    auto values = f.find("values");
    if (values == f.end() || !values->is_array() || values->empty()) {
      return invalid("an ordinal factor needs a non-empty array of values", field + ".values");
    }
    if (values->size() > kMaxFactorValues) {
      return invalid("more than " + std::to_string(kMaxFactorValues) + " values",
                     field + ".values");
    }
    for (size_t i = 0; i < values->size(); ++i) {
      const json& v = (*values)[i];
      if (!v.is_number() || !std::isfinite(v.get<double>())) {
        return invalid("must be a finite number", field + ".values[" + std::to_string(i) + "]");
      }
      factor.values.push_back(v.get<double>());
    }
  } else if (kind_name == "integer") {
    auto low = f.find("low");
    auto high = f.find("high");
    if (low == f.end() || !low->is_number_integer()) {
      return invalid("an integer factor needs an integer low", field + ".low");
    }
    if (high == f.end() || !high->is_number_integer()) {
      return invalid("an integer factor needs an integer high", field + ".high");
    }
    const int64_t lo = low->get<int64_t>(), hi = high->get<int64_t>();
    if (hi < lo) return invalid("high is below low", field + ".high");
    if (static_cast<uint64_t>(hi - lo) >= kMaxFactorValues) {
      return invalid("more than " + std::to_string(kMaxFactorValues) + " values", field + ".high");
    }
    for (int64_t v = lo; v <= hi; ++v) factor.values.push_back(static_cast<double>(v));
  } else {
    return invalid("an architecture factor is ordinal or integer, not \"" + kind_name + "\"",
                   field + ".kind");
  }
  return factor;
}

}  // namespace

size_t DesignSpace::size() const {
  if (factors.empty()) return 0;
  size_t n = 1;
  for (const Factor& f : factors) n *= f.values.size();
  return n;
}

std::map<std::string, double> DesignSpace::point(size_t index) const {
  std::map<std::string, double> out;
  for (auto f = factors.rbegin(); f != factors.rend(); ++f) {
    out[f->name] = f->values[index % f->values.size()];
    index /= f->values.size();
  }
  return out;
}

Result<DesignSpace> parse_design_space(const std::string& json_text) {
  auto parsed = parse_json(json_text, "");
  if (!parsed) return parsed.status();
  const json& spec = parsed.value();
  if (!spec.is_object()) return invalid("the design space is not a JSON object", "");
  auto factors = spec.find("factors");
  if (factors == spec.end() || !factors->is_array() || factors->empty()) {
    return invalid("the design space needs a non-empty \"factors\" array", "factors");
  }
  DesignSpace space;
  std::set<std::string> names;
  double points = 1;
  for (size_t i = 0; i < factors->size(); ++i) {
    const std::string field = "factors[" + std::to_string(i) + "]";
    auto factor = parse_factor((*factors)[i], field);
    if (!factor) return factor.status();
    if (!names.insert(factor->name).second) {
      return invalid("duplicate factor \"" + factor->name + "\"", field + ".name");
    }
    points *= static_cast<double>(factor->values.size());
    if (points > static_cast<double>(kMaxLandscapePoints)) {
      return invalid("the space has more than " + std::to_string(kMaxLandscapePoints) + " points",
                     "factors");
    }
    space.factors.push_back(std::move(factor.value()));
  }
  if (auto settings = spec.find("settings"); settings != spec.end()) {
    if (!settings->is_object()) return invalid("settings must be an object", "settings");
    space.settings_json = settings->dump();
  }
  return space;
}

Status write_landscape(const DesignSpace& space, const ProbeOptions& options,
                       const ModelFactory& factory, const std::string& hardware_fingerprint,
                       std::ostream& csv, const LandscapeLog& log,
                       const std::function<bool()>& cancelled) {
  for (const auto& f : space.factors) csv << f.name << ',';
  csv << "params,flops,latency_ms,p90_ms,p99_ms,mean_ms,std_ms,min_ms,runs,median_ci_low_ms,"
         "median_ci_high_ms,converged,timed_runs,preempted_runs,attempts,peak_memory_bytes,"
         "probe_wall_ms,hardware_fingerprint,error\n";
  const size_t total = space.size();
  for (size_t i = 0; i < total; ++i) {
    if (cancelled && cancelled()) return Status(Code::kCancelled, "the export was cancelled");
    const std::map<std::string, double> factors = space.point(i);
    std::string label;
    for (const auto& f : space.factors) {
      csv << number(factors.at(f.name)) << ',';
      label += " " + f.name + "=" + number(factors.at(f.name));
    }
    auto request = parse_probe_request(factors, space.settings_json);
    Result<ProbeReport> report = request ? run_probe(request.value(), options, factory, cancelled)
                                         : Result<ProbeReport>(request.status());
    if (!report && report.status().code() == Code::kCancelled) return report.status();
    std::string outcome;
    if (report) {
      const LatencyMeasurement& l = report->latency;
      const LatencySummary& s = l.summary;
      for (double v : {static_cast<double>(report->params), report->flops, s.median, s.p90, s.p99,
                       s.mean, s.std_dev, s.min, static_cast<double>(s.runs), s.median_ci.low,
                       s.median_ci.high, l.converged ? 1.0 : 0.0, static_cast<double>(l.timed_runs),
                       static_cast<double>(l.preempted_runs), static_cast<double>(l.attempts),
                       static_cast<double>(report->peak_memory_bytes), report->wall_ms}) {
        csv << number(v) << ',';
      }
      csv << hardware_fingerprint << ",\n";
      outcome = number(s.median) + " ms";
    } else {
      csv << ",,,,,,,,,,,,,,,,," << hardware_fingerprint << ','
          << quoted(report.status().to_string()) << '\n';
      outcome = report.status().to_string();
    }
    csv.flush();
    if (!csv) return Status(Code::kInternal, "cannot write the landscape CSV");
    if (log) log(std::to_string(i + 1) + "/" + std::to_string(total) + label + ": " + outcome);
  }
  return Status::ok();
}

}  // namespace autodistill::probe
