"""A minimal External worker, written only from docs/protocol.md.

It follows the worker protocol's MUST and SHOULD rules: Hello / Welcome,
credit (Pull only for free slots; a slot is free once its report is sent),
Heartbeat every interval listing every trial held (running or awaiting an
Ack), an outbox with a per-report resend timer, Ack matching by
(trial_id, attempt), UnknownPeer -> Hello again, silence -> reconnect.
Trials are evaluated inline by a Python function after a simulated
evaluation time; one thread, one DEALER socket.

Knobs for the conformance checks: `heartbeats` (False: stop sending
Heartbeat, to lose leases), `hold` (True: keep trials running until
released) and `duplicate_first_result` (send the first Result twice).
"""

import math
import time

import wire

TRANSIENT = ("Unavailable", "ResourceExhausted", "Internal")


def param_dict(assign):
    """Assign.params as {name: number or category} (docs: `category` for a
    Categorical factor, else `number`)."""
    out = {}
    for p in assign.params or []:
        category = wire.text(p.category)
        out[wire.text(p.name)] = category if category else p.number
    return out


class MinimalWorker:
    def __init__(self, context, endpoint, worker_id, studies, evaluate, slots=1,
                 eval_seconds=0.05, log=print):
        self.context = context
        self.endpoint = endpoint
        self.worker_id = worker_id
        self.studies = list(studies)
        self.evaluate = evaluate  # (params dict, objective names) -> {name: value}
        self.slots = slots
        self.eval_seconds = eval_seconds
        self.log = log
        self.peer = None
        self.welcome = None
        self.reject = None
        self.running = {}  # (trial_id, attempt) -> {"assign", "started"}
        self.outbox = {}  # (trial_id, attempt) -> {"name", "body", "rid", "sent"}
        self.assigns = []  # every Assign received, in order
        self.acks = []  # (trial_id, attempt, request_id) of every Ack
        self.cancels = []
        self.errors = []  # every Error received
        self.heartbeats = True
        self.hold = False
        self.duplicate_first_result = False
        self.max_running = 0  # most trials evaluated at once
        self.last_heard = 0.0
        self.next_heartbeat = 0.0

    # --- timing from Welcome (the worker MUST use these values)
    def interval(self):
        return self.welcome.heartbeatIntervalMs / 1000.0

    def silence_limit(self):
        return self.welcome.liveness * self.welcome.heartbeatIntervalMs / 1000.0

    def free_slots(self):
        # Reports awaiting an Ack do not hold a slot.
        return self.slots - len(self.running)

    # --- session
    def connect(self):
        if self.peer is not None:
            self.peer.close()
        self.peer = wire.Peer(self.context, self.endpoint)

    def hello(self, timeout_s=5.0, pull=True):
        """Says Hello (on a fresh connection when there is none); returns the
        Welcome or Reject envelope, or None on timeout. After a Welcome it
        pulls for its free slots (unless `pull` is False: a check sends its
        own Pull)."""
        if self.peer is None:
            self.connect()
        running = []
        for trial_id, attempt in sorted(set(self.running) | set(self.outbox)):
            running.append(wire.make("TrialRef", trialId=trial_id, attempt=attempt))
        hello = wire.make("Hello", workerId=self.worker_id, role=wire.T["Role"].Role.External,
                          slots=self.slots, studies=self.studies, running=running,
                          softwareVersion="conformance-minimal-worker",
                          hardware=wire.make("Hardware", tag="cpu", fingerprint="py-conformance"))
        reply = self.peer.call("Hello", hello, ("Welcome", "Reject"), timeout_s)
        if reply is None:
            return None
        self.last_heard = time.monotonic()
        if reply.name == "Reject":
            self.reject = reply
            return reply
        self.welcome = reply.body
        self.next_heartbeat = time.monotonic() + self.heartbeat_period()
        if pull and self.free_slots() > 0:
            self.send("Pull", wire.make("Pull", credits=self.free_slots()))
        now = time.monotonic()
        for entry in self.outbox.values():  # every unacknowledged report, at once
            self.peer.send(entry["name"], entry["body"], entry["rid"])
            entry["sent"] = now
        return reply

    def heartbeat_period(self):
        # Every interval, and at least twice per lease.
        return min(self.interval(), self.welcome.leaseMs / 2000.0)

    def send(self, name, body):
        return self.peer.send(name, body)

    # --- the loop
    def run(self, until, timeout_s):
        """Serves the session until `until()` is true; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while not until():
            if time.monotonic() >= deadline:
                return False
            self.step(min(0.02, max(0.0, deadline - time.monotonic())))
        return True

    def step(self, wait_s):
        env = self.peer.receive(wait_s)
        while env is not None:
            self.last_heard = time.monotonic()
            self.handle(env)
            env = self.peer.receive(0)
        now = time.monotonic()
        if now - self.last_heard >= self.silence_limit():
            self.log("%s: the daemon went silent; reconnecting" % self.worker_id)
            self.peer.close()
            self.peer = None
            time.sleep(0.1)  # the reconnect backoff's first step
            self.hello()
            return
        if self.heartbeats and now >= self.next_heartbeat:
            self.send_heartbeat(now)
            self.next_heartbeat = now + self.heartbeat_period()
        if not self.hold:
            for key in [k for k, t in self.running.items()
                        if now - t["started"] >= self.eval_seconds]:
                self.finish(key)
        for entry in self.outbox.values():  # the resend timer is per report
            if now - entry["sent"] >= self.silence_limit():
                self.peer.send(entry["name"], entry["body"], entry["rid"])
                entry["sent"] = now

    def handle(self, env):
        body = env.body
        if env.name == "Assign":
            key = (body.trialId, body.attempt)
            self.assigns.append(body)
            if key in self.running or key in self.outbox:
                return  # a repeated Assign is ignored
            if self.free_slots() == 0:
                self.report(key, "Failure", wire.make(
                    "Failure", trialId=key[0], attempt=key[1], retryable=True,
                    error=wire.make("Error", code=wire.error_code("ResourceExhausted"),
                                    message="no free slot")))
                return
            self.running[key] = {"assign": body, "started": time.monotonic()}
            self.max_running = max(self.max_running, len(self.running))
        elif env.name == "Ack":
            key = (body.trialId, body.attempt)
            self.acks.append((key[0], key[1], env.request_id))
            self.outbox.pop(key, None)
        elif env.name == "Cancel":
            key = (body.trialId, body.attempt)
            self.cancels.append(key)
            self.outbox.pop(key, None)
            if self.running.pop(key, None) is not None:
                self.send("Pull", wire.make("Pull", credits=1))  # the slot is free
        elif env.name == "Error":
            self.errors.append(env)
            code = wire.error_name(body.code)
            if code == "UnknownPeer":
                self.hello()
            elif code not in TRANSIENT:
                for key, entry in list(self.outbox.items()):
                    if entry["rid"] == env.request_id:
                        del self.outbox[key]  # final: resending gets the same answer
        elif env.name == "Reject":
            self.reject = env
        # Heartbeat: liveness only (already counted above).

    def send_heartbeat(self, now):
        progress = []
        for (trial_id, attempt), t in self.running.items():
            fraction = min(1.0, (now - t["started"]) / max(self.eval_seconds, 1e-9))
            progress.append(wire.make("TrialProgress", trialId=trial_id, attempt=attempt,
                                      fraction=fraction, message="evaluating"))
        for trial_id, attempt in self.outbox:
            progress.append(wire.make("TrialProgress", trialId=trial_id, attempt=attempt,
                                      fraction=1.0, message="report awaiting acknowledgement"))
        self.send("Heartbeat", wire.make("Heartbeat", progress=progress))

    def finish(self, key):
        t = self.running.pop(key)
        assign = t["assign"]
        names = [wire.text(n) for n in assign.objectives or []]
        values = self.evaluate(param_dict(assign), names)
        if not all(math.isfinite(values.get(n, math.nan)) for n in names):
            body = wire.make("Failure", trialId=key[0], attempt=key[1], retryable=False,
                             error=wire.make("Error", code=wire.error_code("TrialError"),
                                             message="objective missing or not finite"))
            self.report(key, "Failure", body)
        else:
            objectives = [wire.make("Metric", name=n, value=float(values[n])) for n in names]
            body = wire.make("Result", trialId=key[0], attempt=key[1], objectives=objectives,
                             hardwareFingerprint="py-conformance",
                             elapsedMs=1000.0 * (time.monotonic() - t["started"]))
            self.report(key, "Result", body)
        self.send("Pull", wire.make("Pull", credits=1))  # free once the report is sent

    def report(self, key, name, body):
        rid = self.send(name, body)
        self.outbox[key] = {"name": name, "body": body, "rid": rid, "sent": time.monotonic()}
        if self.duplicate_first_result and name == "Result":
            self.duplicate_first_result = False
            self.peer.send(name, body, rid)

    def bye(self):
        if self.peer is not None:
            self.send("Bye", wire.make("Bye", reason="conformance test done"))
            self.peer.close()
            self.peer = None
