#!/usr/bin/env python3
"""Optuna's multivariate TPE as a peer of the BO benchmark (bench/bo/bo_efficiency).

Reads a problem table written by bo_efficiency (every point of a discrete
design space with its objective values), runs one Optuna study per seed that
looks the values up in the table, and prints the table rows it evaluated, in
order, so that bo_efficiency scores every algorithm with the same code.

Table (CSV): line 1 names the columns (factors, then objectives); line 2 gives
each column's role: "categorical" or "ordinal" for a factor, "minimize" or
"maximize" for an objective; every further line is one point: the factors'
labels (numbers for ordinal factors) and the objectives' values.
Categorical factors become suggest_categorical over their labels (in order of
first appearance); ordinal factors suggest_int over the index of their sorted
values, so TPE sees their order.

Output, one line per seed:  seed S ms M rows R1 R2 ...
(M: mean milliseconds per ask/tell; Ri: the table row of trial i, 0-based,
-1 for a combination the table lacks, which the study reports as failed.)

Usage: tpe_peer.py TABLE --seeds 1,2,3 --trials 300 [--startup 10]
Needs python3-optuna (Debian; scripts/setup.sh installs it).
"""
import argparse
import csv
import sys
import time
import warnings


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("table")
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--startup", type=int, default=10)
    args = parser.parse_args()

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    with open(args.table, newline="") as f:
        reader = csv.reader(f)
        names = next(reader)
        roles = next(reader)
        rows = [r for r in reader if r]
    factors = [i for i, r in enumerate(roles) if r in ("categorical", "ordinal")]
    objectives = [i for i, r in enumerate(roles) if r in ("minimize", "maximize")]
    if len(factors) + len(objectives) != len(names):
        sys.exit("tpe_peer: unknown column role in %s" % args.table)
    choices = {}
    for i in factors:
        seen = []
        for r in rows:
            if r[i] not in seen:
                seen.append(r[i])
        if roles[i] == "ordinal":
            seen.sort(key=float)
        choices[i] = seen
    index = {tuple(r[i] for i in factors): k for k, r in enumerate(rows)}
    directions = [roles[i] for i in objectives]

    for seed in [int(s) for s in args.seeds.split(",")]:
        sampler = optuna.samplers.TPESampler(
            multivariate=True, seed=seed, n_startup_trials=args.startup)
        study = optuna.create_study(directions=directions, sampler=sampler)
        visited = []
        started = time.perf_counter()
        for _ in range(args.trials):
            trial = study.ask()
            key = []
            for i in factors:
                if roles[i] == "categorical":
                    key.append(trial.suggest_categorical(names[i], choices[i]))
                else:
                    k = trial.suggest_int(names[i], 0, len(choices[i]) - 1)
                    key.append(choices[i][k])
            row = index.get(tuple(key), -1)
            visited.append(row)
            if row < 0:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, [float(rows[row][i]) for i in objectives])
        ms = (time.perf_counter() - started) * 1000.0 / max(1, args.trials)
        print("seed %d ms %.3f rows %s" % (seed, ms, " ".join(map(str, visited))), flush=True)


if __name__ == "__main__":
    main()
