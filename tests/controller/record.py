#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Questions about what a worker sent the controller stand-in (controller.py --record FILE).

  record.py FILE final ID        the terminal states of task run ID's results, comma-separated
  record.py FILE running ID      how many RUNNING results task run ID got
  record.py FILE outputs ID      the outputs of ID's terminal result (JSON)
  record.py FILE logs ID         ID's log messages, ' | '-separated, in the order received
  record.py FILE levels ID       the same as LEVEL message, ' | '-separated
  record.py FILE metrics ID      ID's metrics as name=value, comma-separated
  record.py FILE completed ID    how many times ID was reported in completed_job_ids
  record.py FILE max-permits     the largest permits level the worker sent
  record.py FILE max-running     the most task runs between their RUNNING and final results at once
  record.py FILE max-inflight    the most jobs in flight on a stream (dispatched, not completed)
  record.py FILE first-info      each stream's first message: had connectionInfo? (yes/no list)
  record.py FILE heartbeats      the newState of each heartbeat, comma-separated
  record.py FILE connects        how many connect calls
  record.py FILE triggers        the WorkerTriggerResults received (a JSON array)
  record.py FILE last-permits    the permits of the worker's last stream message
  record.py FILE bench           a controller.py --bench run summed up (JSON): tasks, failed,
                                 latency_ms p50/p90/p99 (dispatch → the task's printed start),
                                 throughput_per_s (first dispatch → last final result), cpu_s
  record.py FILE bench-latencies the same run's latencies (ms), one a line
"""
import json
import sys

TERMINAL = {"SUCCESS", "FAILED", "WARNING", "KILLED", "CANCELLED"}


def entries(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                yield json.loads(line)


def results(path):
    for e in entries(path):
        if e["rpc"] == "results":
            for r in e["records"]:
                yield r


def pct(values, p):
    return values[int(len(values) * p)] if values else None


def bench(path):
    dispatched, started, final, done = {}, {}, {}, None
    for e in entries(path):
        if e["rpc"] == "dispatch":
            dispatched[e["jobId"]] = e["at"]
        elif e["rpc"] == "logs":
            for r in e["records"]:
                m = r.get("message", "").strip()
                if len(m) == 16 and m.isdigit():
                    started[r.get("taskRunId")] = int(m)
        elif e["rpc"] == "results":
            for r in e["records"]:
                st = r["taskRun"]["state"]["current"]
                if st in TERMINAL:
                    final[r["taskRun"]["id"]] = (st, e["at"])
        elif e["rpc"] == "bench-done":
            done = e
    if done is None:
        sys.exit("record.py: %s: no bench-done entry (the run did not finish)" % path)
    lat = sorted((started[j] - dispatched[j]) / 1000.0 for j in started if j in dispatched)
    span = (max(at for _, at in final.values()) - min(dispatched.values())) / 1e6
    return {"tasks": done["tasks"], "failed": sum(1 for st, _ in final.values() if st != "SUCCESS"),
            "started": len(lat), "latency_ms": {"p50": pct(lat, 0.5), "p90": pct(lat, 0.9),
                                                "p99": pct(lat, 0.99)},
            "span_s": round(span, 3), "throughput_per_s": round(len(final) / span, 1),
            "cpu_s": done["cpu_s"], "latencies": lat}


def main():
    path, what = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    if what == "final":
        print(",".join(r["taskRun"]["state"]["current"] for r in results(path)
                       if r["taskRun"]["id"] == arg and r["taskRun"]["state"]["current"] in TERMINAL))
    elif what == "running":
        print(sum(1 for r in results(path)
                  if r["taskRun"]["id"] == arg and r["taskRun"]["state"]["current"] == "RUNNING"))
    elif what == "outputs":
        out = [r.get("outputs") for r in results(path)
               if r["taskRun"]["id"] == arg and r["taskRun"]["state"]["current"] in TERMINAL]
        print(json.dumps(out[-1] if out else None, sort_keys=True))
    elif what == "logs":
        print(" | ".join(r["message"] for e in entries(path) if e["rpc"] == "logs"
                         for r in e["records"] if r.get("taskRunId") == arg))
    elif what == "levels":
        print(" | ".join("%s %s" % (r.get("level"), r["message"]) for e in entries(path)
                         if e["rpc"] == "logs" for r in e["records"] if r.get("taskRunId") == arg))
    elif what == "metrics":
        print(",".join("%s=%g" % (r["name"], r["value"]) for e in entries(path)
                       if e["rpc"] == "metrics" for r in e["records"] if r.get("taskRunId") == arg))
    elif what == "completed":
        print(sum(e["completed"].count(arg) for e in entries(path) if e["rpc"] == "stream"))
    elif what == "max-permits":
        print(max([e["permits"] for e in entries(path) if e["rpc"] == "stream"] or [0]))
    elif what == "max-running":
        running, most = set(), 0
        for r in results(path):
            tid, st = r["taskRun"]["id"], r["taskRun"]["state"]["current"]
            if st == "RUNNING":
                running.add(tid)
            elif st in TERMINAL:
                running.discard(tid)
            most = max(most, len(running))
        print(most)
    elif what == "max-inflight":
        print(max([e["inflight"] for e in entries(path) if e["rpc"] == "dispatch"] or [0]))
    elif what == "first-info":
        print(",".join("yes" if e["connectionInfo"] else "no" for e in entries(path)
                       if e["rpc"] == "stream" and e["first"]))
    elif what == "heartbeats":
        print(",".join(str(e["newState"]) for e in entries(path) if e["rpc"] == "heartbeat"))
    elif what == "connects":
        print(sum(1 for e in entries(path) if e["rpc"] == "connect"))
    elif what == "triggers":
        print(json.dumps([r for e in entries(path) if e["rpc"] == "triggers"
                          for r in e["records"]], sort_keys=True))
    elif what == "last-permits":
        print(([e["permits"] for e in entries(path) if e["rpc"] == "stream"] or [None])[-1])
    elif what == "bench":
        summary = bench(path)
        del summary["latencies"]
        print(json.dumps(summary, sort_keys=True))
    elif what == "bench-latencies":
        print("\n".join("%.3f" % v for v in bench(path)["latencies"]))
    else:
        sys.exit("record.py: unknown question '%s'" % what)


if __name__ == "__main__":
    main()
