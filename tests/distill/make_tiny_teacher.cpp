// The ctest fixture: builds the shared tiny teacher before the tests run.

#include <cstdio>

#include "tiny_teacher.hpp"

int main() {
  std::printf("%s\n", autodistill::testing::tiny_teacher_dir().c_str());
  return 0;
}
