#include "autodistill/finetune/glue_task.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "autodistill/bounded_json.hpp"

namespace autodistill::finetune {

namespace fs = std::filesystem;

namespace {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines;  // the file line of each row
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
    if (tab == std::string::npos) return fields;
    start = tab + 1;
  }
}

Result<Table> read_tsv(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status(Code::kNotFound, path.string() + ": cannot be read", path.filename().string());
  }
  Table table;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1) {
      table.header = split_tabs(line);
      continue;
    }
    if (line.empty()) continue;
    table.rows.push_back(split_tabs(line));
    table.lines.push_back(number);
  }
  if (number == 0) {
    return Status(Code::kInvalidArgument, path.string() + " is empty (it needs a header line)",
                  path.filename().string());
  }
  return table;
}

std::optional<size_t> column(const std::vector<std::string>& header, const std::string& name) {
  auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) return std::nullopt;
  return static_cast<size_t>(it - header.begin());
}

struct Layout {
  std::vector<std::string> text_columns;
  std::string label_column;
  std::vector<std::string> labels;  // empty: the training set's, sorted
  std::string name;
};

Result<Layout> read_layout(const fs::path& dir) {
  Layout layout;
  std::ifstream in(dir / "task.json");
  if (!in) return layout;
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = parse_json(text.str(), "task.json");
  if (!parsed) return Status(Code::kMalformed, parsed.status().message(), "task.json");
  const nlohmann::json& json = parsed.value();
  if (!json.is_object()) {
    return Status(Code::kMalformed, (dir / "task.json").string() + " is not a JSON object",
                  "task.json");
  }
  auto strings = [&](const char* key, std::vector<std::string>& out) -> Status {
    auto it = json.find(key);
    if (it == json.end()) return Status::ok();
    if (!it->is_array()) {
      return Status(Code::kInvalidArgument, std::string("task.json: ") + key + " must be a list",
                    std::string("task.json.") + key);
    }
    for (const auto& v : *it) {
      if (!v.is_string()) {
        return Status(Code::kInvalidArgument,
                      std::string("task.json: ") + key + " must hold strings",
                      std::string("task.json.") + key);
      }
      out.push_back(v.get<std::string>());
    }
    return Status::ok();
  };
  if (Status s = strings("text_columns", layout.text_columns); !s) return s;
  if (Status s = strings("labels", layout.labels); !s) return s;
  if (layout.text_columns.size() > 2) {
    return Status(Code::kInvalidArgument, "task.json: at most two text columns",
                  "task.json.text_columns");
  }
  for (const char* key : {"label_column", "name"}) {
    if (auto it = json.find(key); it != json.end()) {
      if (!it->is_string()) {
        return Status(Code::kInvalidArgument,
                      std::string("task.json: ") + key + " must be a string",
                      std::string("task.json.") + key);
      }
      (std::string(key) == "name" ? layout.name : layout.label_column) = it->get<std::string>();
    }
  }
  return layout;
}

// GLUE's header names, when task.json does not say.
Status infer_columns(const std::vector<std::string>& header, Layout& layout) {
  if (layout.label_column.empty()) {
    for (const char* name : {"label", "Quality", "gold_label", "is_duplicate"}) {
      if (column(header, name)) {
        layout.label_column = name;
        break;
      }
    }
  }
  if (layout.text_columns.empty()) {
    const std::vector<std::vector<std::string>> known = {{"sentence1", "sentence2"},
                                                         {"#1 String", "#2 String"},
                                                         {"question", "sentence"},
                                                         {"question1", "question2"},
                                                         {"sentence"}};
    for (const auto& names : known) {
      if (std::all_of(names.begin(), names.end(),
                      [&](const std::string& n) { return column(header, n).has_value(); })) {
        layout.text_columns = names;
        break;
      }
    }
  }
  if (layout.label_column.empty() || layout.text_columns.empty()) {
    return Status(Code::kInvalidArgument,
                  "train.tsv's header has no GLUE label and text columns (label/Quality/"
                  "gold_label; sentence, sentence1+sentence2, question+sentence, ...); "
                  "name them in task.json",
                  "train.tsv:1");
  }
  return Status::ok();
}

Result<std::vector<GlueExample>> examples(const Table& table, const std::string& file,
                                          const Layout& layout,
                                          const std::vector<std::string>& labels) {
  std::vector<size_t> text;
  for (const std::string& name : layout.text_columns) {
    auto c = column(table.header, name);
    if (!c) {
      return Status(Code::kInvalidArgument, file + " has no column \"" + name + "\"", file + ":1");
    }
    text.push_back(*c);
  }
  auto label = column(table.header, layout.label_column);
  if (!label) {
    return Status(Code::kInvalidArgument, file + " has no column \"" + layout.label_column + "\"",
                  file + ":1");
  }
  const size_t needed = std::max(*label, *std::max_element(text.begin(), text.end())) + 1;
  std::vector<GlueExample> out;
  for (size_t i = 0; i < table.rows.size(); ++i) {
    const auto& row = table.rows[i];
    const std::string where = file + ":" + std::to_string(table.lines[i]);
    if (row.size() < needed) {
      return Status(Code::kInvalidArgument,
                    where + " has " + std::to_string(row.size()) + " fields, " +
                        std::to_string(needed) + " needed",
                    where);
    }
    auto it = std::find(labels.begin(), labels.end(), row[*label]);
    if (it == labels.end()) {
      return Status(Code::kInvalidArgument, where + ": unknown label \"" + row[*label] + "\"",
                    where);
    }
    GlueExample e;
    e.text_a = row[text[0]];
    if (text.size() > 1) e.text_b = row[text[1]];
    e.label = static_cast<int64_t>(it - labels.begin());
    out.push_back(std::move(e));
  }
  if (out.empty()) return Status(Code::kInvalidArgument, file + " has no examples", file);
  return out;
}

}  // namespace

Result<GlueTask> read_glue_task(const fs::path& dir) {
  auto layout = read_layout(dir);
  if (!layout) return layout.status();
  auto train = read_tsv(dir / "train.tsv");
  if (!train) return train.status();
  auto dev = read_tsv(dir / "dev.tsv");
  if (!dev) return dev.status();
  if (Status s = infer_columns(train->header, *layout); !s) return s;

  GlueTask task;
  fs::path normal = fs::absolute(dir).lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();
  task.name = layout->name.empty() ? normal.filename().string() : layout->name;
  task.labels = layout->labels;
  if (task.labels.empty()) {
    auto label = column(train->header, layout->label_column);
    std::set<std::string> seen;
    for (const auto& row : train->rows) {
      if (label && *label < row.size()) seen.insert(row[*label]);
    }
    task.labels.assign(seen.begin(), seen.end());
  }
  task.pair = layout->text_columns.size() == 2;
  auto train_examples = examples(*train, "train.tsv", *layout, task.labels);
  if (!train_examples) return train_examples.status();
  auto dev_examples = examples(*dev, "dev.tsv", *layout, task.labels);
  if (!dev_examples) return dev_examples.status();
  if (task.labels.size() < 2) {
    return Status(Code::kInvalidArgument, "a task needs at least two labels", "labels");
  }
  task.train = std::move(train_examples.value());
  task.dev = std::move(dev_examples.value());
  return task;
}

}  // namespace autodistill::finetune
