// The GLUE TSV task reader (every GLUE layout it infers, task.json, each
// error with its file and line) and the classification scores.

#include <unistd.h>

// LibTorch's headers (glog's CHECK) before Catch's, so CHECK is Catch's.
#include "autodistill/finetune/finetuner.hpp"
#include "autodistill/finetune/glue_task.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

namespace {

using namespace autodistill;
using namespace autodistill::finetune;
namespace fs = std::filesystem;

class TaskDir {
 public:
  TaskDir() {
    std::string pattern = (fs::temp_directory_path() / "ad-glue-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TaskDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary | std::ios::trunc) << text;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

TEST_CASE("SST-2's layout: one sentence, labels sorted from the training set") {
  TaskDir dir;
  dir.write("train.tsv", "sentence\tlabel\nit is good\t1\nit is bad\t0\r\nfine\t1\n");
  dir.write("dev.tsv", "sentence\tlabel\nbad\t0\n\n");
  auto task = read_glue_task(dir.path());
  REQUIRE(task);
  CHECK(task->name == dir.path().filename().string());
  CHECK(task->labels == std::vector<std::string>({"0", "1"}));
  CHECK_FALSE(task->pair);
  REQUIRE(task->train.size() == 3);
  CHECK(task->train[0].text_a == "it is good");
  CHECK(task->train[0].label == 1);
  CHECK(task->train[1].label == 0);  // "\r\n" line endings are fine
  REQUIRE(task->dev.size() == 1);    // blank lines are skipped
}

TEST_CASE("The sentence-pair layouts of MRPC, QNLI, RTE and QQP") {
  struct Case {
    std::string header, row, other;
    std::string a, b;
  };
  const std::vector<Case> cases = {
      {"Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", "1\t7\t8\tfirst\tsecond", "0\t9\t10\tx\ty",
       "first", "second"},
      {"index\tquestion\tsentence\tlabel", "0\twho?\the did.\tentailment",
       "1\tx\ty\tnot_entailment", "who?", "he did."},
      {"index\tsentence1\tsentence2\tlabel", "0\tone\ttwo\tnot_entailment", "1\tx\ty\tentailment",
       "one", "two"},
      {"id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate", "1\t2\t3\tq one\tq two\t0",
       "2\t4\t5\tx\ty\t1", "q one", "q two"},
  };
  for (const Case& c : cases) {
    INFO(c.header);
    TaskDir dir;
    dir.write("train.tsv", c.header + "\n" + c.row + "\n" + c.other + "\n");
    dir.write("dev.tsv", c.header + "\n" + c.row + "\n");
    auto task = read_glue_task(dir.path());
    REQUIRE(task);
    CHECK(task->pair);
    CHECK(task->train[0].text_a == c.a);
    CHECK(task->train[0].text_b == c.b);
  }
}

TEST_CASE("task.json names the columns and orders the labels") {
  TaskDir dir;
  dir.write("task.json", R"({"name": "gcide-headword", "text_columns": ["question", "sentence"],
      "label_column": "label", "labels": ["not_entailment", "entailment"]})");
  dir.write("train.tsv", "index\tquestion\tsentence\tlabel\n0\tApple\tA fruit.\tentailment\n");
  dir.write("dev.tsv", "index\tquestion\tsentence\tlabel\n0\tRun\tA fruit.\tnot_entailment\n");
  auto task = read_glue_task(dir.path());
  REQUIRE(task);
  CHECK(task->name == "gcide-headword");
  CHECK(task->labels == std::vector<std::string>({"not_entailment", "entailment"}));
  CHECK(task->train[0].label == 1);  // the positive class of the binary F1
  CHECK(task->dev[0].label == 0);
}

TEST_CASE("Bad task directories are reported with the file and line at fault") {
  TaskDir dir;
  const std::string header = "sentence\tlabel\n";
  SECTION("missing dev.tsv") {
    dir.write("train.tsv", header + "a\t0\nb\t1\n");
    auto task = read_glue_task(dir.path());
    CHECK(task.status().code() == Code::kNotFound);
    CHECK(task.status().field() == "dev.tsv");
  }
  SECTION("a short row") {
    dir.write("train.tsv", header + "a\t0\nb\n");
    dir.write("dev.tsv", header + "a\t0\n");
    auto task = read_glue_task(dir.path());
    CHECK(task.status().code() == Code::kInvalidArgument);
    CHECK(task.status().field() == "train.tsv:3");
  }
  SECTION("a dev label the training set lacks") {
    dir.write("train.tsv", header + "a\t0\nb\t1\n");
    dir.write("dev.tsv", header + "a\t0\nb\t2\n");
    auto task = read_glue_task(dir.path());
    CHECK(task.status().code() == Code::kInvalidArgument);
    CHECK(task.status().field() == "dev.tsv:3");
    CHECK_THAT(task.status().message(), Catch::Contains("unknown label \"2\""));
  }
  SECTION("a header without GLUE's columns") {
    dir.write("train.tsv", "text\tclass\na\t0\n");
    dir.write("dev.tsv", "text\tclass\na\t0\n");
    auto task = read_glue_task(dir.path());
    CHECK(task.status().field() == "train.tsv:1");
    CHECK_THAT(task.status().message(), Catch::Contains("task.json"));
  }
  SECTION("one label only") {
    dir.write("train.tsv", header + "a\t0\nb\t0\n");
    dir.write("dev.tsv", header + "a\t0\n");
    CHECK(read_glue_task(dir.path()).status().field() == "labels");
  }
  SECTION("an empty split") {
    dir.write("train.tsv", header + "a\t0\nb\t1\n");
    dir.write("dev.tsv", header);
    CHECK(read_glue_task(dir.path()).status().field() == "dev.tsv");
  }
  SECTION("task.json that is not an object") {
    dir.write("task.json", "[1, 2]");
    dir.write("train.tsv", header + "a\t0\nb\t1\n");
    dir.write("dev.tsv", header + "a\t0\n");
    CHECK(read_glue_task(dir.path()).status().code() == Code::kMalformed);
  }
  SECTION("task.json naming a column the file lacks") {
    dir.write("task.json", R"({"text_columns": ["premise"], "label_column": "label"})");
    dir.write("train.tsv", header + "a\t0\nb\t1\n");
    dir.write("dev.tsv", header + "a\t0\n");
    auto task = read_glue_task(dir.path());
    CHECK(task.status().field() == "train.tsv:1");
    CHECK_THAT(task.status().message(), Catch::Contains("\"premise\""));
  }
}

TEST_CASE("Scores: accuracy, the positive class's F1 and the macro-F1 by hand") {
  // gold:      1 1 1 0 0 0 0 0
  // predicted: 1 1 0 1 0 0 0 0   -> tp 2, fp 1, fn 1 for label 1
  const Scores binary = scores({1, 1, 1, 0, 0, 0, 0, 0}, {1, 1, 0, 1, 0, 0, 0, 0}, 2);
  CHECK(binary.examples == 8);
  CHECK(binary.accuracy == Approx(6.0 / 8));
  CHECK(binary.f1 == Approx(2.0 * 2 / (3 + 3)));                   // label 1
  CHECK(binary.macro_f1 == Approx((2.0 / 3 + 2.0 * 4 / 10) / 2));  // label 0: 2*4/(5+5)
  const std::vector<std::vector<int64_t>> confusion = {{4, 1}, {1, 2}};
  CHECK(binary.confusion == confusion);

  // Always answering label 0 of three: only label 0 has an F1.
  const Scores majority = scores({0, 0, 1, 2}, {0, 0, 0, 0}, 3);
  CHECK(majority.accuracy == Approx(0.5));
  CHECK(majority.macro_f1 == Approx((2.0 * 2 / (2 + 4)) / 3));
  CHECK(majority.f1 == Approx(majority.macro_f1));  // not binary: F1 is the macro-F1
}
