#include "autodistill/landscape.hpp"

#include <map>
#include <set>
#include <sstream>

namespace autodistill {

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string number(double v) {
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

}  // namespace

std::string landscape_csv(const std::vector<TrialInfo>& trials) {
  std::vector<const TrialInfo*> probes;
  std::vector<std::string> factors;
  std::set<std::string> measured;
  for (const TrialInfo& t : trials) {
    if (t.kind != TrialKind::kProbe || t.state != TrialState::kCompleted) continue;
    if (probes.empty()) {
      for (const ParamValue& p : t.params) factors.push_back(p.name);
    }
    probes.push_back(&t);
    for (const Metric& m : t.objectives) measured.insert(m.name);
    for (const Metric& m : t.metrics) measured.insert(m.name);
  }
  std::ostringstream out;
  out << "trial_id,candidate";
  for (const std::string& f : factors) out << "," << csv_field(f);
  for (const std::string& m : measured) out << "," << csv_field(m);
  out << ",hardware_fingerprint\n";
  for (const TrialInfo* t : probes) {
    std::map<std::string, std::string> params;
    for (const ParamValue& p : t->params) {
      params[p.name] = p.category.empty() ? number(p.number) : p.category;
    }
    std::map<std::string, double> values;
    for (const Metric& m : t->metrics) values[m.name] = m.value;
    for (const Metric& m : t->objectives) values[m.name] = m.value;
    out << t->trial_id << "," << t->candidate;
    for (const std::string& f : factors) out << "," << csv_field(params[f]);
    for (const std::string& m : measured) {
      out << ",";
      if (auto it = values.find(m); it != values.end()) out << number(it->second);
    }
    out << "," << csv_field(t->hardware_fingerprint) << "\n";
  }
  return out.str();
}

}  // namespace autodistill
