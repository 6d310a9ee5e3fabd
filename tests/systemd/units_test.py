#!/usr/bin/env python3
"""Checks the systemd units as `cmake --install` installs them.

  units_test.py units   BUILD_DIR BIN_DIR UNIT... -- NAME=BINARY...
  units_test.py conf    AUTODISTILLD EXAMPLE

`units`: installs the `systemd` component into a scratch DESTDIR, then for
every unit
  - it is installed under <prefix>/lib/systemd/system;
  - `systemd-analyze verify` accepts it (ExecStart= pointed at the build's
    binaries; a binary this build does not make is replaced by a stub, and
    said so);
  - `systemd-analyze security --offline=true` scores its exposure at most
    its threshold below (docs/operations.md, "systemd");
  - ExecStart=, with the instance, the host name and the variables of the
    installed settings example substituted, is accepted by the binary's
    own flag parser (the command line plus --help exits 0);
  - Restart=on-failure with RestartPreventExitStatus=2, and the binary does
    exit 2 for a bad flag (so a broken settings file never restart-loops);
  - with PrivateTmp=yes no path on the command line is under /tmp (the
    unit's /tmp is its own), and the probe worker's lock file sits in the
    unit's RuntimeDirectory= (shared with the host's other probers).
`conf`: systemd/autodistilld.conf.example is exactly `autodistilld
--print-config` (it is checked in so that the unit's install comment names
a file that exists).

Exit 77 (ctest SKIP) with a message when systemd-analyze is missing.
"""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile

# Highest acceptable `systemd-analyze security` exposure per unit (0.0 best,
# 10.0 worst). The daemon needs nothing of the host but TCP and its state
# directory; workers keep devices (GPUs), JIT memory and, for the external
# worker, arbitrary evaluator programs (so no system-call filter). Measured
# with systemd 252: 1.0, 3.3, 1.9, 1.9.
THRESHOLDS = {
    "autodistilld.service": 1.5,
    "autodistill-worker@.service": 3.5,
    "autodistill-distill-worker@.service": 2.5,
    "autodistill-probe-worker.service": 2.5,
}
# The settings example each unit's EnvironmentFile= is made from.
ENV_EXAMPLES = {
    "autodistill-worker@.service": "worker.env.example",
    "autodistill-distill-worker@.service": "distill-worker.env.example",
    "autodistill-probe-worker.service": "probe-worker.env.example",
}
USAGE_EXIT = 2

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def parse_unit(text):
    """[(section, key, value)] of a unit file (no continuation lines used)."""
    entries, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(entries, key):
    return [v for _, k, v in entries if k == key]


def read_env_file(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = " ".join(shlex.split(value))
    return env


def expand(command, env, instance):
    """systemd's specifiers and $VAR / ${VAR} expansion for ExecStart=."""
    command = command.replace("%i", instance).replace("%H", socket.gethostname())
    words = []
    for word in shlex.split(command):
        whole = re.fullmatch(r"\$(\w+)", word)
        if whole:  # an unbraced $VAR alone is split into words; unset = none
            words.extend(shlex.split(env.get(whole.group(1), "")))
        else:
            words.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), word))
    return words


def check_units(build_dir, bin_dir, units, binaries):
    work = tempfile.mkdtemp(prefix="autodistill-units-")
    try:
        destdir = os.path.join(work, "root")
        r = run([os.environ.get("CMAKE_COMMAND", "cmake"), "--install", build_dir,
                 "--component", "systemd"],
                env=dict(os.environ, DESTDIR=destdir))
        if r.returncode != 0:
            fail("cmake --install --component systemd failed:\n" + r.stdout + r.stderr)
            return
        unit_dirs = [os.path.join(root, d) for root, dirs, _ in os.walk(destdir) for d in dirs
                     if os.path.join(root, d).endswith("lib/systemd/system")]
        share_dirs = [os.path.join(root, d) for root, dirs, _ in os.walk(destdir) for d in dirs
                      if os.path.join(root, d).endswith("share/autodistill")]
        if len(unit_dirs) != 1 or len(share_dirs) != 1:
            fail("expected one lib/systemd/system and one share/autodistill under the install, "
                 "got %s and %s" % (unit_dirs, share_dirs))
            return
        unit_dir, share_dir = unit_dirs[0], share_dirs[0]
        verify_dir = os.path.join(work, "verify")
        os.makedirs(verify_dir)
        stub_dir = os.path.join(work, "stubs")
        os.makedirs(stub_dir)
        for unit in units:
            installed = os.path.join(unit_dir, unit)
            if not os.path.exists(installed):
                fail("%s is not installed (looked in %s)" % (unit, unit_dir))
                continue
            text = open(installed).read()
            entries = parse_unit(text)
            # Point the installed paths at this build's binaries.
            for name in set(re.findall(re.escape(bin_dir) + r"/([\w.-]+)", text)):
                target = binaries.get(name)
                if target is None or not os.path.exists(target):
                    target = os.path.join(stub_dir, name)
                    with open(target, "w") as stub:
                        stub.write("#!/bin/sh\nexit 0\n")
                    os.chmod(target, 0o755)
                    print("note: %s is not built here; %s is verified against a stub" % (name, unit))
                text = text.replace(bin_dir + "/" + name, target)
            with open(os.path.join(verify_dir, unit), "w") as out:
                out.write(text)
            check_unit(unit, entries, os.path.join(verify_dir, unit), bin_dir, binaries, share_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_unit(unit, entries, path, bin_dir, binaries, share_dir):
    r = run(["systemd-analyze", "verify", path])
    if r.returncode != 0 or r.stderr.strip():
        fail("systemd-analyze verify %s:\n%s%s" % (unit, r.stdout, r.stderr))
    else:
        print("ok: systemd-analyze verify %s" % unit)

    threshold = THRESHOLDS[unit]
    r = run(["systemd-analyze", "security", "--offline=true",
             "--threshold=%d" % round(threshold * 10), path])
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
    if level is None:
        fail("systemd-analyze security %s printed no exposure level:\n%s%s" %
             (unit, r.stdout, r.stderr))
    elif r.returncode != 0 or float(level.group(1)) > threshold:
        fail("%s: exposure %s exceeds %.1f" % (unit, level.group(1), threshold))
    else:
        print("ok: %s exposure %s <= %.1f" % (unit, level.group(1), threshold))

    if values(entries, "Restart") != ["on-failure"]:
        fail("%s: Restart=%s, want on-failure" % (unit, values(entries, "Restart")))
    prevent = " ".join(values(entries, "RestartPreventExitStatus")).split()
    if str(USAGE_EXIT) not in prevent:
        fail("%s: RestartPreventExitStatus=%s lacks %d (bad flags)" % (unit, prevent, USAGE_EXIT))

    env = {}
    if unit in ENV_EXAMPLES:
        example = os.path.join(share_dir, ENV_EXAMPLES[unit])
        if not os.path.exists(example):
            fail("%s: its settings example %s is not installed" % (unit, ENV_EXAMPLES[unit]))
            return
        env = read_env_file(example)
    private_tmp = "yes" in values(entries, "PrivateTmp")
    runtime_dirs = " ".join(values(entries, "RuntimeDirectory")).split()
    for exec_start in values(entries, "ExecStart"):
        words = expand(exec_start, env, "0")
        name = os.path.basename(words[0])
        if private_tmp:
            for w in words[1:]:
                if w.startswith("/tmp"):
                    fail("%s: %s is under /tmp, which PrivateTmp= hides from the host" % (unit, w))
        if "--lock-file" in words:
            lock = words[words.index("--lock-file") + 1]
            if not any(lock.startswith("/run/%s/" % d) for d in runtime_dirs):
                fail("%s: the lock file %s is not in RuntimeDirectory=%s" %
                     (unit, lock, runtime_dirs))
        elif name == "autodistill-probe-worker":
            fail("%s: no --lock-file, so the probe lock defaults to /tmp" % unit)
        binary = binaries.get(name)
        if binary is None or not os.path.exists(binary):
            print("note: %s not built; its flags in %s are not checked" % (name, unit))
            continue
        args = words[1:]
        if name == "autodistilld":  # the operator installs the example as the config file
            args = [os.path.join(share_dir, "autodistilld.conf.example") if a.startswith(
                "/etc/autodistill/") else a for a in args]
        r = run([binary] + args + ["--help"])
        if r.returncode != 0:
            fail("%s: `%s %s --help` exits %d:\n%s" %
                 (unit, name, " ".join(args), r.returncode, r.stderr))
        else:
            print("ok: %s accepts %s" % (name, " ".join(args)))
        r = run([binary, "--no-such-flag"])
        if r.returncode != USAGE_EXIT:
            fail("%s --no-such-flag exits %d, want %d (RestartPreventExitStatus)" %
                 (name, r.returncode, USAGE_EXIT))


def check_conf(autodistilld, example):
    r = run([autodistilld, "--print-config"])
    if r.returncode != 0:
        fail("autodistilld --print-config exits %d: %s" % (r.returncode, r.stderr))
    elif r.stdout != open(example).read():
        fail("%s differs from `autodistilld --print-config`; regenerate it:\n"
             "  autodistilld --print-config > systemd/autodistilld.conf.example" % example)
    else:
        print("ok: %s is `autodistilld --print-config`" % example)


def main(argv):
    if argv[1] == "conf":
        check_conf(argv[2], argv[3])
    else:
        if shutil.which("systemd-analyze") is None:
            print("SKIP: systemd-analyze is not installed (apt-get install systemd; "
                  "scripts/setup.sh does)")
            return 77
        sep = argv.index("--")
        build_dir, bin_dir, units = argv[2], argv[3], argv[4:sep]
        binaries = {}
        for pair in argv[sep + 1:]:
            name, _, path = pair.partition("=")
            binaries[name] = path
        check_units(build_dir, bin_dir, units, binaries)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
