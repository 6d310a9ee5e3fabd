#!/usr/bin/env python3
"""Lints the code examples of README.md and docs/*.md.

  docs_lint.py SOURCE_DIR [NAME=BINARY ...]

- Every ```yaml block parses (python3-yaml).
- A GitHub Actions workflow (a mapping with `jobs:`) uses in each `${{ }}`
  expression only the contexts GitHub makes available at that key
  ("Context availability" in GitHub's workflow syntax reference: e.g. a job's
  `env:` cannot use `runner`), and never pastes a secret into a `run:`
  script (pass it through `env:`).
- A GitLab CI job's `script:` is a list of strings.
- Every command line of a project binary in a shell block (```sh, ```bash,
  or `$ ` lines of an untagged block), in a GitHub `run:` or a GitLab
  `script:` is run as `BINARY ARGS... --help` with the binaries given on the
  command line: each one's parser checks every flag before the --help at the
  end, so an unknown or misspelt flag or subcommand fails (exit 2). Shell
  variables stay as they are ("$study" is a value like any other). A `$ `
  line whose output line is a USAGE error must be refused (exit 2).
  Binaries not given (not built here) are listed and skipped.
"""

import glob
import os
import re
import shlex
import subprocess
import sys

import yaml

# Where each context may be used (GitHub Docs, "Contexts" > "Context
# availability"), for the keys these examples use.
WORKFLOW_ENV = {"github", "secrets", "inputs", "vars"}
JOB_LEVEL = {"github", "needs", "strategy", "matrix", "vars", "inputs"}
JOB_ENV = JOB_LEVEL | {"secrets"}
STEP = {"github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets",
        "steps", "inputs"}
STEP_IF = STEP - {"secrets"}
JOB_KEYS = {
    "runs-on": JOB_LEVEL, "env": JOB_ENV, "timeout-minutes": JOB_LEVEL,
    "if": {"github", "needs", "vars", "inputs"}, "name": JOB_LEVEL,
    "concurrency": JOB_LEVEL, "environment": JOB_LEVEL, "container": JOB_ENV,
    "services": JOB_ENV, "strategy": {"github", "needs", "vars", "inputs"},
    "continue-on-error": JOB_LEVEL, "defaults": JOB_LEVEL, "outputs": STEP,
}
STEP_KEYS = {"env": STEP, "run": STEP, "with": STEP, "name": STEP, "if": STEP_IF,
             "working-directory": STEP, "timeout-minutes": STEP, "continue-on-error": STEP,
             "shell": STEP}

errors = []


def error(where, message):
    errors.append("%s: %s" % (where, message))
    print("FAIL: %s: %s" % (where, message))


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def contexts(expression):
    """The context names an expression reads (`runner.temp` -> runner)."""
    names = set()
    for m in re.finditer(r"(?<![\w.'\"-])([A-Za-z_][\w-]*)\s*(\(|\.|\[)?", expression):
        name, follow = m.group(1), m.group(2)
        if follow == "(" or name in ("true", "false", "null"):
            continue  # a function call or a literal
        names.add(name)
    return names


def check_contexts(where, value, allowed):
    for text in strings_in(value):
        for expr in re.findall(r"\$\{\{(.*?)\}\}", text, re.S):
            bad = contexts(expr) - allowed
            if bad:
                error(where, "`${{%s}}` uses %s, not available here (allowed: %s)" %
                      (expr, ", ".join(sorted(bad)), ", ".join(sorted(allowed))))


def check_github(where, workflow, commands):
    check_contexts(where + " env", workflow.get("env", {}), WORKFLOW_ENV)
    for job_id, job in (workflow.get("jobs") or {}).items():
        jw = "%s jobs.%s" % (where, job_id)
        for key, allowed in JOB_KEYS.items():
            if key in job:
                check_contexts("%s.%s" % (jw, key), job[key], allowed)
        for i, step in enumerate(job.get("steps") or []):
            sw = "%s.steps[%d]" % (jw, i)
            for key, value in step.items():
                if key in STEP_KEYS:
                    check_contexts("%s.%s" % (sw, key), value, STEP_KEYS[key])
            run = step.get("run")
            if isinstance(run, str):
                if re.search(r"\$\{\{[^}]*secrets\.", run):
                    error(sw + ".run", "a secret pasted into the script; pass it via env:")
                commands.append((sw + ".run", run))


def check_gitlab(where, document, commands):
    for name, job in document.items():
        if not isinstance(job, dict) or "script" not in job:
            continue
        script = job["script"]
        if not isinstance(script, list) or not all(isinstance(s, str) for s in script):
            error("%s %s.script" % (where, name), "must be a list of strings")
            continue
        for line in script:
            commands.append(("%s %s.script" % (where, name), line))


def shell_commands(text):
    """Shell text -> logical lines (continuations joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", text)
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        if line and not line.startswith("#"):
            yield line


def invocations(line):
    """The simple commands of a shell line, as word lists."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.commenters = "#"
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return
    current = []
    for token in tokens + [";"]:
        if token and set(token) <= set("();|&<>"):
            if current:
                yield current
            current = []
            if token in (">", ">>", "<", "2>"):
                current = None  # the redirection target is no command
            continue
        if current is None:
            current = []
            continue
        if not current and (re.fullmatch(r"\w+=.*", token) or token.endswith("$")):
            if token.endswith("$"):
                continue  # "study=$" before "(": a command substitution follows
            continue
        current.append(token)


def check_command(where, words, binaries, skipped, expect=0):
    name = words[0]
    if not re.fullmatch(r"autodistill(d|-[\w-]+)?", name):
        return 0
    if name not in binaries or not os.path.exists(binaries[name]):
        skipped.add(name)
        return 0
    args = words[1:]
    r = subprocess.run([binaries[name]] + args + ["--help"], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    if r.returncode != expect:
        error(where, "`%s`: %s exits %d, the docs show %d: %s" %
              (" ".join(words), name, r.returncode, expect, (r.stderr or r.stdout).strip()[:300]))
    return 1


def main(argv):
    root = argv[1]
    binaries = dict(pair.partition("=")[::2] for pair in argv[2:])
    files = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    commands, checked, skipped, workflows = [], 0, set(), 0
    for path in files:
        rel = os.path.relpath(path, root)
        text = open(path).read()
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            lang, body = m.group(1), m.group(2)
            where = "%s:%d" % (rel, text.count("\n", 0, m.start()) + 1)
            if lang == "yaml":
                try:
                    document = yaml.safe_load(body)
                except yaml.YAMLError as e:
                    error(where, "YAML does not parse: %s" % e)
                    continue
                if isinstance(document, dict) and "jobs" in document:
                    workflows += 1
                    check_github(where, document, commands)
                elif isinstance(document, dict):
                    workflows += 1
                    check_gitlab(where, document, commands)
            elif lang in ("sh", "bash"):
                commands.append((where, body))
            elif lang == "":
                # `$ command` lines; one whose output (the next line) is a
                # USAGE error shows a refused command line: it must exit 2.
                lines = body.splitlines()
                for i, l in enumerate(lines):
                    if l.startswith("$ "):
                        refused = i + 1 < len(lines) and '"code":"USAGE"' in lines[i + 1]
                        commands.append((where, l, 2 if refused else 0))
    for entry in commands:
        where, script = entry[0], entry[1]
        expect = entry[2] if len(entry) > 2 else 0
        for line in shell_commands(script):
            for words in invocations(line):
                checked += check_command(where, words, binaries, skipped, expect)
    print("%d CI workflows, %d command lines checked against the binaries' parsers" %
          (workflows, checked))
    if skipped:
        print("not given (not built here, or a Python tool), not checked: " + ", ".join(sorted(skipped)))
    if workflows == 0 or checked == 0:
        error(root, "found nothing to check: the docs' layout changed?")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
