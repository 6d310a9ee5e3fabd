// pareto_svg(): the accuracy-vs-latency plot of a study report, written as
// plain SVG text (no fonts, scripts or external references).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>

#include "autodistill/report.hpp"

namespace autodistill {

namespace {

constexpr double kWidth = 900, kHeight = 480;
constexpr double kLeft = 80, kRight = 210, kTop = 40, kBottom = 60;

std::string num(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", v);
  return text;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

// An axis range padded by 5 % (or ±1 around a single value).
std::pair<double, double> range_of(std::vector<double> values) {
  if (values.empty()) return {0, 1};
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  double a = *lo, b = *hi;
  const double pad = b > a ? (b - a) * 0.05 : (a != 0 ? std::abs(a) * 0.05 : 1);
  return {a - pad, b + pad};
}

// About five round tick values in [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * magnitude) {
      step = m * magnitude;
      break;
    }
  }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9 && out.size() < 20;
       t += step) {
    out.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
  }
  return out;
}

std::string tick_label(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

}  // namespace

std::string pareto_svg(const StudyReport& report) {
  std::vector<const CandidateReport*> points;
  std::vector<double> xs, ys;
  for (const CandidateReport& c : report.candidates) {
    if (!c.latency_ms || !c.flash_accuracy) continue;
    points.push_back(&c);
    xs.push_back(*c.latency_ms);
    ys.push_back(*c.flash_accuracy);
  }
  // Plain variables, not structured bindings: lambdas below capture them
  // (clang before 16 refuses to capture a binding).
  const std::pair<double, double> xr = range_of(xs), yr = range_of(ys);
  const double x0 = xr.first, x1 = xr.second, y0 = yr.first, y1 = yr.second;
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - y0) / (y1 - y0) * ph; };

  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" viewBox=\"0 0 " << kWidth << " " << kHeight
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"" << kLeft + pw / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">"
      << "Study " << report.study.study_id
      << escape(report.study.spec.name.empty() ? "" : " (" + report.study.spec.name + ")")
      << ": flash accuracy vs measured latency</text>\n";
  // Axes, grid and ticks.
  svg << "<g stroke=\"#ddd\">\n";
  for (double t : ticks(x0, x1)) {
    svg << "<line x1=\"" << num(px(t)) << "\" y1=\"" << kTop << "\" x2=\"" << num(px(t))
        << "\" y2=\"" << kTop + ph << "\"/>\n";
  }
  for (double t : ticks(y0, y1)) {
    svg << "<line x1=\"" << kLeft << "\" y1=\"" << num(py(t)) << "\" x2=\"" << kLeft + pw
        << "\" y2=\"" << num(py(t)) << "\"/>\n";
  }
  svg << "</g>\n<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << pw << "\" height=\""
      << ph << "\" fill=\"none\" stroke=\"black\"/>\n";
  for (double t : ticks(x0, x1)) {
    svg << "<text x=\"" << num(px(t)) << "\" y=\"" << kTop + ph + 18 << "\" text-anchor=\"middle\">"
        << tick_label(t) << "</text>\n";
  }
  for (double t : ticks(y0, y1)) {
    svg << "<text x=\"" << kLeft - 8 << "\" y=\"" << num(py(t) + 4) << "\" text-anchor=\"end\">"
        << tick_label(t) << "</text>\n";
  }
  svg << "<text x=\"" << kLeft + pw / 2 << "\" y=\"" << kHeight - 18
      << "\" text-anchor=\"middle\">measured latency (ms)</text>\n"
      << "<text transform=\"translate(20," << kTop + ph / 2
      << ") rotate(-90)\" text-anchor=\"middle\">flash MLM accuracy</text>\n";
  // The Pareto front as a step line, by increasing latency.
  std::vector<const CandidateReport*> front;
  for (const CandidateReport* c : points) {
    if (c->on_front) front.push_back(c);
  }
  std::sort(front.begin(), front.end(),
            [](const auto* a, const auto* b) { return *a->latency_ms < *b->latency_ms; });
  if (!front.empty()) {
    svg << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
    for (size_t i = 0; i < front.size(); ++i) {
      if (i > 0) {
        svg << num(px(*front[i]->latency_ms)) << "," << num(py(*front[i - 1]->flash_accuracy))
            << " ";
      }
      svg << num(px(*front[i]->latency_ms)) << "," << num(py(*front[i]->flash_accuracy)) << " ";
    }
    svg << "\"/>\n";
  }
  // Every candidate; front points filled, chosen ones ringed, baseline a diamond.
  for (const CandidateReport* c : points) {
    const double x = px(*c->latency_ms), y = py(*c->flash_accuracy);
    svg << "<g><title>candidate " << c->candidate << ": " << escape(architecture_label(c->params))
        << ", " << tick_label(*c->latency_ms) << " ms, accuracy " << tick_label(*c->flash_accuracy)
        << "</title>";
    if (c->baseline) {
      svg << "<polygon points=\"" << num(x) << "," << num(y - 8) << " " << num(x + 8) << ","
          << num(y) << " " << num(x) << "," << num(y + 8) << " " << num(x - 8) << "," << num(y)
          << "\" fill=\"#d62728\"/>"
          << "<text x=\"" << num(x + 10) << "\" y=\"" << num(y - 8)
          << "\" fill=\"#d62728\">baseline</text>";
    } else {
      svg << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"4\" fill=\""
          << (c->on_front ? "#1f77b4" : "#bbb") << "\"/>";
    }
    if (c->chosen) {
      svg << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y)
          << "\" r=\"8\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\"/>";
    }
    svg << "</g>\n";
  }
  // Legend, right of the plot so it never hides a point.
  const double lx = kLeft + pw + 15, ly = kTop;
  svg << "<g font-size=\"11\"><rect x=\"" << lx << "\" y=\"" << ly
      << "\" width=\"180\" height=\"68\" fill=\"white\" stroke=\"#999\"/>"
      << "<circle cx=\"" << lx + 12 << "\" cy=\"" << ly + 13 << "\" r=\"4\" fill=\"#bbb\"/>"
      << "<text x=\"" << lx + 24 << "\" y=\"" << ly + 17 << "\">evaluated candidate</text>"
      << "<circle cx=\"" << lx + 12 << "\" cy=\"" << ly + 27 << "\" r=\"4\" fill=\"#1f77b4\"/>"
      << "<text x=\"" << lx + 24 << "\" y=\"" << ly + 31 << "\">Pareto front</text>"
      << "<circle cx=\"" << lx + 12 << "\" cy=\"" << ly + 41
      << "\" r=\"7\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\"/>"
      << "<text x=\"" << lx + 24 << "\" y=\"" << ly + 45 << "\">regularly distilled</text>"
      << "<polygon points=\"" << lx + 12 << "," << ly + 50 << " " << lx + 18 << "," << ly + 56
      << " " << lx + 12 << "," << ly + 62 << " " << lx + 6 << "," << ly + 56
      << "\" fill=\"#d62728\"/>"
      << "<text x=\"" << lx + 24 << "\" y=\"" << ly + 59 << "\">baseline</text></g>\n";
  if (points.empty()) {
    svg << "<text x=\"" << kLeft + pw / 2 << "\" y=\"" << kTop + ph / 2
        << "\" text-anchor=\"middle\">no candidate has both measurements yet</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace autodistill
