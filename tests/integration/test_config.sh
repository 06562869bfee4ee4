#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configuration: flags over KWG_* variables over defaults; every invalid setting is refused at
# start, naming the setting; `-n` checks and exits; `kwg submit --json` prints raw messages.
source "$(dirname "$0")/../lib/it.sh"
it_db config

refused() { # refused EXPECTED_TEXT WHAT COMMAND…: kwg exits 64 and says EXPECTED_TEXT
  local expected=$1 what=$2 out rc=0
  shift 2
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -eq 64 ] && [[ "$out" == *"$expected"* ]]; then
    pass "$what"
  else
    fail "$what: exit $rc, output: $out"
  fi
}

refused "no database: set --database-url or KWG_DATABASE_URL" "no database URL" \
  env -u KWG_DATABASE_URL "$KWGT_BIN" worker -n
refused "--concurrency: '0' is not a number from 1 to 1024" "concurrency 0" \
  "$KWGT_BIN" worker -n --database-url "$DB" --concurrency 0
refused "KWG_CONCURRENCY: 'lots' is not a number from 1 to 1024" "KWG_CONCURRENCY not a number" \
  env KWG_CONCURRENCY=lots "$KWGT_BIN" worker -n --database-url "$DB"
refused "--group: invalid worker group 'g p u'" "a group key with spaces" \
  "$KWGT_BIN" worker -n --database-url "$DB" --group "g p u"
refused "unknown environment variable KWG_CONCURENCY" "a misspelt KWG_ variable" \
  env KWG_CONCURENCY=4 "$KWGT_BIN" worker -n --database-url "$DB"
refused "unknown option '--concurency'" "a misspelt flag" \
  "$KWGT_BIN" worker -n --database-url "$DB" --concurency 4
refused "--default-runner: unknown runner 'k8s' (process or docker)" "an unknown runner" \
  "$KWGT_BIN" worker -n --database-url "$DB" --default-runner k8s
refused "work_dir '/no/such/dir' is not a writable directory" "a missing work directory" \
  "$KWGT_BIN" worker --database-url "$DB" --work-dir /no/such/dir
refused "KWG_DATABASE_URL_FILE: cannot open '/no/such/secret'" "a missing secret file" \
  env KWG_DATABASE_URL_FILE=/no/such/secret "$KWGT_BIN" worker -n

# Kestra 2.x: the controller's address, parsed strictly; the Basic credentials file checked.
ctl_ok() { # ctl_ok WHAT VAR=VALUE… [-- ARGS…]: `worker -n`, no database, with these, says OK
  local what=$1 out rc=0 vars=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1") && shift; done
  [ $# -eq 0 ] || shift
  out=$(env -u KWG_DATABASE_URL "${vars[@]}" "$KWGT_BIN" worker -n "$@" 2>&1) || rc=$?
  expect_eq "$rc:$(tail -1 <<<"$out")" "0:configuration OK" "$what"
}
ctl_ok "controller HOST:PORT" -- --controller kestra-controller:50051
ctl_ok "controller [IPV6]:PORT" -- --controller '[::1]:443'
ctl_ok "controller from KWG_CONTROLLER, port 65535" KWG_CONTROLLER=10.0.0.7:65535
for bad in "::1:443|an IPv6 address goes in brackets" ":50051|the host is empty" \
  "[]:443|the host is empty" "[::1]443|no :PORT after the ']'" "[::1:443|an IPv6 address without its closing ']'" \
  "host|no :PORT" "host:0|the port is not a number from 1 to 65535" \
  "host:65536|the port is not a number from 1 to 65535" "host:|the port is not a number" \
  "host:+1|the port is not a number" "host:50051x|the port is not a number" \
  "a b:1|the host is not a name or an address"; do
  refused "--controller: '${bad%%|*}' is not HOST:PORT or [IPV6]:PORT: ${bad#*|}" \
    "controller '${bad%%|*}' refused" env -u KWG_DATABASE_URL "$KWGT_BIN" worker -n --controller "${bad%%|*}"
done
refused "KWG_CONTROLLER: 'h:99999' is not HOST:PORT" "KWG_CONTROLLER checked the same" \
  env -u KWG_DATABASE_URL KWG_CONTROLLER=h:99999 "$KWGT_BIN" worker -n
printf 'kwg:s3cret\n' >"$IT_TMP/auth-ok"
ctl_ok "credentials file USER:PASSWORD" -- --controller h:1 --controller-basic-auth-file "$IT_TMP/auth-ok"
ctl_ok "a password may hold colons" KWG_CONTROLLER=h:1 KWG_CONTROLLER_BASIC_AUTH=kwg:a:b
printf 'kwgs3cret\n' >"$IT_TMP/auth-nocolon"
printf ':s3cret\n' >"$IT_TMP/auth-nouser"
printf 'kwg:s3cret\nmore:lines\n' >"$IT_TMP/auth-two"
: >"$IT_TMP/auth-empty"
mkdir "$IT_TMP/auth-dir"
for bad in "nocolon|not USER:PASSWORD on one line" "nouser|not USER:PASSWORD on one line" \
  "two|'$IT_TMP/auth-two' has more than one line" "empty|'$IT_TMP/auth-empty' is empty" "dir|cannot read '$IT_TMP/auth-dir': Is a directory" \
  "missing|cannot open '$IT_TMP/auth-missing': No such file"; do
  refused "--controller-basic-auth-file: ${bad#*|}" "credentials file: ${bad%%|*} refused" \
    env -u KWG_DATABASE_URL "$KWGT_BIN" worker -n --controller h:1 \
    --controller-basic-auth-file "$IT_TMP/auth-${bad%%|*}"
done
refused "KWG_CONTROLLER_BASIC_AUTH_FILE: cannot read '$IT_TMP/auth-dir'" \
  "KWG_CONTROLLER_BASIC_AUTH_FILE: a file that cannot be read is an error" \
  env -u KWG_DATABASE_URL KWG_CONTROLLER=h:1 KWG_CONTROLLER_BASIC_AUTH_FILE="$IT_TMP/auth-dir" "$KWGT_BIN" worker -n
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
else
  as_nobody=()
fi
cp "$IT_TMP/auth-ok" "$IT_TMP/auth-locked" && chmod 000 "$IT_TMP/auth-locked"
refused "KWG_CONTROLLER_BASIC_AUTH_FILE: cannot open '$IT_TMP/auth-locked': Permission denied" \
  "credentials file without read permission" env -u KWG_DATABASE_URL KWG_CONTROLLER=h:1 \
  KWG_CONTROLLER_BASIC_AUTH_FILE="$IT_TMP/auth-locked" "${as_nobody[@]}" "$KWGT_BIN" worker -n
refused "KWG_CONTROLLER_BASIC_AUTH: not USER:PASSWORD" "KWG_CONTROLLER_BASIC_AUTH without a colon" \
  env -u KWG_DATABASE_URL KWG_CONTROLLER=h:1 KWG_CONTROLLER_BASIC_AUTH=s3cret "$KWGT_BIN" worker -n
out=$(env -u KWG_DATABASE_URL KWG_CONTROLLER=h:1 KWG_CONTROLLER_BASIC_AUTH=s3cret "$KWGT_BIN" worker -n 2>&1 || true)
expect_eq "$(grep -c s3cret <<<"$out" || true)" 0 "the refused credentials are not shown"

KWG_CONCURRENCY=2 it_worker precedence --group cfg --concurrency 3
wait_for "the worker's start line" 10 grep -q "group cfg, concurrency" "$IT_TMP/precedence.log"
expect_match "$(cat "$IT_TMP/precedence.log")" "group cfg, concurrency 3," "a flag wins over the environment"
it_stop "$WORKER_PID"
printf '%s' "$DB" >"$IT_TMP/db_url"
out=$(KWG_DATABASE_URL_FILE="$IT_TMP/db_url" "$KWGT_BIN" worker -n 2>&1) && rc=0 || rc=$?
expect_eq "$rc:$(tail -1 <<<"$out")" "0:configuration OK" "the database URL can come from a secret file"

# The limits in force, each with where it came from: the host's (its cgroup's, else the
# machine's), unless the operator set them.
expect_match "$out" "host: memory [0-9]+ (MiB|GiB) from (cgroup v[12] /sys/fs/cgroup/.*|the machine \(/proc/meminfo MemTotal\))" \
  "worker -n: the memory the worker may use, and where it came from"
expect_match "$out" "host: CPUs [0-9]+\.[0-9]+ from " "worker -n: the CPUs"
expect_match "$out" "task_memory [0-9]+ (MiB|GiB) a task, from the host: \([0-9]+ (MiB|GiB) - [0-9]+ (MiB|GiB) kept for the worker\) / concurrency 8" \
  "worker -n: per-task memory derived from the host"
expect_match "$out" "task_processes [0-9]+ a task, from the host: a quarter of [0-9]+ processes / concurrency 8" \
  "worker -n: per-task processes derived from the host"
expect_match "$out" "all tasks together: memory [0-9]+ (MiB|GiB), processes [0-9]+" "worker -n: the worker-wide caps"
# concurrency x per-task memory + the reserve stays within the host's memory.
host_mib=$(sed -n 's/^host: memory \([0-9]*\) MiB.*/\1/p' <<<"$out")
task_mib=$(sed -n 's/^task_memory \([0-9]*\) MiB a task.*/\1/p' <<<"$out")
if [ -n "$host_mib" ] && [ -n "$task_mib" ] && [ $((task_mib * 8)) -lt "$host_mib" ]; then
  pass "8 x $task_mib MiB stays under the host's $host_mib MiB"
else
  fail "8 x task memory '$task_mib' MiB is not under the host's '$host_mib' MiB: $out"
fi
out=$(KWG_TASK_PROCESSES=77 "$KWGT_BIN" worker -n --database-url x --task-memory 1GiB --concurrency 2 2>&1)
expect_match "$out" "task_memory 1 GiB a task, set by --task-memory" "an explicit memory limit wins, named by its flag"
expect_match "$out" "task_processes 77 a task, set by KWG_TASK_PROCESSES" "an explicit process limit wins, named by its variable"

echo '{"id":"j","type":"io.kestra.plugin.core.log.Log","message":"raw"}' >"$IT_TMP/log.json"
it_worker w --group cfg
wait_for "the worker's limit lines" 10 grep -q "limits: task_processes" "$IT_TMP/w.log"
expect_match "$(cat "$IT_TMP/w.log")" "limits: task_memory [0-9]+ (MiB|GiB) a task, from the host" \
  "the start log says the limits in force and where they came from"
submit "$IT_TMP/log.json" --group cfg --json
expect_eq "$RC" 0 "submit --json: SUCCESS"
expect_match "$OUT" '\{"type":"io.kestra.core.models.executions.LogEntry","value":\{.*"message": "raw"' \
  "submit --json: raw LogEntry rows"
refused "" "submit without a file is a usage error" "$KWGT_BIN" submit --database-url "$DB"
out=$("$KWGT_BIN" submit --database-url "$DB" /no/such/file.yaml 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 64 "submit of a missing file is a usage error"
expect_match "$out" "cannot read '/no/such/file.yaml'" "submit names the missing file"
echo 'id: x' >"$IT_TMP/bad.yaml"
out=$("$KWGT_BIN" submit --database-url "$DB" "$IT_TMP/bad.yaml" 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*bad.yaml: expected a task \\{id, type, …\\} or \\{task: \\{…\\}\\}" "submit says what a definition is"
printf 'id: x\ntype: 5\n' >"$IT_TMP/bad.yaml"
out=$("$KWGT_BIN" submit --database-url "$DB" "$IT_TMP/bad.yaml" 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*bad.yaml: the task needs a string 'id' and 'type'" "submit names what the definition lacks"
printf 'id: [x\n' >"$IT_TMP/bad.yaml"
out=$("$KWGT_BIN" submit --database-url "$DB" "$IT_TMP/bad.yaml" 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*bad.yaml: YAML line [0-9]+ column [0-9]+" "submit points at a YAML syntax error"
it_stop "$WORKER_PID"

# The controller's TLS settings (Kestra 2.x): -n checks them, each error names the setting.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kwg-test \
  -keyout "$IT_TMP/tls.key" -out "$IT_TMP/tls.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
  -keyout "$IT_TMP/other.key" -out "$IT_TMP/other.pem" 2>/dev/null
echo "not a certificate" >"$IT_TMP/junk.pem"
CTL=(--controller 127.0.0.1:50051)
refused "controller_tls: set without a controller" "TLS without --controller" \
  env -u KWG_DATABASE_URL "$KWGT_BIN" worker -n --database-url "$DB" --controller-tls true
refused "controller_ca_file: set without a controller" "a CA file without --controller" \
  env KWG_CONTROLLER_CA_FILE="$IT_TMP/tls.pem" "$KWGT_BIN" worker -n --database-url "$DB"
refused "controller_ca_file: set while controller_tls is false" "a CA file without TLS" \
  "$KWGT_BIN" worker -n "${CTL[@]}" --controller-ca-file "$IT_TMP/tls.pem"
refused "controller_ca_file: cannot read '/no/such/ca.pem'" "an unreadable CA file" \
  "$KWGT_BIN" worker -n "${CTL[@]}" --controller-tls true --controller-ca-file /no/such/ca.pem
refused "controller_cert_file: set without controller_key_file" "a client certificate without its key" \
  "$KWGT_BIN" worker -n "${CTL[@]}" --controller-tls true --controller-cert-file "$IT_TMP/tls.pem"
refused "controller_cert_file: set without controller_key_file" "the same at a start (not only -n)" \
  "$KWGT_BIN" worker "${CTL[@]}" --controller-tls true --controller-cert-file "$IT_TMP/tls.pem"
refused "controller_ca_file: cannot read '/no/such/ca.pem'" "an unreadable CA file at a start" \
  "$KWGT_BIN" worker "${CTL[@]}" --controller-tls true --controller-ca-file /no/such/ca.pem
refused "controller_key_file: set without controller_cert_file" "a client key without its certificate" \
  env KWG_CONTROLLER_TLS=on KWG_CONTROLLER_KEY_FILE="$IT_TMP/tls.key" "$KWGT_BIN" worker -n "${CTL[@]}"
refused "controller_ca_file: cannot load '$IT_TMP/junk.pem'" "a CA file that is no certificate" \
  "$KWGT_BIN" worker -n "${CTL[@]}" --controller-tls true --controller-ca-file "$IT_TMP/junk.pem"
refused "controller_key_file: cannot load '$IT_TMP/other.key' as the key of controller_cert_file '$IT_TMP/tls.pem': key values mismatch" \
  "a client key that does not match the certificate" \
  "$KWGT_BIN" worker -n "${CTL[@]}" --controller-tls true --controller-cert-file "$IT_TMP/tls.pem" \
  --controller-key-file "$IT_TMP/other.key"
refused "--controller-tls: 'maybe' is not true or false" "controller_tls not a boolean" \
  "$KWGT_BIN" worker -n "${CTL[@]}" --controller-tls maybe
refused "controller_authority: 'a b' is not HOST or HOST:PORT" "an authority with a space" \
  "$KWGT_BIN" worker -n "${CTL[@]}" --controller-authority "a b"
out=$(env KWG_CONTROLLER_TLS=true KWG_CONTROLLER_CA_FILE="$IT_TMP/tls.pem" \
  "$KWGT_BIN" worker -n "${CTL[@]}" --controller-cert-file "$IT_TMP/tls.pem" \
  --controller-key-file "$IT_TMP/tls.key" --controller-authority controller.internal 2>&1) && rc=0 || rc=$?
expect_eq "$rc:$(tail -1 <<<"$out")" "0:configuration OK" "a complete TLS configuration passes -n"

# Kestra 2.x's worker access to KV values and namespace-file contents: controller only with a
# controller, each error naming the setting.
ctl_ok "kv_worker_access and namespace_files_worker_access = controller with a controller" -- \
  "${CTL[@]}" --kv-worker-access controller --namespace-files-worker-access controller
ctl_ok "KWG_KV_WORKER_ACCESS=controller with a controller" KWG_KV_WORKER_ACCESS=controller \
  KWG_NAMESPACE_FILES_WORKER_ACCESS=storage -- "${CTL[@]}"
refused "kv_worker_access: controller is only valid with a controller" \
  "kv_worker_access=controller without --controller" \
  env -u KWG_DATABASE_URL "$KWGT_BIN" worker -n --database-url "$DB" --kv-worker-access controller
refused "namespace_files_worker_access: controller is only valid with a controller" \
  "KWG_NAMESPACE_FILES_WORKER_ACCESS=controller without --controller" \
  env -u KWG_DATABASE_URL KWG_NAMESPACE_FILES_WORKER_ACCESS=controller "$KWGT_BIN" worker -n \
  --database-url "$DB"
refused "unknown value 'CONTROLLERS' (storage, controller)" "a kv_worker_access not storage or controller" \
  "$KWGT_BIN" worker -n "${CTL[@]}" --kv-worker-access CONTROLLERS

# kwg is a small front: `kwg version` and `kwg sandbox` need nothing else; any other command is
# kwg-main's, found next to kwg, and its absence is said plainly.
mkdir -p "$IT_TMP/alone" && cp "$KWGT_BIN" "$IT_TMP/alone/kwg"
expect_eq "$("$IT_TMP/alone/kwg" version)" "$("$KWGT_BIN" version)" "kwg version without kwg-main"
rc=0
out=$("$IT_TMP/alone/kwg" worker -n 2>&1) || rc=$?
expect_eq "$rc" 1 "kwg without kwg-main exits 1"
expect_match "$out" "cannot run '$IT_TMP/alone/kwg-main' \\(installed next to kwg\\)" \
  "kwg without kwg-main names the missing binary"
it_done
