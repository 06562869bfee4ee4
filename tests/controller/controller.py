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

With --meta FILE it serves KVMetadataService (findByName) and NamespaceFileMetadataService
(findByPath, findAll) from FILE, {"kv": [PersistedKvMetadata…], "files": [NamespaceFileMetadata…]}
(a row without tenantId matches any tenant); --meta-hold-ms N answers each of those calls N ms
late (a controller slow or killed mid-lookup), and sends the chunks after the first of a value
or content N ms late. Without --meta (or with --no-meta) the services
are not registered: grpcio answers UNIMPLEMENTED, as a controller without them does.
The same FILE's "values" {"ns/key": Ion text, or {"expired": true}} and "contents"
{"ns/object": text} (object as kestra-2x-protocol.md §2.8 has it, "scripts/main.py.v2") feed
KVStoreService.getRawValue (NOT_FOUND: no value, FAILED_PRECONDITION: expired) and
NamespaceFileContentService.get (NOT_FOUND: no content), streamed in StreamChunks of at most
--chunk-bytes (1 MiB, as Kestra's ChunkedStreamWriter); --no-content leaves those two services
unregistered (UNIMPLEMENTED).

--bench N (bench/grpc.sh) replaces --jobs with N trivial shell tasks (`date +%s%6N`, the Process
runner) dispatched as fast as permits allow; dispatch and results entries carry "at" (this
machine's clock, µs) and, once every task has a final result, one "bench-done" entry holds the
stand-in's own CPU time from the first dispatch on (record.py FILE bench sums it up). With
--bench-serial the tasks go one at a time, each 20-200 ms after the last completion (an idle
worker's latency, as bench/queue.sh measures it on 1.x).

  {"rpc": "connect", "clientId", "edition", "messageFormat", "threads"}
  {"rpc": "heartbeat", "newState", "state", "group", "result"}
  {"rpc": "stream", "stream": n, "first": bool, "permits", "completed": [...],
   "connectionInfo": {...} | null, "inflight": n (after the completions)}
  {"rpc": "dispatch", "stream": n, "jobId", "inflight": n (with it), "at": µs}
  {"rpc": "results" | "triggers" | "logs" | "metrics", "records": [...]} (results: "at": µs)
  {"rpc": "bench-done", "tasks": n, "cpu_s": seconds, "at": µs} (--bench)
  {"rpc": "stream-end", "stream": n}
  {"rpc": "unauthenticated", "method": ...}   (--basic-auth, --unauthenticated-file)
  {"rpc": "meta", "method", "tenant", "namespace", "name" (a key or a path; null for findAll)}
  {"rpc": "content", "method", "tenant", "namespace", "name" (a key or an object), "chunks": n}

--encryption-key KEY puts KEY in connect's worker_configs as "encryption.secret-key";
--unauthenticated-file PATH refuses the four send* calls with UNAUTHENTICATED while PATH exists.

Nothing here is Kestra's code; it follows the spec's words.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
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

    serial = False  # --bench-serial: one job at a time, 20-200 ms after the last completion
    next_at = 0.0

    def pop_for(self, st):
        if self.serial and (st["inflight"] or time.monotonic() < self.next_at):
            return None
        if st["permits"] > 0 and len(st["inflight"]) < st["max"] and self.queue:
            job = self.queue.pop(0)
            st["permits"] -= 1
            st["inflight"].add(job_id(job))
            return job
        return None


def now_us():
    return time.time_ns() // 1000


def bench_jobs(n):
    """N WorkerTasks as Kestra 2.x's executor sends them: a shell task printing its start time."""
    def job(i):
        tid = "b%d" % i
        return {"type": "task",
                "taskRun": {"tenantId": "main", "id": tid, "executionId": "x-" + tid,
                            "namespace": "company.team", "flowId": "bench", "taskId": "t",
                            "attempts": [], "outputs": None,
                            "state": {"current": "SUBMITTED", "histories": [
                                {"state": "CREATED", "date": "2026-09-02T10:15:30.101234Z"},
                                {"state": "SUBMITTED", "date": "2026-09-02T10:15:30.201234Z"}]}},
                "task": {"id": "t", "type": "io.kestra.plugin.scripts.shell.Commands",
                         "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
                         "commands": ["date +%s%6N"]},
                "data": {"variables": {"flow": {"id": "bench", "namespace": "company.team",
                                                "tenantId": "main"},
                                       "execution": {"id": "x-" + tid}},
                         "secretInputs": [], "traceParent": None},
                "executionKind": "NORMAL"}
    return [job(i) for i in range(1, n + 1)]


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
    ap.add_argument("--unauthenticated-file",
                    help="while this file exists, the four send* calls are refused with "
                    "UNAUTHENTICATED (credentials refused for a while)")
    ap.add_argument("--encryption-key",
                    help="connect's worker_configs carry it as encryption.secret-key")
    ap.add_argument("--meta", help="a JSON fixture {kv: [...], files: [...]} to serve")
    ap.add_argument("--no-meta", action="store_true",
                    help="no metadata services: their calls end UNIMPLEMENTED")
    ap.add_argument("--no-content", action="store_true",
                    help="no KVStoreService / NamespaceFileContentService (UNIMPLEMENTED)")
    ap.add_argument("--chunk-bytes", type=int, default=1 << 20,
                    help="the largest StreamChunk of a KV value or namespace-file content")
    ap.add_argument("--meta-hold-ms", type=int, default=0,
                    help="answer each metadata call this late")
    ap.add_argument("--bench", type=int, default=0,
                    help="dispatch N trivial shell tasks as fast as permits allow (bench/grpc.sh)")
    ap.add_argument("--bench-serial", action="store_true",
                    help="--bench one task at a time, each 20-200 ms after the last completion")
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
    import kv_store_pb2_grpc as kv_grpc
    import metastore_pb2_grpc as ms_grpc
    import namespace_file_content_pb2_grpc as nf_grpc
    import request_pb2 as rq
    import worker_controller_pb2 as wc
    import worker_controller_pb2_grpc as wc_grpc

    record = Recorder(args.record)
    if args.bench:
        jobs = bench_jobs(args.bench)
    else:
        jobs = json.load(open(args.jobs)) if args.jobs else []
    disp = Dispatcher(jobs)
    disp.serial = args.bench_serial
    bench = {"cpu0": None, "final": set(), "done": False}
    instances = {}

    class Connect(cc_grpc.ConnectControllerServiceServicer):
        def connect(self, request, context):
            h = request.header
            record(rpc="connect", clientId=h.clientId, edition=h.edition,
                   messageFormat=h.messageFormat, threads=request.worker_num_threads)
            configs = {"anonymous-usage-report": {}}
            if args.encryption_key is not None:
                configs["encryption.secret-key"] = args.encryption_key
            return cc.ConnectResponse(header=h, worker_group_id="default",
                                      worker_configs=json.dumps(configs).encode())

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
                                disp.next_at = time.monotonic() + random.uniform(0.02, 0.2)
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
                            disp.cond.wait(max(0.001, min(0.2, disp.next_at - time.monotonic()))
                                           if disp.serial else 0.2)
                        if kill:
                            record(rpc="event", stream=sid, executionId=kill)
                        elif not job:
                            break
                        else:
                            if args.bench and bench["cpu0"] is None:
                                bench["cpu0"] = time.process_time()
                            record(rpc="dispatch", stream=sid, jobId=job_id(job),
                                   inflight=len(st["inflight"]), at=now_us())
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

        def _records(self, kind, request, context, **extra):
            if args.unauthenticated_file and os.path.exists(args.unauthenticated_file):
                record(rpc="unauthenticated", method=kind)
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid credentials")
            body = json.loads(request.message) if request.message else {}
            records = body.get("records", [])
            record(rpc=kind, records=records, **extra)
            return records

        def sendWorkerTaskResults(self, request, context):
            if args.max_result_bytes and len(request.message) > args.max_result_bytes:
                record(rpc="refused", bytes=len(request.message))
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "message too large")
            records = self._records("results", request, context, at=now_us())
            if args.bench:
                self._bench_count(records)
            return rq.OpaqueData(header=request.header)

        def _bench_count(self, records):
            with disp.cond:
                for r in records:
                    if r["taskRun"]["state"]["current"] != "RUNNING":
                        bench["final"].add(r["taskRun"]["id"])
                if len(bench["final"]) < args.bench or bench["done"]:
                    return
                bench["done"] = True
                cpu = time.process_time() - bench["cpu0"]
            record(rpc="bench-done", tasks=args.bench, cpu_s=round(cpu, 3), at=now_us())

        def sendWorkerTriggerResults(self, request, context):
            self._records("triggers", request, context)
            return rq.OpaqueData(header=request.header)

        def sendWorkerLogEntries(self, request, context):
            self._records("logs", request, context)
            return rq.OpaqueData(header=request.header)

        def sendWorkerMetricEntries(self, request, context):
            self._records("metrics", request, context)
            return rq.OpaqueData(header=request.header)

    meta = json.load(open(args.meta)) if args.meta and not args.no_meta else None

    def rows(kind, tenant, ns):
        return [r for r in (meta or {}).get(kind, [])
                if r.get("namespace") == ns and r.get("tenantId", tenant) == tenant]

    def meta_call(method, request, name):
        record(rpc="meta", method=method, tenant=request.tenant_id,
               namespace=getattr(request, "namespace"), name=name)
        if args.meta_hold_ms:
            threading.Event().wait(args.meta_hold_ms / 1000.0)

    def opaque(request, value):
        body = b"" if value is None else json.dumps(value).encode()
        return rq.OpaqueData(header=request.header, message=body)

    class KVMetadata(ms_grpc.KVMetadataServiceServicer):
        def findByName(self, request, context):
            meta_call("KVMetadataService/findByName", request, request.name)
            found = [r for r in rows("kv", request.tenant_id, getattr(request, "namespace"))
                     if r.get("name") == request.name and r.get("last", True)]
            return opaque(request, found[-1] if found else None)

    class FileMetadata(ms_grpc.NamespaceFileMetadataServiceServicer):
        def findByPath(self, request, context):
            meta_call("NamespaceFileMetadataService/findByPath", request, request.path)
            found = [r for r in rows("files", request.tenant_id, getattr(request, "namespace"))
                     if r.get("path") == request.path and r.get("last", True)
                     and (request.allow_deleted or not r.get("deleted"))]
            return opaque(request, found[-1] if found else None)

        def findAll(self, request, context):
            meta_call("NamespaceFileMetadataService/findAll", request, None)
            return opaque(request, [r for r in rows("files", request.tenant_id,
                                                    getattr(request, "namespace"))
                                    if r.get("last", True) and not r.get("deleted")])

    def stream(method, request, name, kind, context):
        ns = getattr(request, "namespace")
        value = (meta or {}).get(kind, {}).get(ns + "/" + name)
        chunks = []
        if isinstance(value, str):
            body = value.encode()
            chunks = [body[i:i + args.chunk_bytes]
                      for i in range(0, len(body), args.chunk_bytes)] or [b""]
        record(rpc="content", method=method, tenant=request.tenant_id, namespace=ns,
               name=name, chunks=len(chunks))
        if value is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "no %s for %s in %s" % (kind, name, ns))
        if not isinstance(value, str):
            # KESTRA 2.x: getRawValue of an expired value.
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          "The requested value has expired")
        for i, c in enumerate(chunks):
            yield rq.StreamChunk(header=request.header, content=c)
            if i == 0 and len(chunks) > 1 and args.meta_hold_ms:
                # A controller slow or killed mid-stream: the rest comes this late.
                threading.Event().wait(args.meta_hold_ms / 1000.0)

    class KVStore(kv_grpc.KVStoreServiceServicer):
        def getRawValue(self, request, context):
            yield from stream("KVStoreService/getRawValue", request, request.key, "values",
                              context)

    class FileContent(nf_grpc.NamespaceFileContentServiceServicer):
        def get(self, request, context):
            yield from stream("NamespaceFileContentService/get", request,
                              getattr(request, "object"), "contents", context)

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
    if meta is not None:
        ms_grpc.add_KVMetadataServiceServicer_to_server(KVMetadata(), server)
        ms_grpc.add_NamespaceFileMetadataServiceServicer_to_server(FileMetadata(), server)
    if meta is not None and not args.no_content:
        kv_grpc.add_KVStoreServiceServicer_to_server(KVStore(), server)
        nf_grpc.add_NamespaceFileContentServiceServicer_to_server(FileContent(), server)
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
