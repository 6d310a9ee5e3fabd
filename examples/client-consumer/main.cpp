// client-consumer SPEC.json [ENDPOINT]
//
// Submits a study spec to autodistilld and prints the study id: the
// smallest program a release pipeline would write against the installed
// client library. Exit codes: 0 ok, 2 usage, 3 rejected spec, 1 otherwise.

#include <autodistill/client.hpp>
#include <autodistill/study_json.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: client-consumer SPEC.json [ENDPOINT]\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();

  auto spec = autodistill::parse_study_spec(text.str());
  if (!spec) {
    std::cerr << spec.status().to_string() << "\n";
    return 3;
  }
  autodistill::ClientOptions options;
  if (argc == 3) options.endpoint = argv[2];
  autodistill::Client client(options);
  auto submitted = client.submit(*spec, "client-consumer:" + spec->name);
  if (!submitted) {
    std::cerr << submitted.status().to_string() << "\n";
    return submitted.status().code() == autodistill::Code::kInvalidArgument ? 3 : 1;
  }
  std::cout << submitted->study.study_id << "\n";
  return 0;
}
