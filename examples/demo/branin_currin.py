#!/usr/bin/env python3
"""Branin-Currin, a standard two-objective test problem for Bayesian
optimization (both minimized), as an autodistill --exec evaluator: reads one
trial as JSON on stdin, writes {"objectives": {...}} on stdout
(docs/worker.md). u, v in [0, 1]."""
import json
import math
import sys

trial = json.load(sys.stdin)
u = float(trial["params"]["u"])
v = float(trial["params"]["v"])

x1, x2 = 15.0 * u - 5.0, 15.0 * v
branin = ((x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5.0 / math.pi * x1 - 6.0) ** 2
          + 10.0 * (1.0 - 1.0 / (8.0 * math.pi)) * math.cos(x1) + 10.0)
factor = 1.0 - math.exp(-1.0 / (2.0 * v)) if v > 0 else 1.0
currin = factor * (2300 * u ** 3 + 1900 * u ** 2 + 2092 * u + 60) / (
    100 * u ** 3 + 500 * u ** 2 + 4 * u + 20)

json.dump({"objectives": {"branin": branin, "currin": currin},
           "metrics": {"x1": x1, "x2": x2}}, sys.stdout)
