#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kestra 2.x: KV and namespace-file metadata through the controller (kestra-2x-protocol.md §6.2;
# transport/grpc/meta.c), against the stand-in (tests/controller/controller.py --meta): the
# current revision of a KV value and of a namespace file from the controller's rows, the objects
# from the worker's own local storage; a missing key (errorOnMissing as on 1.x), a deleted one,
# an expired one; read() and namespaceFiles; a controller without the services (--no-meta):
# UNIMPLEMENTED gives the task a clear error, an ERROR log once, the worker goes on; the controller
# killed while a lookup waits for its answer and started again: the lookup is asked again and
# the task succeeds; GOAWAY while a lookup waits: it finishes on the old connection; a
# controller that never answers: the lookup fails after 30 s. With kv_worker_access and
# namespace_files_worker_access = controller (§6.3, transport/grpc/meta.c's content reads): KV
# values (one in two StreamChunks), an expired one, a missing one, namespaceFiles staged from
# NamespaceFileContentService without any storage; a controller without those services
# (--no-content): a clear error naming the setting, the worker alive; the controller killed
# mid-stream: the value read again whole.
source "$(dirname "$0")/../lib/it.sh"
source "$(dirname "$0")/../lib/grpc_env.sh"
STORE=$IT_TMP/storage
GWORKER_OPTS=(--storage-type local --storage-base-path "$STORE")
# jobs OUT ID=MESSAGE… | ID=@shell: 2.x WorkerJobs, Log tasks with MESSAGE (a template), or the
# shell task that stages the namespace files.
jobs() {
  local out=$1
  shift
  "$PY" - "$FIX/grpc_jobs.json" "$out" "$@" <<'PYEOF'
import copy, json, sys
ref = {j["taskRun"]["id"]: j for j in json.load(open(sys.argv[1])) if "taskRun" in j}
out = []
for spec in sys.argv[3:]:
    tid, msg = spec.split("=", 1)
    j = copy.deepcopy(ref["log"])
    j["taskRun"].update(id=tid, taskId=tid, executionId="x-" + tid)
    j["data"]["variables"]["execution"]["id"] = "x-" + tid
    if msg == "@shell":
        j["task"] = {"id": tid, "type": "io.kestra.plugin.scripts.shell.Commands",
                     "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
                     "namespaceFiles": {"enabled": True},
                     "commands": ["cat scripts/main.py; echo",
                                  "test ! -e norow.txt && test ! -e deleted.txt && "
                                  "test ! -e scripts/main.py.v3 && echo only-current"]}
    else:
        j["task"] = {"id": tid, "type": "io.kestra.plugin.core.log.Log", "message": msg}
    out.append(j)
json.dump(out, open(sys.argv[2], "w"))
PYEOF
}

# The objects in the worker's local storage (as test_kv_meta.sh lays them out); the rows in the
# controller's fixture.
KV=$STORE/main/company/team/_kv
FILES=$STORE/main/company/team/_files
mkdir -p "$KV" "$STORE/main/company/_kv" "$FILES/scripts"
printf '"stale"' >"$KV/greeting.ion"
printf '"current"' >"$KV/greeting.ion.v2"
printf '"still here"' >"$KV/gone.ion"
printf '"old"' >"$KV/old.ion"
printf '"no row"' >"$KV/norow.ion"
printf '"from the parent"' >"$STORE/main/company/_kv/inherited.ion"
printf 'print(1)' >"$FILES/scripts/main.py"
printf 'print(3)' >"$FILES/scripts/main.py.v3"
printf 'x' >"$FILES/deleted.txt"
printf 'y' >"$FILES/norow.txt"
cat >"$IT_TMP/meta.json" <<'JSON'
{"kv": [
  {"tenantId": "main", "namespace": "company.team", "name": "greeting", "version": 2, "last": true, "deleted": false},
  {"tenantId": "main", "namespace": "company.team", "name": "gone", "version": 1, "last": true, "deleted": true},
  {"tenantId": "main", "namespace": "company.team", "name": "old", "version": 1, "last": true, "deleted": false, "expirationDate": "2020-01-01T00:00:00.000Z"},
  {"tenantId": "main", "namespace": "company", "name": "inherited", "version": 1, "last": true, "deleted": false}],
 "files": [
  {"tenantId": "main", "namespace": "company.team", "path": "/scripts/main.py", "parentPath": "/scripts/", "version": 3, "last": true, "size": 8, "deleted": false},
  {"tenantId": "main", "namespace": "company.team", "path": "/deleted.txt", "parentPath": "/", "version": 1, "last": true, "size": 1, "deleted": true}]}
JSON

# --- a controller that never answers: the lookup fails after 30 s, never a hang (started here,
# checked at the end: the other cases run meanwhile)
jobs "$IT_TMP/jobs4.json" "silent={{ kv('greeting') }}" "after=still serving"
R4=$IT_TMP/silent.jsonl
P4=$(free_port)
controller ctl4 "$P4" "$R4" --jobs "$IT_TMP/jobs4.json" --meta "$IT_TMP/meta.json" --meta-hold-ms 120000
gworker w4 "$P4" --concurrency 1
W4=$WORKER_PID CTL4=$CTL_PID

# --- a controller with the metadata services
jobs "$IT_TMP/jobs.json" \
  "current={{ kv('greeting') }}|{{ kv('norow') }}|{{ kv('inherited') }}|{{ read('scripts/main.py') }}|{{ fileSize('scripts/main.py') }}|{{ fileExists('norow.txt') }}|{{ fileExists('deleted.txt') }}" \
  "missing={{ kv('nope') }}" \
  "optional=[{{ kv('nope', errorOnMissing=false) }}][{{ kv('gone', 'company.team', false) }}]" \
  "deleted={{ kv('gone') }}" \
  "expired={{ kv('old') }}" \
  "nofile={{ read('norow.txt') }}" \
  "stage=@shell"
R1=$IT_TMP/meta.jsonl
P1=$(free_port)
controller ctl1 "$P1" "$R1" --jobs "$IT_TMP/jobs.json" --meta "$IT_TMP/meta.json"
gworker w1 "$P1" --concurrency 2
W1=$WORKER_PID
for id in current missing optional deleted expired nofile stage; do
  wait_for "a final result for $id" 60 is_final "$R1" "$id"
done
expect_eq "$(q "$R1" final current)" SUCCESS "kv(), read(), fileSize(), fileExists() with the controller's rows: SUCCESS"
expect_eq "$(q "$R1" logs current)" "current|no row|from the parent|print(3)|8|false|false" \
  "the current revisions from the controller; a namespace file without a row, or deleted, is no file"
expect_match "$(grep -c '"KVMetadataService/findByName"' "$R1")" '^[1-9]' "the worker asked KVMetadataService.findByName"
expect_eq "$(q "$R1" final missing)" FAILED "a missing key: FAILED"
expect_match "$(q "$R1" logs missing)" "The key 'nope' does not exist in the namespace 'company.team'\\." "with Kestra's message"
expect_eq "$(q "$R1" final optional)/$(q "$R1" logs optional)" "SUCCESS/[][]" "errorOnMissing=false: null for a missing and a deleted key"
expect_eq "$(q "$R1" final deleted)" FAILED "a key deleted in the controller's rows: FAILED"
expect_match "$(q "$R1" logs deleted)" "The key 'gone' does not exist" "as absent"
expect_eq "$(q "$R1" final expired)" FAILED "a key expired in the controller's rows: FAILED"
expect_match "$(q "$R1" logs expired)" "The requested value has expired" "with Kestra's message"
expect_eq "$(q "$R1" final nofile)" FAILED "read() of a namespace file without a row: FAILED"
expect_match "$(q "$R1" logs nofile)" "read\\('norow.txt'\\): no such file" "as in Kestra 1.2+"
expect_eq "$(q "$R1" final stage)" SUCCESS "namespaceFiles from NamespaceFileMetadataService.findAll: SUCCESS"
expect_match "$(q "$R1" logs stage)" "print\\(3\\) \\| only-current" "the current revision of each file with a row, and nothing else"
expect_eq "$(grep -c ' E grpc:' "$IT_TMP/w1.log" || true)" 0 "no error logged by the transport"
it_stop "$W1" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- kv_worker_access and namespace_files_worker_access = controller (kestra-2x-protocol.md
# §6.3): values and contents from KVStoreService.getRawValue and NamespaceFileContentService.get,
# a worker without any storage. A 1.5 MiB value comes in two StreamChunks (1 MiB each at most).
"$PY" - "$IT_TMP/meta.json" "$IT_TMP/content.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["values"] = {"company.team/greeting": '"from the controller"',
               "company/inherited": '"parent via controller"',
               "company.team/big": '"' + "a" * (3 << 19) + '"',
               "company.team/old": {"expired": True}}
m["contents"] = {"company.team/scripts/main.py.v3": "print(3)"}
json.dump(m, open(sys.argv[2], "w"))
PYEOF
jobs "$IT_TMP/jobs6.json" \
  "cvalue={{ kv('greeting') }}|{{ kv('inherited') }}|{{ kv('big') | length }}|{{ read('scripts/main.py') }}|{{ fileSize('scripts/main.py') }}" \
  "cmissing={{ kv('nope') }}" \
  "cexpired={{ kv('old') }}" \
  "cstage=@shell"
R6=$IT_TMP/content.jsonl
P6=$(free_port)
controller ctl6 "$P6" "$R6" --jobs "$IT_TMP/jobs6.json" --meta "$IT_TMP/content.json"
SAVED_OPTS=("${GWORKER_OPTS[@]}")
GWORKER_OPTS=(--kv-worker-access controller --namespace-files-worker-access controller)
gworker w6 "$P6" --concurrency 2
W6=$WORKER_PID
for id in cvalue cmissing cexpired cstage; do
  wait_for "a final result for $id" 30 is_final "$R6" "$id"
done
expect_eq "$(q "$R6" final cvalue)/$(q "$R6" logs cvalue)" \
  "SUCCESS/from the controller|parent via controller|1572864|print(3)|8" \
  "kv() values from KVStoreService.getRawValue (inherited, and one of two chunks reassembled); read() and fileSize() of a namespace file from NamespaceFileContentService.get"
expect_match "$(grep '"name": "big"' "$R6")" '"chunks": 2' "the 1.5 MiB value came in two StreamChunks"
expect_eq "$(grep -c '"KVMetadataService/findByName"' "$R6" || true)" 0 "no KV metadata asked: the controller resolves the revision"
expect_eq "$(q "$R6" final cmissing)" FAILED "a value the controller does not have (NOT_FOUND): FAILED"
expect_match "$(q "$R6" logs cmissing)" "The key 'nope' does not exist in the namespace 'company.team'\\." "with Kestra's message"
expect_eq "$(q "$R6" final cexpired)" FAILED "an expired value (FAILED_PRECONDITION): FAILED"
expect_match "$(q "$R6" logs cexpired)" "The requested value has expired" "with Kestra's message"
expect_eq "$(q "$R6" final cstage)" SUCCESS "namespaceFiles with contents from NamespaceFileContentService.get: SUCCESS"
expect_match "$(q "$R6" logs cstage)" "print\\(3\\) \\| only-current" "the current revision's content, staged without any storage"
expect_match "$(grep '"NamespaceFileContentService/get"' "$R6")" '"name": "scripts/main.py.v3"' "asked by its revision's object"
expect_eq "$(grep -c ' E grpc:' "$IT_TMP/w6.log" || true)" 0 "no error logged by the transport"
it_stop "$W6" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- the same worker settings on a controller without those services (--no-content):
# UNIMPLEMENTED, a clear error naming the setting, an ERROR once per service, the worker alive
jobs "$IT_TMP/jobs7.json" "ncvalue={{ kv('greeting') }}" "ncvalue2={{ kv('greeting') }}" "ncstage=@shell" "ncplain=no content needed"
R7=$IT_TMP/nocontent.jsonl
P7=$(free_port)
controller ctl7 "$P7" "$R7" --jobs "$IT_TMP/jobs7.json" --meta "$IT_TMP/content.json" --no-content
gworker w7 "$P7" --concurrency 1
W7=$WORKER_PID
for id in ncvalue ncvalue2 ncstage ncplain; do
  wait_for "a final result for $id" 30 is_final "$R7" "$id"
done
expect_eq "$(q "$R7" final ncvalue)/$(q "$R7" final ncvalue2)" FAILED/FAILED "kv() on a controller without KVStoreService: FAILED"
expect_match "$(q "$R7" logs ncvalue)" "KV values not available through this controller \\(KVStoreService/getRawValue UNIMPLEMENTED\\); set kv_worker_access=storage" \
  "its ERROR log names the service and the setting"
expect_eq "$(q "$R7" final ncstage)" FAILED "namespaceFiles on a controller without NamespaceFileContentService: FAILED"
expect_match "$(q "$R7" logs ncstage)" "namespace-file contents not available through this controller \\(NamespaceFileContentService/get UNIMPLEMENTED\\); set namespace_files_worker_access=storage" \
  "its ERROR log names the service and the setting"
expect_eq "$(grep -c 'E grpc: KV values not available' "$IT_TMP/w7.log")" 1 "the worker logs an ERROR once for KVStoreService"
expect_eq "$(grep -c 'E grpc: namespace-file contents not available' "$IT_TMP/w7.log")" 1 "and once for NamespaceFileContentService"
expect_eq "$(q "$R7" final ncplain)" SUCCESS "a task without content runs on: the worker is alive"
it_stop "$W7" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- the controller killed after the first of a value's two StreamChunks, then started again:
# the value is asked again and read from its first byte (not the first chunk twice)
jobs "$IT_TMP/jobs8.json" "crestart={{ kv('big') | length }}"
R8=$IT_TMP/crestart.jsonl
P8=$(free_port)
controller ctl8 "$P8" "$R8" --jobs "$IT_TMP/jobs8.json" --meta "$IT_TMP/content.json" --meta-hold-ms 60000
gworker w8 "$P8" --concurrency 1
W8=$WORKER_PID
wait_for "the worker received the first chunk" 30 grep -q "kv('big') in 'company.team': 1048576 bytes so far" "$IT_TMP/w8.log"
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
wait_for "the worker starts the value over" 10 grep -q "kv('big') in 'company.team': 1048576 bytes received before UNAVAILABLE; starting over" "$IT_TMP/w8.log"
controller ctl8b "$P8" "$R8" --meta "$IT_TMP/content.json"
wait_for "crestart's final result after the restart" 40 is_final "$R8" crestart
expect_eq "$(q "$R8" final crestart)/$(q "$R8" logs crestart)" "SUCCESS/1572864" \
  "a value cut mid-stream is read again whole after the controller's restart"
it_stop "$W8" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
GWORKER_OPTS=("${SAVED_OPTS[@]}")

# --- a controller without the metadata services: UNIMPLEMENTED, a clear error, never a hang
jobs "$IT_TMP/jobs2.json" "nometa={{ kv('greeting') }}" "nometa2={{ kv('greeting') }}" "nsnometa=@shell" "plain=no metadata needed"
R2=$IT_TMP/nometa.jsonl
P2=$(free_port)
controller ctl2 "$P2" "$R2" --jobs "$IT_TMP/jobs2.json" --no-meta
gworker w2 "$P2" --concurrency 1
W2=$WORKER_PID
for id in nometa nometa2 nsnometa plain; do
  wait_for "a final result for $id" 30 is_final "$R2" "$id"
done
expect_eq "$(q "$R2" final nometa)" FAILED "kv() on a controller without KVMetadataService: FAILED"
expect_match "$(q "$R2" logs nometa)" "kv\\('greeting'\\) in 'company[.a-z]*': KV store not available through this controller: KVMetadataService/findByName answered UNIMPLEMENTED" \
  "its ERROR log names the key, the service and the cause"
expect_eq "$(q "$R2" final nsnometa)" FAILED "namespaceFiles on a controller without NamespaceFileMetadataService: FAILED"
expect_match "$(q "$R2" logs nsnometa)" "namespace files not available through this controller: NamespaceFileMetadataService/findAll answered UNIMPLEMENTED" \
  "its ERROR log names the service and the cause"
expect_eq "$(grep -c 'does not implement KVMetadataService' "$IT_TMP/w2.log")" 1 "the worker logs an ERROR once for KVMetadataService"
expect_eq "$(grep -c 'does not implement NamespaceFileMetadataService' "$IT_TMP/w2.log")" 1 "and once for NamespaceFileMetadataService"
expect_eq "$(q "$R2" final plain)" SUCCESS "a task without metadata runs on: the worker is alive"
it_stop "$W2" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- the controller killed while a lookup waits for its answer, then started again
jobs "$IT_TMP/jobs3.json" "again={{ kv('greeting') }}"
R3=$IT_TMP/restart.jsonl
P3=$(free_port)
controller ctl3 "$P3" "$R3" --jobs "$IT_TMP/jobs3.json" --meta "$IT_TMP/meta.json" --meta-hold-ms 60000
gworker w3 "$P3" --concurrency 1
W3=$WORKER_PID
wait_for "the lookup reached the controller" 30 grep -q '"rpc": "meta"' "$R3"
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
wait_for "the worker sees the controller gone" 10 grep -q "reconnecting in" "$IT_TMP/w3.log"
controller ctl3b "$P3" "$R3" --meta "$IT_TMP/meta.json"
wait_for "again's final result after the restart" 40 is_final "$R3" again
expect_eq "$(q "$R3" final again)" SUCCESS "the lookup was asked again on the new connection: SUCCESS"
expect_eq "$(q "$R3" logs again)" current "with the current revision"
expect_match "$(grep -c '"rpc": "meta"' "$R3")" '^([2-9]|[1-9][0-9])$' "the controller was asked twice (before and after its restart)"
it_stop "$W3" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- GOAWAY (max connection age 1 s) while a lookup is answered 1.5 s late: it finishes on the
# old connection
jobs "$IT_TMP/jobs5.json" "aged={{ kv('greeting') }}|{{ read('scripts/main.py') }}"
R5=$IT_TMP/goaway.jsonl
P5=$(free_port)
controller ctl5 "$P5" "$R5" --jobs "$IT_TMP/jobs5.json" --meta "$IT_TMP/meta.json" --meta-hold-ms 1500 \
  --max-connection-age-ms 1000
gworker w5 "$P5" --concurrency 1
W5=$WORKER_PID
wait_for "aged's final result across GOAWAYs" 40 is_final "$R5" aged
expect_eq "$(q "$R5" final aged)/$(q "$R5" logs aged)" "SUCCESS/current|print(3)" "lookups across GOAWAYs: SUCCESS with the current revisions"
expect_match "$(cat "$IT_TMP/w5.log")" "GOAWAY; opening a new connection" "the controller sent GOAWAY meanwhile"
it_stop "$W5" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- the controller that never answered (started at the beginning)
wait_for "silent's final result" 45 is_final "$R4" silent
expect_eq "$(q "$R4" final silent)" FAILED "no answer within 30 s: FAILED"
expect_match "$(q "$R4" logs silent)" "kv\\('greeting'\\) in 'company[.a-z]*': KVMetadataService/findByName: no answer from the controller within 30 s" \
  "its ERROR log names the key, the service and the deadline"
wait_for "after's final result" 20 is_final "$R4" after
expect_eq "$(q "$R4" final after)" SUCCESS "the next task runs: the worker is alive"
it_stop "$W4" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -KILL "$CTL4" # its held answers would keep it alive
wait "$CTL4" 2>/dev/null || true
it_done
