#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kestra 2.x through the worker controller (gRPC, transport/grpc/), against the project's stand-in
# (tests/controller/controller.py, serving transport/grpc/proto): connect, heartbeat registration
# then RUNNING, the job stream with connectionInfo first; the reference jobs of
# tests/integration/fixtures/grpc_jobs.json (a shell task with outputs, metrics and exit 0, a
# failing one, a Log task, four that sleep, Python and Node Script and Commands tasks) run with their results, logs and metrics; permits
# never above the free slots; a completion for every job; undecodable jobData, a job without
# data, an unknown task type, a trigger job, a result too large (grpc_edge_jobs.json); a kill event; maintenance
# on and off through heartbeat replies; GOAWAY (max connection age); Basic credentials; the
# encryption key pushed by connect (and a configured one overriding it); the senders'
# credentials refused for a while (UNAUTHENTICATED); the controller killed and restarted
# while a task runs: the result arrives once, after the reconnection; SIGTERM ends with
# TERMINATING then TERMINATED_GRACEFULLY.
source "$(dirname "$0")/../lib/it.sh"
source "$(dirname "$0")/../lib/grpc_env.sh"
lines_at_least() { [ "$(grep -c "$1" "$2")" -ge "$3" ]; }

# --- the reference jobs, concurrency 2
R1=$IT_TMP/main.jsonl
P1=$(free_port)
controller ctl1 "$P1" "$R1" --jobs "$FIX/grpc_jobs.json"
# Debian's python and node for Process tasks (a user's pyenv shims would not run as the task user).
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin gworker w1 "$P1" --concurrency 2
W1=$WORKER_PID
JOBS1="ok fail log slow1 slow2 slow3 slow4 pyscript pycmd pyfail nodescript nodecmd"
for id in $JOBS1; do
  wait_for "a final result for $id" 60 is_final "$R1" "$id"
done
expect_eq "$(q "$R1" connects)" 1 "one connect call"
expect_match "$(q "$R1" heartbeats)" "^None,RUNNING" "heartbeat: registration (newState null), then RUNNING"
expect_eq "$(q "$R1" first-info)" yes "the stream's first message carries connectionInfo"
expect_eq "$(q "$R1" final ok)" SUCCESS "shell task: SUCCESS"
expect_eq "$(q "$R1" outputs ok)" '{"exitCode": 0, "outputFiles": {}, "vars": {"answer": 42}}' \
  "shell task: outputs beside the task run (exitCode, vars from ::{}::)"
expect_match "$(q "$R1" logs ok)" "hello f ok" "shell task: its output line as a LogEntry (flow.id, taskrun.id rendered)"
expect_eq "$(q "$R1" metrics ok)" "rows=3" "shell task: its metric"
expect_eq "$(q "$R1" running ok)" 1 "shell task: one RUNNING result before the final one"
expect_eq "$(q "$R1" final fail)" FAILED "failing task: FAILED"
expect_eq "$(q "$R1" outputs fail)" '{"exitCode": 3, "outputFiles": {}, "vars": {}}' "failing task: exitCode 3"
expect_match "$(q "$R1" logs fail)" "exit code 3" "failing task: the ERROR log names the exit code"
expect_eq "$(q "$R1" final log)" SUCCESS "Log task: SUCCESS"
expect_eq "$(q "$R1" logs log)" "log company.team log *******" "Log task: rendered, the SECRET input masked"
# Python and Node, as the 1.x path runs them (test_e2e.sh, test_fidelity.sh).
expect_eq "$(q "$R1" final pyscript)" SUCCESS "python Script: SUCCESS"
expect_match "$(q "$R1" levels pyscript)" "\\| INFO py true True( \\||$)" "python Script: the language's variables, run in its working directory"
expect_eq "$(q "$R1" outputs pyscript)" '{"exitCode": 0, "outputFiles": {}, "vars": {"flow": "f", "n": 7}}' \
  "python Script: rendered, its ::{outputs}:: beside exitCode"
expect_match "$(q "$R1" final pycmd)/$(q "$R1" levels pycmd)" "^SUCCESS/DEBUG Starting command .*\\| INFO true 1 \\| DEBUG Command succeed with exit code 0$" \
  "python Commands with the language's variables"
expect_eq "$(q "$R1" final pyfail)" FAILED "python Commands exiting 5: FAILED"
expect_eq "$(q "$R1" outputs pyfail)" '{"exitCode": 5, "outputFiles": {}, "vars": {}}' "python Commands: exitCode 5"
expect_match "$(q "$R1" levels pyfail)" "\\| INFO giving up \\| ERROR .*exit code 5" "python Commands: its output, then the ERROR log naming the exit code"
expect_eq "$(q "$R1" final nodescript)" SUCCESS "node Script: SUCCESS"
expect_eq "$(q "$R1" outputs nodescript | jq -r '.vars.greeting + " " + (.exitCode | tostring)')" "HELLO 0" \
  "node Script: rendered, run, outputs"
expect_match "$(q "$R1" outputs nodescript | jq -r .vars.version)" "^v[0-9]+$" "node Script: node's version in its outputs"
expect_match "$(q "$R1" final nodecmd)/$(q "$R1" levels nodecmd)" "^SUCCESS/DEBUG Starting command .*\\| INFO 42 \\| DEBUG Command succeed with exit code 0$" "node Commands"
expect_eq "$(q "$R1" max-permits)" 2 "permits never above the concurrency"
expect_eq "$(q "$R1" max-running)" 2 "never more than 2 tasks running at once"
expect_eq "$(q "$R1" max-inflight)" 2 "the controller never had more than 2 jobs in flight"
for id in $JOBS1; do
  wait_for "the completion of $id" 10 answer_is "$R1" completed "$id" 1
done
pass "a completion for every job, once"
it_stop "$W1" 30
expect_eq "$STOP_RC" 0 "SIGTERM: the worker stops cleanly"
expect_match "$(q "$R1" heartbeats)" "TERMINATING,TERMINATED_GRACEFULLY$" "heartbeats TERMINATING then TERMINATED_GRACEFULLY"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- jobs kwg cannot run, a kill event, maintenance through the heartbeat replies
R3=$IT_TMP/edge.jsonl
P3=$(free_port)
controller ctl3 "$P3" "$R3" --jobs "$FIX/grpc_edge_jobs.json" --kill-file "$IT_TMP/kill" \
  --maintenance-file "$IT_TMP/maintenance" --max-result-bytes 20000
gworker w3 "$P3" --concurrency 2
W3=$WORKER_PID
wait_for "the undecodable job reported completed" 20 answer_is "$R3" completed junk 1
expect_match "$(cat "$IT_TMP/w3.log")" "job 'junk' cannot be read and is dropped" "undecodable jobData: an error naming the job, the worker goes on"
wait_for "nodata's final result" 20 is_final "$R3" nodata
expect_eq "$(q "$R3" final nodata)" FAILED "a task job without data: FAILED"
expect_match "$(q "$R3" logs nodata)" "\\\$.job.data" "with an ERROR log naming \$.job.data"
wait_for "unknown's final result" 20 is_final "$R3" unknown
expect_eq "$(q "$R3" final unknown)" FAILED "a task type kwg does not have: FAILED"
expect_match "$(q "$R3" logs unknown)" "io.kestra.plugin.foo.Bar" "with an ERROR log naming the type"
wait_for "the trigger's result" 20 answer_is "$R3" completed main_company.team_f_tr 1
expect_eq "$(q "$R3" triggers)" \
  '[{"dispatchEpoch": 7, "evaluation": null, "id": {"flowId": "f", "namespace": "company.team", "tenantId": "main", "triggerId": "tr"}, "type": "POLLING"}]' \
  "a trigger job: a WorkerTriggerResult without evaluation, its dispatchEpoch echoed, and a completion"
wait_for "big's final result" 20 is_final "$R3" big
expect_eq "$(q "$R3" final big)/$(q "$R3" outputs big)" FAILED/null \
  "a result too large for the controller (RESOURCE_EXHAUSTED): sent again FAILED without outputs"
expect_eq "$(grep -c '"refused"' "$R3")" 1 "refused once"
wait_for "killme running" 20 answer_is "$R3" running killme 1
echo x-killme >"$IT_TMP/kill"
wait_for "killme's final result" 20 is_final "$R3" killme
expect_eq "$(q "$R3" final killme)" KILLED "an executionKilled event on the stream: the task ends KILLED"
wait_for "the completion of killme" 10 answer_is "$R3" completed killme 1
wait_for "permits back to 2" 10 answer_is "$R3" last-permits "" 2
touch "$IT_TMP/maintenance"
wait_for "heartbeat MAINTENANCE" 10 grep -q '"newState": "MAINTENANCE"' "$R3"
wait_for "permits 0 in maintenance" 10 answer_is "$R3" last-permits "" 0
pass "maintenance in a heartbeat reply: state MAINTENANCE, permits 0"
rm "$IT_TMP/maintenance"
wait_for "permits back after maintenance" 10 answer_is "$R3" last-permits "" 2
expect_match "$(q "$R3" heartbeats)" "MAINTENANCE,(MAINTENANCE,)*RUNNING" "maintenance off: RUNNING again, permits 2"
it_stop "$W3" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- GOAWAY after the controller's max connection age (2 s here): routine, the task goes on
R4=$IT_TMP/goaway.jsonl
P4=$(free_port)
controller ctl4 "$P4" "$R4" --jobs "$FIX/grpc_restart_jobs.json" --max-connection-age-ms 2000
gworker w4 "$P4" --concurrency 1
W4=$WORKER_PID
wait_for "long's final result across GOAWAYs" 60 is_final "$R4" long
expect_match "$(cat "$IT_TMP/w4.log")" "GOAWAY; opening a new connection" "GOAWAY: a new connection at once"
expect_eq "$(q "$R4" final long)/$(q "$R4" running long)" SUCCESS/1 "the task ran on: one RUNNING, one final result"
expect_match "$(q "$R4" first-info)" "^yes,yes" "the stream reopened, connectionInfo first again"
expect_eq "$(grep -c ' [EW] grpc:' "$IT_TMP/w4.log" || true)" 0 "no warning or error from the transport: GOAWAY is routine"
it_stop "$W4" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- HTTP Basic credentials (kestra.grpc.basicAuth): wrong ones are refused, right ones work
R5=$IT_TMP/auth.jsonl
P5=$(free_port)
controller ctl5 "$P5" "$R5" --jobs "$FIX/grpc_restart_jobs.json" --basic-auth 'kwg:s3cret:x'
printf 'kwg:wrong\n' >"$IT_TMP/bad-auth"
printf 'kwg:s3cret:x\n' >"$IT_TMP/auth"
gworker w5bad "$P5" --controller-basic-auth-file "$IT_TMP/bad-auth"
wait "$WORKER_PID" && rc=0 || rc=$?
expect_eq "$rc" 1 "wrong credentials: the worker stops (exit 1)"
expect_match "$(cat "$IT_TMP/w5bad.log")" "connect: UNAUTHENTICATED: missing or invalid credentials; refusing" "saying the controller refused it"
expect_eq "$(grep -c 'wrong\|s3cret' "$IT_TMP/w5bad.log" || true)" 0 "the credentials are never logged"
"$KWGT_BIN" worker --controller "127.0.0.1:$P5" --controller-basic-auth 'kwg:s3cret:x' -n \
  >"$IT_TMP/flag.out" 2>&1 && rc=0 || rc=$?
expect_eq "$rc/$(grep -c 'show the credentials in ps' "$IT_TMP/flag.out")" 64/1 "credentials on the command line in clear are refused"
KWG_CONTROLLER_BASIC_AUTH_FILE=$IT_TMP/auth gworker w5 "$P5"
W5=$WORKER_PID
wait_for "long's final result with credentials" 30 is_final "$R5" long
expect_eq "$(q "$R5" final long)" SUCCESS "right credentials (KWG_CONTROLLER_BASIC_AUTH_FILE): the job runs"
it_stop "$W5" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- the encryption key pushed by connect (worker_configs "encryption.secret-key"): a SECRET
# input (encrypted here by python3-cryptography's AESGCM, as Kestra's EncryptionService writes it)
# decrypts with it; a configured encryption_secret_key wins over it; an unusable one is refused
# with an ERROR naming where it came from. The key is never logged.
if "$PY" -c 'import cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null; then
  PLAIN='Pa55-w0rd-2x'
  new_key() { "$PY" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'; }
  # secret_job FILE ID KEY: adds to FILE (a JSON array) a shell job whose input creds.pass is
  # PLAIN encrypted with KEY.
  secret_job() {
    "$PY" - "$1" "$2" "$3" "$PLAIN" <<'PY'
import base64, json, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
path, jid, key, plain = sys.argv[1:]
iv = os.urandom(12)
enc = base64.b64encode(iv + AESGCM(base64.b64decode(key)).encrypt(iv, plain.encode(), None)).decode()
state = {"current": "SUBMITTED", "histories": [{"state": "CREATED", "date": "2026-09-02T10:15:30.101234Z"},
                                              {"state": "SUBMITTED", "date": "2026-09-02T10:15:30.201234Z"}]}
job = {"type": "task",
       "taskRun": {"tenantId": "main", "id": jid, "executionId": "x-" + jid, "namespace": "company.team",
                   "flowId": "f", "taskId": "echo", "attempts": [], "outputs": None, "state": state},
       "task": {"id": "echo", "type": "io.kestra.plugin.scripts.shell.Commands",
                "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
                "commands": ["echo \"pass={{ inputs.creds.pass }}\"",
                             "echo '::{\"outputs\":{\"pw\":\"{{ inputs.creds.pass }}\"}}::'"]},
       "data": {"variables": {"flow": {"id": "f", "namespace": "company.team", "tenantId": "main"},
                              "execution": {"id": "x-" + jid},
                              "inputs": {"creds": {"pass": {"type": "io.kestra.datatype:aes_encrypted",
                                                            "value": enc}}}},
                "secretInputs": ["creds"], "traceParent": None},
       "executionKind": "NORMAL"}
jobs = json.load(open(path)) if os.path.exists(path) else []
json.dump(jobs + [job], open(path, "w"))
PY
  }
  KEY=$(new_key)
  OTHER_KEY=$(new_key)

  # The controller pushes KEY, the worker has none of its own: the pushed one decrypts.
  R6=$IT_TMP/pushed.jsonl
  P6=$(free_port)
  secret_job "$IT_TMP/pushed.json" pushed "$KEY"
  secret_job "$IT_TMP/pushed.json" pushedwrong "$OTHER_KEY"
  controller ctl6 "$P6" "$R6" --jobs "$IT_TMP/pushed.json" --encryption-key "$KEY"
  gworker w6 "$P6"
  W6=$WORKER_PID
  wait_for "pushed's final result" 30 is_final "$R6" pushed
  expect_eq "$(q "$R6" final pushed)" SUCCESS "the controller's key decrypts a SECRET input"
  expect_eq "$(q "$R6" outputs pushed)" "{\"exitCode\": 0, \"outputFiles\": {}, \"vars\": {\"pw\": \"$PLAIN\"}}" \
    "the task's output is the plaintext"
  expect_match "$(q "$R6" logs pushed)" 'pass=\*+masked\*+' "the log line shows the value masked"
  wait_for "pushedwrong's final result" 30 is_final "$R6" pushedwrong
  expect_eq "$(q "$R6" final pushedwrong)" FAILED "a value encrypted with another key: FAILED"
  expect_match "$(q "$R6" logs pushedwrong)" \
    "input 'creds.pass' cannot be decrypted with the key the controller pushed \(encryption.secret-key\) \(Tag mismatch\)" \
    "the ERROR log names the input and the pushed key (not the setting)"
  expect_eq "$(grep -c 'encryption key: the one the controller pushed' "$IT_TMP/w6.log")" 1 \
    "INFO once: the pushed key is in use"
  expect_eq "$(grep -c -- "$KEY" "$IT_TMP/w6.log" || true)" 0 "the key is never logged"
  it_stop "$W6" 30
  expect_eq "$STOP_RC" 0 "the worker stops cleanly"
  kill -TERM "$CTL_PID"
  wait "$CTL_PID" 2>/dev/null || true

  # The controller pushes OTHER_KEY, the worker is configured with KEY: the configured one wins.
  R7=$IT_TMP/configured.jsonl
  P7=$(free_port)
  secret_job "$IT_TMP/configured.json" configured "$KEY"
  printf '%s' "$KEY" >"$IT_TMP/enc-key"
  controller ctl7 "$P7" "$R7" --jobs "$IT_TMP/configured.json" --encryption-key "$OTHER_KEY"
  KWG_ENCRYPTION_SECRET_KEY_FILE=$IT_TMP/enc-key gworker w7 "$P7"
  W7=$WORKER_PID
  wait_for "configured's final result" 30 is_final "$R7" configured
  expect_eq "$(q "$R7" final configured)" SUCCESS "a configured encryption_secret_key overrides the pushed one"
  expect_match "$(q "$R7" outputs configured)" "\"pw\": \"$PLAIN\"" "decrypted with the configured key"
  expect_eq "$(grep -c 'encryption key: encryption_secret_key (configured); the one the controller pushed is not used' "$IT_TMP/w7.log")" 1 \
    "INFO once: the configured key is in use, the pushed one is not"
  expect_eq "$(grep -c -- "$KEY\|$OTHER_KEY" "$IT_TMP/w7.log" || true)" 0 "neither key is logged"
  it_stop "$W7" 30
  expect_eq "$STOP_RC" 0 "the worker stops cleanly"
  kill -TERM "$CTL_PID"
  wait "$CTL_PID" 2>/dev/null || true

  # The controller pushes a key of 5 bytes: an ERROR naming its source; the task fails saying
  # the input cannot be decrypted, the worker goes on.
  R8=$IT_TMP/badkey.jsonl
  P8=$(free_port)
  secret_job "$IT_TMP/badkey.json" badkey "$KEY"
  controller ctl8 "$P8" "$R8" --jobs "$IT_TMP/badkey.json" --encryption-key 'c2hvcnQ='
  gworker w8 "$P8"
  W8=$WORKER_PID
  wait_for "badkey's final result" 30 is_final "$R8" badkey
  expect_match "$(cat "$IT_TMP/w8.log")" \
    " E worker: the encryption key pushed by the controller \(connect: worker_configs encryption.secret-key\) is not usable: Invalid AES key length: 5 bytes" \
    "an unusable pushed key: an ERROR naming the source and the reason"
  expect_eq "$(grep -c 'c2hvcnQ=' "$IT_TMP/w8.log" || true)" 0 "the unusable key is not quoted"
  expect_eq "$(q "$R8" final badkey)" FAILED "without a usable key the task FAILED"
  expect_match "$(q "$R8" logs badkey)" "input 'creds.pass' is encrypted" "naming the input"
  it_stop "$W8" 30
  expect_eq "$STOP_RC" 0 "the worker stops cleanly"
  kill -TERM "$CTL_PID"
  wait "$CTL_PID" 2>/dev/null || true
else
  fail "python3-cryptography is missing (scripts/setup.sh installs it)"
fi

# --- the controller refuses the senders' credentials for a while (UNAUTHENTICATED): one ERROR
# for the streak, the records kept and retried with a backoff, an INFO when they are accepted
# again, and the result delivered exactly once.
R9=$IT_TMP/unauth.jsonl
P9=$(free_port)
touch "$IT_TMP/unauth"
# The restart test's job without its sleep: the retries back off from 1 s, so a short job keeps
# the wait short.
"$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); j[0]["task"]["commands"].remove("sleep 4"); json.dump(j, open(sys.argv[2], "w"))' \
  "$FIX/grpc_restart_jobs.json" "$IT_TMP/unauth.json"
controller ctl9 "$P9" "$R9" --jobs "$IT_TMP/unauth.json" --unauthenticated-file "$IT_TMP/unauth"
gworker w9 "$P9" --concurrency 1
W9=$WORKER_PID
wait_for "long done on the worker" 30 grep -q "task run 'long' finished" "$IT_TMP/w9.log"
wait_for "the result refused twice (a retry)" 30 lines_at_least '"method": "results", "rpc": "unauthenticated"' "$R9" 2
wait_for "three refused calls" 30 lines_at_least '"unauthenticated"' "$R9" 3
expect_eq "$(q "$R9" running long)/$(q "$R9" final long)" 0/ "nothing delivered while the credentials are refused"
expect_eq "$(grep -c 'refused the worker.s credentials' "$IT_TMP/w9.log")" 1 \
  "one ERROR for the whole streak, not one a call"
expect_match "$(cat "$IT_TMP/w9.log")" \
  " E grpc: controller 127.0.0.1:$P9 refused the worker's credentials \(UNAUTHENTICATED: invalid credentials\)" \
  "the ERROR names the controller and says the credentials were refused"
rm "$IT_TMP/unauth"
wait_for "long's final result once accepted" 60 is_final "$R9" long
wait_for "the recovery logged" 10 grep -q "accepts the worker's credentials again" "$IT_TMP/w9.log"
pass "an INFO says the controller accepts the credentials again"
expect_eq "$(q "$R9" final long)/$(q "$R9" running long)" SUCCESS/1 "kept, then delivered: one RUNNING, one final result"
expect_match "$(q "$R9" logs long)" "started" "the task's logs kept and delivered too"
n=$(grep -c '"heartbeat"' "$R9")
wait_for "two more heartbeats" 10 lines_at_least '"heartbeat"' "$R9" $((n + 2))
expect_eq "$(q "$R9" final long)/$(q "$R9" running long)" SUCCESS/1 "the result arrived exactly once"
it_stop "$W9" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- the controller dies while a task runs, and comes back: the result arrives once
R2=$IT_TMP/restart.jsonl
P2=$(free_port)
controller ctl2 "$P2" "$R2" --jobs "$FIX/grpc_restart_jobs.json"
gworker w2 "$P2" --concurrency 1
W2=$WORKER_PID
wait_for "long running" 30 answer_is "$R2" running long 1
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
wait_for "the worker sees the controller gone" 10 grep -q "reconnecting in" "$IT_TMP/w2.log"
controller ctl2b "$P2" "$R2"
wait_for "long's final result after the restart" 60 is_final "$R2" long
expect_eq "$(q "$R2" final long)" SUCCESS "the task ran on while the controller was away: SUCCESS"
expect_eq "$(q "$R2" outputs long)" '{"exitCode": 0, "outputFiles": {}, "vars": {"after": "restart"}}' \
  "its outputs arrive with it"
expect_eq "$(q "$R2" running long)" 1 "one RUNNING result"
expect_eq "$(q "$R2" connects)" 1 "connect is not redone on reconnection"
expect_match "$(q "$R2" heartbeats)" "None,RUNNING.*None" "the restarted controller did not know the worker: registered again"
expect_eq "$(q "$R2" first-info)" yes,yes "the new stream's first message carries connectionInfo again"
# Nothing else arrives late: a few more heartbeats, still one final result.
n=$(grep -c '"heartbeat"' "$R2")
wait_for "two more heartbeats" 10 lines_at_least '"heartbeat"' "$R2" $((n + 2))
expect_eq "$(q "$R2" final long)" SUCCESS "the result arrived exactly once"
expect_eq "$(grep -c ' E ' "$IT_TMP/w2.log" || true)" 0 "no error logged by the worker"
it_stop "$W2" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
it_done
