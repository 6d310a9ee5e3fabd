#!/usr/bin/env python3
"""Protocol conformance: a worker written from docs/protocol.md against a real daemon.

Starts autodistilld on loopback with a fresh data directory, submits studies
with the `autodistill` CLI and drives them with minimal_worker.py (and raw
connections from wire.py). Each check is one ctest entry:

  conformance_test.py --daemon PATH --cli PATH --generated DIR --check NAME

Checks: study, reject_unknown, reject_ended, malformed, liveness, parallel,
checkpoint.
Exit 0 when the check passes, 1 with the reason (and the daemon log's tail)
when it fails.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    import zmq  # python3-zmq
    import flatbuffers  # noqa: F401  python3-flatbuffers
except ImportError as e:
    print("conformance: %s; install python3-zmq and python3-flatbuffers "
          "(scripts/setup.sh)" % e, file=sys.stderr)
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402
from minimal_worker import MinimalWorker, param_dict  # noqa: E402

# Short timings so every check takes seconds (Welcome carries them).
HEARTBEAT_MS = 200
LIVENESS = 3
LEASE_MS = 1500
TICK_MS = 50


class CheckFailed(Exception):
    pass


def expect(condition, what):
    if not condition:
        raise CheckFailed(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toy(params, names):
    """The toy objectives: f1 (minimized) and f2 (maximized)."""
    x, y, c = params["x"], params["y"], params["c"]
    values = {"f1": (x - 0.5) ** 2 + 0.1 * y + (0.0 if c == "a" else 1.0),
              "f2": y - abs(x)}
    return {n: values[n] for n in names}


class Daemon:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.worker_endpoint = "tcp://127.0.0.1:%d" % free_port()
        self.client_endpoint = "tcp://127.0.0.1:%d" % free_port()
        self.log_path = os.path.join(workdir, "daemon.log")
        argv = [args.daemon, "--data_dir", os.path.join(workdir, "data"),
                "--worker_endpoint", self.worker_endpoint,
                "--client_endpoint", self.client_endpoint,
                "--http_listen=",
                "--heartbeat_interval_ms", str(HEARTBEAT_MS), "--liveness", str(LIVENESS),
                "--lease_ms", str(LEASE_MS), "--tick_ms", str(TICK_MS)]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.context = zmq.Context()
        probe = wire.Peer(self.context, self.client_endpoint)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                expect(self.process.poll() is None, "autodistilld exited at start")
                if probe.call("ListStudies", wire.make("ListStudies"), ("StudyList",), 0.2):
                    return
            raise CheckFailed("autodistilld did not answer ListStudies within 10 s")
        finally:
            probe.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        self.context.destroy(0)

    def log_tail(self, lines=40):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    # --- the client side, through the CLI
    def cli(self, *args):
        out = subprocess.run([self.args.cli, "--endpoint", self.client_endpoint, "--json"] +
                             list(args), capture_output=True, text=True, timeout=30)
        return out.returncode, out.stdout, out.stderr

    def submit(self, spec, key):
        path = os.path.join(self.workdir, key + ".json")
        with open(path, "w") as f:
            json.dump(spec, f)
        rc, out, err = self.cli("submit", "--spec", path, "--key", key)
        expect(rc == 0, "autodistill submit failed (%d): %s%s" % (rc, out, err))
        return json.loads(out.splitlines()[0])["study"]["study_id"]

    def get(self, study_id):
        rc, out, err = self.cli("get", str(study_id), "--trials")
        expect(rc == 0, "autodistill get failed (%d): %s%s" % (rc, out, err))
        return json.loads(out)

    def wait_state(self, study_id, state, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.get(study_id)
            if got["study"]["state"] == state:
                return got
            expect(time.monotonic() < deadline, "study %d is %s, not %s, after %d s: %s" % (
                study_id, got["study"]["state"], state, timeout_s, got["study"].get("message")))
            time.sleep(0.1)

    def worker(self, worker_id, studies, slots=1, eval_seconds=0.05):
        return MinimalWorker(self.context, self.worker_endpoint, worker_id, studies, toy,
                             slots=slots, eval_seconds=eval_seconds,
                             log=lambda m: print("  " + m))

    def raw(self, endpoint=None):
        return wire.Peer(self.context, endpoint or self.worker_endpoint)


def external_spec(max_trials, parallelism=0, algorithm="", max_attempts=0):
    spec = {
        "name": "conformance",
        "kind": "external",
        "factors": [
            {"name": "x", "kind": "continuous", "low": -2.0, "high": 2.0},
            {"name": "y", "kind": "integer", "low": 0, "high": 4},
            {"name": "c", "kind": "categorical", "categories": ["a", "b"]},
        ],
        "objectives": [{"name": "f1", "direction": "minimize"},
                       {"name": "f2", "direction": "maximize"}],
        "max_trials": max_trials,
        "settings": {"note": "conformance"},
    }
    if parallelism:
        spec["parallelism"] = parallelism
    if algorithm:
        spec["algorithm"] = algorithm
    if max_attempts:
        spec["max_attempts"] = max_attempts
    return spec


def error_of(env):
    """(code name, field) of an Error or Reject envelope."""
    e = env.body if env.name == "Error" else env.body.error
    return wire.error_name(e.code), wire.text(e.field)


# ---------------------------------------------------------------------------
# Checks


def check_study(d):
    """A whole External study through the minimal worker: Hello, Welcome,
    Pull, Assign (field contents), Heartbeat, Result, Ack; a duplicate
    Result is acknowledged again and counted once; the study completes
    with max_trials trials whose stored objectives are the worker's."""
    study = d.submit(external_spec(max_trials=6, parallelism=2), "study")
    w = d.worker("py-study", [study], slots=2)
    w.duplicate_first_result = True
    reply = w.hello()
    expect(reply is not None and reply.name == "Welcome", "Hello got %r" % reply)
    welcome = reply.body
    expect(welcome.heartbeatIntervalMs == HEARTBEAT_MS and welcome.liveness == LIVENESS and
           welcome.leaseMs == LEASE_MS and welcome.maxChunkBytes > 0,
           "Welcome does not carry the daemon's timing: %s" % wire.describe(welcome))
    expect(w.run(lambda: len(w.acks) >= 7, 30), "7 Acks (6 results + 1 duplicate) did not "
           "arrive: %d acks, %d assigns, errors %r" % (len(w.acks), len(w.assigns), w.errors))
    for a in w.assigns:
        expect(a.studyId == study, "Assign.study_id %d" % a.studyId)
        expect(a.kind == wire.T["TrialKind"].TrialKind.External, "Assign.kind %d" % a.kind)
        expect(a.leaseMs == LEASE_MS, "Assign.lease_ms %d" % a.leaseMs)
        expect(a.attempt == 1, "Assign.attempt %d" % a.attempt)
        expect([wire.text(n) for n in a.objectives] == ["f1", "f2"],
               "Assign.objectives %r: want the names, in the spec's order" % a.objectives)
        names = [wire.text(p.name) for p in a.params]
        expect(names == ["x", "y", "c"], "Assign.params names %r" % names)
        p = param_dict(a)
        expect(-2.0 <= p["x"] <= 2.0 and p["y"] == int(p["y"]) and 0 <= p["y"] <= 4 and
               p["c"] in ("a", "b"), "Assign.params out of the space: %r" % p)
        expect(json.loads(wire.text(a.settingsJson)) == {"note": "conformance"},
               "Assign.settings_json %r" % a.settingsJson)
        expect(wire.text(a.teacherDigest) == "" and wire.text(a.corpusDigest) == "",
               "an External Assign carries blob digests")
    expect(len(w.assigns) == 6, "%d Assigns for 6 trials" % len(w.assigns))
    # The duplicate was acknowledged with the same request id.
    rids = [rid for (_, _, rid) in w.acks]
    expect(len(set(rids)) == 6, "Acks do not echo the 6 reports' request ids: %r" % w.acks)
    expect(w.max_running <= 2, "more trials at once (%d) than slots (2)" % w.max_running)
    got = d.wait_state(study, "succeeded")
    s = got["study"]
    expect(s["trials_total"] == 6 and s["trials_completed"] == 6 and s["trials_failed"] == 0,
           "study counts: %r" % {k: s[k] for k in ("trials_total", "trials_completed",
                                                   "trials_failed")})
    for t in got["trials"]:
        expect(t["state"] == "completed" and t["worker_id"] == "py-study", "trial %r" % t)
        want = toy(t["params"], ["f1", "f2"])
        for name, value in want.items():
            expect(math.isclose(t["objectives"][name], value, rel_tol=1e-12, abs_tol=1e-12),
                   "trial %d objective %s = %r, the worker reported %r" % (
                       t["trial_id"], name, t["objectives"][name], value))
    # The study has ended: a new Hello for it is refused (nothing to deliver) ...
    late = d.worker("py-late", [study])
    reply = late.hello()
    expect(reply is not None and reply.name == "Reject" and
           error_of(reply) == ("FailedPrecondition", "studies[0]"),
           "Hello for a succeeded study got %r" % reply)
    # ... but welcomed when it lists reports to deliver (`running`).
    late.outbox[(got["trials"][0]["trial_id"], 1)] = {
        "name": "Result", "rid": 0, "sent": 0.0,
        "body": wire.make("Result", trialId=got["trials"][0]["trial_id"], attempt=1)}
    late.peer.close()
    late.peer = None
    reply = late.hello()
    expect(reply is not None and reply.name == "Welcome",
           "Hello with `running` for a succeeded study got %r" % reply)
    w.bye()


def check_reject_unknown(d):
    """Hello for a study that does not exist: Reject{NotFound, studies[i]},
    echoing the Hello's request_id; the other Hello refusals name their field."""
    live = d.submit(external_spec(max_trials=1), "live")
    cases = [
        ([424242], 1, "NotFound", "studies[0]"),
        ([live, 424242], 1, "NotFound", "studies[1]"),
        ([], 1, "InvalidArgument", "studies"),
        ([live], 0, "InvalidArgument", "slots"),
        ([live], 1025, "InvalidArgument", "slots"),
    ]
    for studies, slots, code, field in cases:
        peer = d.raw()
        hello = wire.make("Hello", workerId="py-reject", role=wire.T["Role"].Role.External,
                          slots=slots, studies=studies)
        rid = peer.send("Hello", hello, request_id=77)
        reply = peer.wait_for(("Welcome", "Reject"), 5)
        expect(reply is not None and reply.name == "Reject",
               "Hello(studies=%r, slots=%d) got %r" % (studies, slots, reply))
        expect(reply.request_id == rid, "Reject does not echo the Hello's request_id")
        expect(error_of(reply) == (code, field), "Hello(studies=%r, slots=%d): %r, want %s %s" % (
            studies, slots, error_of(reply), code, field))
        # A Reject creates no session.
        rid = peer.send("Pull", wire.make("Pull", credits=1))
        err = peer.wait_for(("Error",), 5, request_id=rid)
        expect(err is not None and error_of(err)[0] == "UnknownPeer",
               "a Pull after a Reject got %r, want Error{UnknownPeer}" % err)
        peer.close()
    w = d.worker("py-ok", [live])
    reply = w.hello()
    expect(reply is not None and reply.name == "Welcome", "Hello for a live study got %r" % reply)


def check_reject_ended(d):
    """A study that ends during a session: its leased trial gets Cancel, the
    session stays; a new Hello naming only ended studies gets
    Reject{FailedPrecondition, studies[i]}."""
    study = d.submit(external_spec(max_trials=2, parallelism=1), "ended")
    w = d.worker("py-ended", [study])
    w.hold = True
    expect(w.hello().name == "Welcome", "Hello for a running study was not welcomed")
    expect(w.run(lambda: len(w.running) == 1, 15), "no Assign for the study")
    key = next(iter(w.running))
    rc, out, err = d.cli("cancel", str(study), "--reason", "conformance")
    expect(rc == 0, "autodistill cancel failed: %s%s" % (out, err))
    expect(w.run(lambda: key in w.cancels, 5), "no Cancel for the leased trial %r" % (key,))
    # The session stays: heartbeats keep coming and a Pull is not refused.
    errors = len(w.errors)
    heard = w.last_heard
    w.run(lambda: False, 1.0)
    expect(len(w.errors) == errors, "errors after the study ended: %r" % w.errors[errors:])
    expect(w.last_heard > heard, "the daemon stopped its heartbeats")
    expect(len(w.assigns) == 1, "an Assign after the study ended")
    other = d.submit(external_spec(max_trials=1), "other")
    for studies, field in (([study], "studies[0]"), ([other, study], None)):
        peer = d.raw()
        hello = wire.make("Hello", workerId="py-ended-2", role=wire.T["Role"].Role.External,
                          slots=1, studies=studies)
        reply = peer.call("Hello", hello, ("Welcome", "Reject"), 5)
        if field is None:  # one study still runs: welcomed
            expect(reply is not None and reply.name == "Welcome",
                   "Hello naming a live and an ended study got %r" % reply)
        else:
            expect(reply is not None and reply.name == "Reject" and
                   error_of(reply) == ("FailedPrecondition", field),
                   "Hello for a cancelled study got %r" % reply)
        peer.close()


def check_malformed(d):
    """Frames that are not valid Envelopes get Error{Malformed} (request_id 0)
    and the daemon keeps serving; other refusals carry their request_id."""
    peer = d.raw()
    frames = {
        "garbage": [b"this is not a flatbuffer"],
        "too short": [b"ADS"],
        "two frames": [wire.encode("Pull", wire.make("Pull", credits=1), 5), b"extra"],
        "empty delimiter (REQ style)": [b"", wire.encode("Pull", wire.make("Pull", credits=1), 6)],
        "wrong identifier": [b"\x0c\x00\x00\x00XXXX" + b"\x00" * 16],
    }
    for what, parts in frames.items():
        peer.send_raw(parts)
        err = peer.wait_for(("Error",), 5)
        expect(err is not None, "%s: no Error" % what)
        expect(error_of(err)[0] == "Malformed" and err.request_id == 0,
               "%s: got %r, want Error{Malformed} with request_id 0" % (what, err))
    peer.send_raw([wire.encode("Pull", wire.make("Pull", credits=1), 9, version=2)])
    err = peer.wait_for(("Error",), 5)
    expect(err is not None and error_of(err) == ("UnsupportedVersion", "version") and
           err.request_id == 0, "version 2: got %r" % err)
    # A verified message before Hello: UnknownPeer, echoing its request_id.
    rid = peer.send("Heartbeat", wire.make("Heartbeat"), request_id=41)
    err = peer.wait_for(("Error",), 5)
    expect(err is not None and error_of(err)[0] == "UnknownPeer" and err.request_id == rid,
           "Heartbeat before Hello: got %r" % err)
    # The daemon keeps serving: the same connection can start a session.
    study = d.submit(external_spec(max_trials=1), "malformed")
    hello = wire.make("Hello", workerId="py-malformed", role=wire.T["Role"].Role.External,
                      slots=1, studies=[study])
    reply = peer.call("Hello", hello, ("Welcome", "Reject"), 5)
    expect(reply is not None and reply.name == "Welcome", "Hello after bad frames got %r" % reply)
    # A message the worker endpoint does not take: InvalidArgument, field "body".
    rid = peer.send("ListStudies", wire.make("ListStudies"), request_id=43)
    err = peer.wait_for(("Error",), 5, request_id=rid)
    expect(err is not None and error_of(err) == ("InvalidArgument", "body"),
           "ListStudies on the worker endpoint: got %r" % err)
    # The client endpoint verifies frames the same way.
    client = d.raw(d.client_endpoint)
    client.send_raw([b"garbage garbage"])
    err = client.wait_for(("Error",), 5)
    expect(err is not None and error_of(err)[0] == "Malformed" and err.request_id == 0,
           "garbage on the client endpoint: got %r" % err)
    peer.close()
    client.close()


def check_liveness(d):
    """Only Heartbeat entries keep a lease: a worker that sends Pull but no
    Heartbeat keeps its session yet loses its lease (attempt + 1 goes to
    another worker); a silent worker loses its session (UnknownPeer); a
    heartbeating worker keeps a lease longer than lease_ms."""
    study = d.submit(external_spec(max_trials=1, max_attempts=3), "liveness")
    a = d.worker("py-silent", [study])
    a.hold = True
    a.heartbeats = False
    expect(a.hello().name == "Welcome", "Hello not welcomed")
    expect(a.run(lambda: len(a.running) == 1, 15), "no Assign")
    trial_id, attempt = next(iter(a.running))
    expect(attempt == 1, "first attempt is %d" % attempt)
    # Keep the session with Pull{0} every interval, but send no Heartbeat.
    started = time.monotonic()
    requeued = None
    while time.monotonic() - started < 3 * LEASE_MS / 1000.0:
        a.send("Pull", wire.make("Pull", credits=0))
        a.run(lambda: False, HEARTBEAT_MS / 1000.0)
        t = [t for t in d.get(study)["trials"] if t["trial_id"] == trial_id][0]
        if t["attempt"] == 2:
            requeued = time.monotonic() - started
            break
    expect(requeued is not None, "the lease of a worker sending no Heartbeat did not expire")
    expect(requeued >= LEASE_MS / 1000.0 - 0.2,
           "the lease expired after %.2f s, before lease_ms" % requeued)
    expect(not any(error_of(e)[0] == "UnknownPeer" for e in a.errors),
           "Pull alone did not keep the session: %r" % a.errors)
    # Another worker gets attempt 2 and heartbeats through an evaluation
    # longer than lease_ms: its lease holds and its Result counts.
    b = d.worker("py-beating", [study], eval_seconds=2.5 * LEASE_MS / 1000.0)
    expect(b.hello().name == "Welcome", "second worker not welcomed")
    expect(b.run(lambda: len(b.assigns) == 1, 10), "attempt 2 was not assigned")
    expect((b.assigns[0].trialId, b.assigns[0].attempt) == (trial_id, 2),
           "the second worker got %r" % ((b.assigns[0].trialId, b.assigns[0].attempt),))
    # Meanwhile the first worker goes silent: its session ends.
    silent_from = time.monotonic()
    expect(b.run(lambda: len(b.acks) == 1, 10), "the heartbeating worker's Result was not acked")
    expect(not b.cancels and len(b.assigns) == 1, "the heartbeating worker lost its lease")
    got = d.wait_state(study, "succeeded")
    t = got["trials"][0]
    expect(t["attempt"] == 2 and t["worker_id"] == "py-beating", "trial %r" % t)
    time.sleep(max(0.0, LIVENESS * HEARTBEAT_MS / 1000.0 + 0.3 - (time.monotonic() - silent_from)))
    rid = a.send("Pull", wire.make("Pull", credits=0))
    err = a.peer.wait_for(("Error",), 5, request_id=rid)
    expect(err is not None and error_of(err)[0] == "UnknownPeer",
           "a worker silent for liveness x interval kept its session: %r" % err)
    b.bye()


def check_parallel(d):
    """Slots do not make a study sequential: three 1-slot workers run three
    trials of one study at once; credit beyond slots is discarded."""
    study = d.submit(external_spec(max_trials=3, parallelism=3), "parallel")
    workers = [d.worker("py-par-%d" % i, [study]) for i in range(3)]
    for w in workers:
        w.hold = True
    # The study queues `parallelism` candidates before any worker is there.
    deadline = time.monotonic() + 15
    while d.get(study)["study"]["trials_total"] < 3:
        expect(time.monotonic() < deadline, "the study did not queue its 3 candidates")
        time.sleep(0.05)
    first = workers[0]
    expect(first.hello(pull=False).name == "Welcome", "Hello not welcomed")
    first.send("Pull", wire.make("Pull", credits=5))  # credit is capped at slots = 1
    expect(first.run(lambda: len(first.assigns) >= 1, 15), "no Assign")
    first.run(lambda: False, 1.0)
    expect(len(first.assigns) == 1, "Pull{5} to a 1-slot worker gave %d Assigns with 3 trials "
           "queued (credit not capped at slots)" % len(first.assigns))
    for w in workers[1:]:
        expect(w.hello().name == "Welcome", "Hello not welcomed")

    def all_leased():
        for w in workers:
            w.step(0.01)
        return all(len(w.running) == 1 for w in workers)

    deadline = time.monotonic() + 10
    while not all_leased():
        expect(time.monotonic() < deadline, "three 1-slot workers did not run three trials at "
               "once: %r" % [len(w.running) for w in workers])
    held = {k for w in workers for k in w.running}
    expect(len(held) == 3, "the three workers hold %r" % held)
    running = d.get(study)["study"]["trials_running"]
    expect(running == 3, "the daemon counts %d trials running, not 3" % running)
    for w in workers:
        w.hold = False
    deadline = time.monotonic() + 10
    while sum(len(w.acks) for w in workers) < 3:
        expect(time.monotonic() < deadline, "results not acknowledged")
        for w in workers:
            w.step(0.01)
    got = d.wait_state(study, "succeeded")
    expect(got["study"]["trials_completed"] == 3, "study %r" % got["study"])


def upload(peer, data):
    """Uploads `data` as one blob (BlobStat, then BlobPut from next_offset); its digest."""
    digest = hashlib.sha256(data).hexdigest()
    ack = peer.call("BlobStat", wire.make("BlobStat", digest=digest), ("BlobPutAck", "Error"))
    expect(ack is not None and ack.name == "BlobPutAck", "BlobStat got %r" % ack)
    if not ack.body.complete:
        offset = ack.body.nextOffset
        ack = peer.call("BlobPut", wire.make("BlobPut", digest=digest, offset=offset,
                                             totalSize=len(data), data=list(data[offset:])),
                        ("BlobPutAck", "Error"))
        expect(ack is not None and ack.name == "BlobPutAck" and ack.body.complete,
               "BlobPut got %r" % ack)
    return digest


def checkpoint_of(trial_id, attempt, step, digest, size):
    blob = wire.make("Artifact", name="checkpoint.safetensors", digest=digest, size=size)
    return wire.make("Checkpoint", trialId=trial_id, attempt=attempt, step=step, totalSteps=100,
                     blobs=[blob], format="conformance/1")


def check_checkpoint(d):
    """Checkpoints ("Checkpoints" in the protocol page): Welcome.features has
    "checkpoint"; a Checkpoint naming a blob the daemon does not hold gets
    Error{NotFound, blobs[0].digest}; one from a worker not holding the lease
    Error{PermissionDenied}; the lease holder's gets CheckpointAck (same
    request id, its step); when its lease expires, the next attempt's Assign
    carries it in `resume`."""
    study = d.submit(external_spec(max_trials=1, max_attempts=3), "checkpoint")
    a = d.worker("py-ckpt-a", [study])
    a.hold = True
    reply = a.hello()
    expect(reply is not None and reply.name == "Welcome", "Hello got %r" % reply)
    features = [wire.text(f) for f in reply.body.features or []]
    expect("checkpoint" in features, "Welcome.features %r lacks \"checkpoint\"" % features)
    expect(a.run(lambda: len(a.running) == 1, 15), "no Assign")
    trial_id, attempt = next(iter(a.running))
    expect(a.assigns[0].resume is None, "the first attempt's Assign has a resume")
    blobs = d.raw()
    data = b"the training state at step 10"
    digest = upload(blobs, data)
    missing = a.peer.call("Checkpoint", checkpoint_of(trial_id, attempt, 10, "e" * 64, 3),
                          ("CheckpointAck", "Error"))
    expect(missing is not None and missing.name == "Error" and
           error_of(missing) == ("NotFound", "blobs[0].digest"),
           "a Checkpoint naming a blob not held got %r" % missing)
    other = d.worker("py-ckpt-other", [study])
    other.hold = True
    expect(other.hello(pull=False).name == "Welcome", "second worker not welcomed")
    forged = other.peer.call("Checkpoint", checkpoint_of(trial_id, attempt, 10, digest, len(data)),
                             ("CheckpointAck", "Error"))
    expect(forged is not None and forged.name == "Error" and
           error_of(forged)[0] == "PermissionDenied",
           "a Checkpoint from a worker not holding the lease got %r" % forged)
    rid = a.send("Checkpoint", checkpoint_of(trial_id, attempt, 10, digest, len(data)))
    ack = a.peer.wait_for(("CheckpointAck", "Error"), 5, request_id=rid)
    expect(ack is not None and ack.name == "CheckpointAck" and
           (ack.body.trialId, ack.body.attempt, ack.body.step) == (trial_id, attempt, 10),
           "the lease holder's Checkpoint got %r" % ack)
    # The holder vanishes; another worker gets the next attempt, resumed.
    a.peer.close()
    a.peer = None
    other.send("Pull", wire.make("Pull", credits=1))
    expect(other.run(lambda: len(other.assigns) == 1, 15), "attempt 2 was not assigned")
    b = other.assigns[0]
    expect((b.trialId, b.attempt) == (trial_id, 2), "the next attempt is %r" % (
        (b.trialId, b.attempt),))
    r = b.resume
    expect(r is not None, "the re-leased attempt's Assign has no resume")
    expect((r.trialId, r.attempt, r.step, r.totalSteps, wire.text(r.format)) ==
           (trial_id, 1, 10, 100, "conformance/1"), "Assign.resume %s" % wire.describe(r))
    expect(len(r.blobs) == 1 and wire.text(r.blobs[0].digest) == digest and
           r.blobs[0].size == len(data), "Assign.resume.blobs %r" % r.blobs)
    other.bye()
    blobs.close()


CHECKS = {
    "study": check_study,
    "reject_unknown": check_reject_unknown,
    "reject_ended": check_reject_ended,
    "malformed": check_malformed,
    "liveness": check_liveness,
    "parallel": check_parallel,
    "checkpoint": check_checkpoint,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemon", required=True)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--generated", required=True, help="flatc --python output directory")
    parser.add_argument("--check", required=True, choices=sorted(CHECKS))
    args = parser.parse_args()
    wire.load(args.generated)
    workdir = tempfile.mkdtemp(prefix="autodistill-conformance-")
    daemon = None
    try:
        daemon = Daemon(args, workdir)
        started = time.monotonic()
        CHECKS[args.check](daemon)
        print("conformance %s: passed in %.1f s" % (args.check, time.monotonic() - started))
        return 0
    except CheckFailed as e:
        print("conformance %s: FAILED: %s" % (args.check, e), file=sys.stderr)
        if daemon is not None:
            print("--- daemon log (tail) ---\n" + daemon.log_tail(), file=sys.stderr)
        return 1
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
