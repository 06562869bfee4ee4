#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for Kestra 2.x's worker controller, for kwg's tests (kestra-2x-protocol.md).

Serves the project's own .proto files (transport/grpc/proto; Python stubs generated at start into
a temporary directory by grpc_tools, from Debian's python3-grpc-tools): connect, the liveness
heartbeat, the job stream (connectionInfo first, permits as a level, completions, maxConcurrency
as the OSS single-pool policy has it) and the four senders. It dispatches the WorkerJobs of
--jobs (a JSON array; each job's jobId is its task run id) as permits allow, and appends one JSON
line per thing the worker sends (and per dispatch) to --record, which the tests read. An entry
of --jobs may also be {"jobId": ID, "jobData": <object, or a string sent as is>} (for jobs that
are not task runs, or not JSON). When --kill-file appears, each open stream sends one
executionKilled event for the execution id it holds.
With --tls-cert and --tls-key it serves TLS instead of plaintext HTTP/2, and with --tls-client-ca
it requires a client certificate signed by those CAs (grpc.ssl_server_credentials).

  {"rpc": "connect", "clientId", "edition", "messageFormat", "threads"}
  {"rpc": "heartbeat", "newState", "state", "group", "result"}
  {"rpc": "stream", "stream": n, "first": bool, "permits", "completed": [...],
   "connectionInfo": {...} | null, "inflight": n (after the completions)}
  {"rpc": "dispatch", "stream": n, "jobId", "inflight": n (with it)}
  {"rpc": "results" | "triggers" | "logs" | "metrics", "records": [...]}
  {"rpc": "stream-end", "stream": n}

Nothing here is Kestra's code; it follows the spec's words.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "transport", "grpc", "proto")


def load_stubs():
    out = tempfile.mkdtemp(prefix="kwg-controller-")
    protos = sorted(f for f in os.listdir(PROTO_DIR) if f.endswith(".proto"))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", PROTO_DIR,
                    "--python_out=" + out, "--grpc_python_out=" + out] + protos,
                   check=True)
    sys.path.insert(0, out)


class Recorder:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1)

    def __call__(self, **entry):
        with self.lock:
            self.f.write(json.dumps(entry, sort_keys=True) + "\n")


class Dispatcher:
    """The OSS single pool: a job goes to a stream with permits > 0 and in-flight <
    maxConcurrency; permits is set (never added) by each worker message and lowered by each
    dispatch; completions free in-flight slots of the same stream only."""

    def __init__(self, jobs):
        self.cond = threading.Condition()
        self.queue = list(jobs)
        self.streams = 0

    def pop_for(self, st):
        if st["permits"] > 0 and len(st["inflight"]) < st["max"] and self.queue:
            job = self.queue.pop(0)
            st["permits"] -= 1
            st["inflight"].add(job_id(job))
            return job
        return None


def job_id(job):
    return job["jobId"] if "jobData" in job else job["taskRun"]["id"]


def job_data(job):
    if "jobData" not in job:
        return json.dumps(job).encode()
    d = job["jobData"]
    return d.encode() if isinstance(d, str) else json.dumps(d).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", action="append",
                    help="an address to listen on (repeatable; default 127.0.0.1)")
    ap.add_argument("--jobs", help="a JSON array of WorkerJobs to dispatch")
    ap.add_argument("--record", required=True)
    ap.add_argument("--max-connection-age-ms", type=int, default=0)
    ap.add_argument("--basic-auth", help="USER:PASSWORD every call must carry (HTTP Basic)")
    ap.add_argument("--max-result-bytes", type=int, default=0,
                    help="refuse larger sendWorkerTaskResults with RESOURCE_EXHAUSTED")
    ap.add_argument("--kill-file",
                    help="when it appears: an executionKilled event for the id it holds")
    ap.add_argument("--maintenance-file",
                    help="while this file exists, heartbeat replies say maintenance: true")
    ap.add_argument("--tls-cert", help="serve TLS with this PEM certificate (chain)")
    ap.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    ap.add_argument("--tls-client-ca",
                    help="with TLS: require a client certificate signed by these PEM CAs")
    args = ap.parse_args()

    load_stubs()
    import grpc
    import connect_controller_pb2 as cc
    import connect_controller_pb2_grpc as cc_grpc
    import liveness_controller_pb2 as lc
    import liveness_controller_pb2_grpc as lc_grpc
    import request_pb2 as rq
    import worker_controller_pb2 as wc
    import worker_controller_pb2_grpc as wc_grpc

    record = Recorder(args.record)
    jobs = json.load(open(args.jobs)) if args.jobs else []
    disp = Dispatcher(jobs)
    instances = {}

    class Connect(cc_grpc.ConnectControllerServiceServicer):
        def connect(self, request, context):
            h = request.header
            record(rpc="connect", clientId=h.clientId, edition=h.edition,
                   messageFormat=h.messageFormat, threads=request.worker_num_threads)
            return cc.ConnectResponse(header=h, worker_group_id="default",
                                      worker_configs=b'{"anonymous-usage-report":{}}')

    class Liveness(lc_grpc.LivenessControllerServiceServicer):
        def heartbeat(self, request, context):
            msg = json.loads(request.message)
            inst = msg["instance"]
            wid = inst["id"]
            new_state = msg.get("newState")
            if new_state is None:
                instances[wid] = inst
                result = "SUCCEEDED"
            elif wid not in instances:
                result = "ABORTED"
            else:
                instances[wid]["state"] = new_state
                result = "SUCCEEDED"
            record(rpc="heartbeat", newState=new_state, state=inst.get("state"),
                   group=(inst.get("props") or {}).get("worker.group.id"), result=result)
            maintenance = bool(args.maintenance_file and os.path.exists(args.maintenance_file))
            reply = {"instance": instances.get(wid), "result": result,
                     "maintenance": maintenance}
            return lc.HeartbeatResponse(header=request.header,
                                        message=json.dumps(reply).encode())

    class Worker(wc_grpc.WorkerControllerServiceServicer):
        def streamWorkerJobs(self, request_iterator, context):
            with disp.cond:
                disp.streams += 1
                sid = disp.streams
            st = {"permits": 0, "max": 0, "inflight": set(), "open": True, "first": True,
                  "error": None}

            def reader():
                try:
                    for req in request_iterator:
                        with disp.cond:
                            if st["first"]:
                                if not req.HasField("connectionInfo"):
                                    st["error"] = "First message must contain connectionInfo"
                                    st["open"] = False
                                    disp.cond.notify_all()
                                    return
                                st["max"] = req.connectionInfo.maxConcurrency
                            for jid in req.completed_job_ids:
                                st["inflight"].discard(jid)
                            if req.permits >= 0:
                                st["permits"] = req.permits
                            ci = None
                            if req.HasField("connectionInfo"):
                                c = req.connectionInfo
                                ci = {"workerId": c.workerId,
                                      "worker_group_id": c.worker_group_id,
                                      "maxConcurrency": c.maxConcurrency,
                                      "max_inbound_message_size": c.max_inbound_message_size}
                            record(rpc="stream", stream=sid, first=st["first"],
                                   permits=req.permits, completed=list(req.completed_job_ids),
                                   connectionInfo=ci, inflight=len(st["inflight"]))
                            st["first"] = False
                            disp.cond.notify_all()
                except Exception:  # the stream was cancelled
                    pass
                with disp.cond:
                    st["open"] = False
                    disp.cond.notify_all()

            threading.Thread(target=reader, daemon=True).start()
            try:
                while True:
                    with disp.cond:
                        job = kill = None
                        while st["open"] and context.is_active():
                            if (args.kill_file and not st.get("killed")
                                    and os.path.exists(args.kill_file)):
                                st["killed"] = True
                                kill = open(args.kill_file).read().strip()
                                break
                            job = disp.pop_for(st)
                            if job:
                                break
                            disp.cond.wait(0.2)
                        if kill:
                            record(rpc="event", stream=sid, executionId=kill)
                        elif not job:
                            break
                        else:
                            record(rpc="dispatch", stream=sid, jobId=job_id(job),
                                   inflight=len(st["inflight"]))
                    if kill:
                        event = {"type": "executionKilled",
                                 "payload": {"type": "execution", "state": "EXECUTED",
                                             "tenantId": "main", "executionId": kill,
                                             "isOnKillCascade": True}}
                        yield wc.WorkerJobResponse(
                            header=rq.RequestOrResponseHeader(clientId="controller"),
                            events=[json.dumps(event).encode()])
                        continue
                    yield wc.WorkerJobResponse(
                        header=rq.RequestOrResponseHeader(clientId="controller"),
                        jobs=[wc.WorkerJobPayload(jobId=job_id(job), jobData=job_data(job))])
            finally:
                record(rpc="stream-end", stream=sid)
            if st["error"]:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, st["error"])

        def _records(self, kind, request):
            body = json.loads(request.message) if request.message else {}
            record(rpc=kind, records=body.get("records", []))
            return rq.OpaqueData(header=request.header)

        def sendWorkerTaskResults(self, request, context):
            if args.max_result_bytes and len(request.message) > args.max_result_bytes:
                record(rpc="refused", bytes=len(request.message))
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "message too large")
            return self._records("results", request)

        def sendWorkerTriggerResults(self, request, context):
            return self._records("triggers", request)

        def sendWorkerLogEntries(self, request, context):
            return self._records("logs", request)

        def sendWorkerMetricEntries(self, request, context):
            return self._records("metrics", request)

    options = []
    if args.max_connection_age_ms:
        options += [("grpc.max_connection_age_ms", args.max_connection_age_ms),
                    ("grpc.max_connection_age_grace_ms", 30000)]
    interceptors = []
    if args.basic_auth:
        import base64
        expected = "Basic " + base64.b64encode(args.basic_auth.encode()).decode()

        class BasicAuth(grpc.ServerInterceptor):
            def intercept_service(self, continuation, details):
                got = dict(details.invocation_metadata).get("authorization")
                if got == expected:
                    return continuation(details)
                record(rpc="unauthenticated", method=details.method, sent=got is not None)

                def deny(request, context):
                    context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                  "missing or invalid credentials")
                return grpc.unary_unary_rpc_method_handler(deny)

        interceptors.append(BasicAuth())
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=options,
                         interceptors=interceptors)
    cc_grpc.add_ConnectControllerServiceServicer_to_server(Connect(), server)
    lc_grpc.add_LivenessControllerServiceServicer_to_server(Liveness(), server)
    wc_grpc.add_WorkerControllerServiceServicer_to_server(Worker(), server)
    creds = None
    if args.tls_cert:
        def read(path):
            with open(path, "rb") as f:
                return f.read()
        creds = grpc.ssl_server_credentials(
            [(read(args.tls_key), read(args.tls_cert))],
            root_certificates=read(args.tls_client_ca) if args.tls_client_ca else None,
            require_client_auth=bool(args.tls_client_ca))
    addresses = ["[%s]:%d" % (h, args.port) if ":" in h else "%s:%d" % (h, args.port)
                 for h in args.host or ["127.0.0.1"]]
    for address in addresses:
        if args.tls_cert:
            server.add_secure_port(address, creds)
        else:
            server.add_insecure_port(address)
    server.start()
    print("controller listening on %s%s" % (", ".join(addresses), " (TLS)" if args.tls_cert else ""),
          flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop(0)


if __name__ == "__main__":
    main()
