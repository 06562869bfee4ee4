#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SECRET inputs as Kestra's executor stores them ({"type":"io.kestra.datatype:aes_encrypted",
# "value":…}, AES/GCM with kestra.encryption.secret-key), encrypted here by an independent
# implementation (python3-cryptography's AESGCM): a shell task reads the plaintext, its output
# carries it, its log rows show it masked; no key, a wrong key and a bad key are refused, each
# naming the input or the setting. Process runner; no Docker.
source "$(dirname "$0")/../lib/it.sh"
it_db secret_inputs

python3 -c 'import cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null ||
  { fail "python3-cryptography is missing (scripts/setup.sh installs it)"; it_done; }

PLAIN='Pa55-w0rd ünïcode'
# encrypt KEY TEXT: base64(IV || ciphertext || tag), as Kestra's EncryptionService writes it.
encrypt() {
  python3 - "$1" "$2" <<'PY'
import base64, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
iv = os.urandom(12)
ct = AESGCM(base64.b64decode(sys.argv[1])).encrypt(iv, sys.argv[2].encode(), None)
print(base64.b64encode(iv + ct).decode())
PY
}
KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
OTHER_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
ENC=$(encrypt "$KEY" "$PLAIN")

# A bad key stops the worker at start, naming the setting and never quoting the key.
out=$("$KWGT_BIN" worker -n --database-url "$DB" --encryption-secret-key 'c2hvcnQ=' 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 64 "a key of 5 bytes is refused at start"
expect_match "$out" "encryption_secret_key: Invalid AES key length: 5 bytes" "the refusal names the setting"
[[ "$out" == *c2hvcnQ=* ]] && fail "the refusal quotes the key" || pass "the refusal does not quote the key"

printf '%s' "$KEY" >"$IT_TMP/key"
KWG_ENCRYPTION_SECRET_KEY_FILE="$IT_TMP/key" it_worker w --group sec --default-runner process
it_worker nokey --group nokey --default-runner process
it_worker wrong --group wrong --default-runner process --encryption-secret-key "$OTHER_KEY"

# The job as the executor writes it: the input encrypted, its name in secretInputs.
cat >"$IT_TMP/echo.json" <<JSON
{"task": {"id": "echo", "type": "io.kestra.plugin.scripts.shell.Commands",
          "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
          "commands": ["echo \"pass={{ inputs.creds.pass }}\"",
                       "echo '::{\"outputs\":{\"pw\":\"{{ inputs.creds.pass }}\"}}::'"]},
 "inputs": {"creds": {"pass": {"type": "io.kestra.datatype:aes_encrypted", "value": "$ENC"}}},
 "secretInputs": ["creds"]}
JSON

submit "$IT_TMP/echo.json" --group sec
expect_eq "$RC" 0 "a task reading an encrypted input succeeds"
run=$(printf '%s\n' "$OUT" | sed -n 's/^kwg submit: task run \([^ ]*\) queued.*/\1/p')
expect_eq "$(sql "SELECT value->'taskRun'->'outputs'->'vars'->>'pw' FROM queues
                  WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key = '$run'
                  ORDER BY \"offset\" DESC LIMIT 1")" "$PLAIN" "the task's output is the plaintext"
logs=$(sql "SELECT value->>'message' FROM queues
            WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = '$run'")
expect_match "$logs" 'pass=\*+masked\*+' "the log row shows the value masked"
# (kwg submit prints the outputs too, which hold the plaintext, as Kestra's do.)
[[ "$logs" == *"$PLAIN"* ]] && fail "the plaintext reached a log row: $logs" ||
  pass "no log row holds the plaintext"
expect_match "$logs" 'echo "pass=\*+masked\*+"' "the command line logged is masked too"
[[ "$logs$OUT" == *"$ENC"* ]] && fail "the encrypted value reached a log row" ||
  pass "no log row holds the encrypted value"

submit "$IT_TMP/echo.json" --group nokey
expect_eq "$RC" 1 "no key: the task FAILED"
expect_match "$OUT" "ERROR .*input 'creds.pass' is encrypted.*encryption_secret_key" \
  "no key: the log line names the input and the setting"
expect_match "$OUT" "state FAILED" "no key: the final state is FAILED"

submit "$IT_TMP/echo.json" --group wrong
expect_eq "$RC" 1 "a wrong key: the task FAILED"
expect_match "$OUT" "ERROR .*input 'creds.pass' cannot be decrypted with encryption_secret_key" \
  "a wrong key: the log line names the input"

swap=AAAA
[ "${ENC:20:4}" != AAAA ] || swap=BBBB
sed "s|$ENC|${ENC:0:20}$swap${ENC:24}|" "$IT_TMP/echo.json" >"$IT_TMP/tampered.json"
submit "$IT_TMP/tampered.json" --group sec
expect_eq "$RC" 1 "a changed value: the task FAILED"
expect_match "$OUT" "ERROR .*input 'creds.pass' cannot be decrypted.*Tag mismatch" \
  "a changed value: the log line names the input"

it_done
