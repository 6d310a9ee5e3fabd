#pragma once
// `autodistill distill` (the release-pipeline step: autodistill/distill.hpp)
// and `autodistill report` (a Distill study's table, report.md and
// pareto.svg: autodistill/report.hpp). docs/cli.md documents both.

#include "args.hpp"
#include "autodistill/client.hpp"

namespace autodistill::cli {

int cmd_distill(const Invocation& invocation, Client& client);
int cmd_report(const Invocation& invocation, Client& client);

}  // namespace autodistill::cli
