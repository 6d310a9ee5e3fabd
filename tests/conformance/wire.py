"""Framing of the autodistill wire protocol, written from docs/protocol.md.

One ZeroMQ frame per message, on a DEALER socket; each frame is a
FlatBuffers `Envelope` (file identifier "ADS1", version 1) whose body is one
message of the `Message` union. The Python classes come from
`flatc --python --gen-object-api messages/autodistill.fbs`, generated at
build time into the directory given to `load()`.
"""

import importlib
import sys

import flatbuffers
import zmq

PROTOCOL_VERSION = 1
FILE_IDENTIFIER = b"ADS1"

# Filled by load(): the generated module of each table and enum, by name.
T = {}


def load(generated_dir):
    """Imports the flatc-generated package `autodistill.wire` from `generated_dir`."""
    sys.path.insert(0, generated_dir)
    names = [
        "Envelope", "Message", "ErrorCode", "Role", "TrialKind", "Hello", "Welcome", "Reject",
        "Pull", "Assign", "Heartbeat", "TrialProgress", "Result", "Failure", "Ack", "Cancel",
        "Bye", "Metric", "ParamValue", "TrialRef", "Hardware", "Error", "ListStudies",
        "StudyList", "Submit", "Checkpoint", "CheckpointAck", "Artifact", "BlobStat",
        "BlobPut", "BlobPutAck",
    ]
    for name in names:
        T[name] = importlib.import_module("autodistill.wire." + name)


def message_type(name):
    """The union tag of a message name, e.g. message_type("Hello")."""
    return getattr(T["Message"].Message, name)


def message_name(tag):
    for name, value in vars(T["Message"].Message).items():
        if value == tag and not name.startswith("_"):
            return name
    return "unknown(%d)" % tag


def error_code(name):
    return getattr(T["ErrorCode"].ErrorCode, name)


def error_name(code):
    for name, value in vars(T["ErrorCode"].ErrorCode).items():
        if value == code and not name.startswith("_"):
            return name
    return "unknown(%d)" % code


def make(table, /, **fields):
    """An object-API table, e.g. make("Pull", credits=1)."""
    obj = getattr(T[table], table + "T")()
    for key, value in fields.items():
        if not hasattr(obj, key):
            raise AttributeError("%sT has no field %s" % (table, key))
        setattr(obj, key, value)
    return obj


def encode(name, body, request_id=0, version=PROTOCOL_VERSION):
    """One frame: an Envelope around `body` (a `<name>T` object)."""
    env = T["Envelope"].EnvelopeT()
    env.version = version
    env.requestId = request_id
    env.bodyType = message_type(name)
    env.body = body
    builder = flatbuffers.Builder(256)
    builder.Finish(env.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


class Envelope:
    """A received message: `name` (the body's message name), `request_id`, `body`."""

    def __init__(self, frame):
        if len(frame) < 8 or frame[4:8] != FILE_IDENTIFIER:
            raise ValueError("not an autodistill Envelope")
        root = T["Envelope"].Envelope.GetRootAs(frame, 0)
        env = T["Envelope"].EnvelopeT.InitFromObj(root)
        if env.version != PROTOCOL_VERSION:
            raise ValueError("protocol version %d" % env.version)
        self.version = env.version
        self.request_id = env.requestId
        self.name = message_name(env.bodyType)
        self.body = env.body

    def __repr__(self):
        return "<%s rid=%d %s>" % (self.name, self.request_id, describe(self.body))


def text(value):
    """FlatBuffers' Python API returns strings as bytes."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def describe(body):
    if body is None:
        return ""
    fields = {k: v for k, v in vars(body).items() if v not in (None, b"", [], 0)}
    if "error" in fields and fields["error"] is not None:
        e = fields["error"]
        fields["error"] = "%s %r field %r" % (error_name(e.code), text(e.message), text(e.field))
    return repr(fields)


class Peer:
    """One DEALER connection to a daemon endpoint (one connection = one peer)."""

    def __init__(self, context, endpoint):
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.next_request_id = 1

    def close(self):
        self.socket.close(0)

    def send(self, name, body, request_id=None):
        """Sends one message; returns its request_id (a fresh one by default)."""
        if request_id is None:
            request_id = self.next_request_id
            self.next_request_id += 1
        self.socket.send(encode(name, body, request_id))
        return request_id

    def send_raw(self, frames):
        self.socket.send_multipart(frames)

    def receive(self, timeout_s):
        """The next message, or None after `timeout_s` seconds."""
        if not self.socket.poll(int(timeout_s * 1000)):
            return None
        return Envelope(self.socket.recv())

    def wait_for(self, names, timeout_s, request_id=None):
        """The first message named in `names` (and echoing `request_id` when
        given) within `timeout_s`; other messages (e.g. Heartbeat) are skipped.
        None on timeout."""
        import time
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            env = self.receive(left)
            if env is None:
                return None
            if env.name in names and (request_id is None or env.request_id == request_id):
                return env

    def call(self, name, body, reply_names, timeout_s=5.0):
        rid = self.send(name, body)
        return self.wait_for(reply_names, timeout_s, request_id=rid)
