#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kv(), read() and the file functions on a Kestra 1.1+/1.2+ database, whose kv_metadata and
# namespace_file_metadata tables say which revision is current (revision N >= 2 stored as
# <name>.vN beside revision 1), which keys are deleted or expired, and that a namespace file
# without a row is no file. The tables from tests/integration/fixtures/kestra_metadata.sql; the
# objects in a local storage; Log tasks through a real worker.
source "$(dirname "$0")/../lib/it.sh"
it_db kvmeta
psql "$DB" -v ON_ERROR_STOP=1 -qAtX -f "$KWGT_SRC/tests/integration/fixtures/kestra_metadata.sql" >/dev/null
STORE=$IT_TMP/storage
it_worker w --group kvm --default-runner process --storage-type local --storage-base-path "$STORE"

KV=$STORE/main/company/team/_kv
FILES=$STORE/main/company/team/_files
mkdir -p "$KV" "$STORE/main/company/_kv" "$FILES/scripts"
kvrow() { # kvrow NS NAME VERSION DELETED [EXPIRATION]
  local exp=${5:+,\"expirationDate\":\"$5\"}
  sql "INSERT INTO kv_metadata (key, value) VALUES ('main|$1|$2|$3', '{\"tenantId\":\"main\",\"namespace\":\"$1\",\"name\":\"$2\",\"version\":$3,\"last\":true,\"deleted\":$4,\"created\":\"2026-11-01T10:00:00.000Z\",\"updated\":\"2026-11-01T10:00:00.000Z\"$exp}')"
}
filerow() { # filerow PATH VERSION DELETED
  sql "INSERT INTO namespace_file_metadata (key, value) VALUES ('main_company.team_$1_$2', '{\"tenantId\":\"main\",\"namespace\":\"company.team\",\"path\":\"$1\",\"parentPath\":\"/\",\"version\":$2,\"last\":true,\"size\":1,\"deleted\":$3,\"created\":\"2026-11-01T10:00:00.000Z\",\"updated\":\"2026-11-01T10:00:00.000Z\"}')"
}
printf '"stale"' >"$KV/greeting.ion"
printf '"current"' >"$KV/greeting.ion.v2"
kvrow company.team greeting 2 false
printf '"still here"' >"$KV/gone.ion"
kvrow company.team gone 1 true
printf '"old"' >"$KV/old.ion"
kvrow company.team old 1 false 2020-01-01T00:00:00.000Z
printf '"no row"' >"$KV/norow.ion"
printf '"from the parent"' >"$STORE/main/company/_kv/inherited.ion"
kvrow company inherited 1 false
printf 'print(1)' >"$FILES/scripts/main.py"
printf 'print(3)' >"$FILES/scripts/main.py.v3"
filerow /scripts/main.py 3 false
printf 'x' >"$FILES/deleted.txt"
filerow /deleted.txt 1 true
printf 'y' >"$FILES/norow.txt"

logtask() { it_logtask "$1" kvm "$2"; }

logtask current "\"{{ kv('greeting') }}|{{ kv('norow') }}|{{ kv('inherited') }}|{{ read('scripts/main.py') }}|{{ fileSize('scripts/main.py') }}|{{ fileExists('norow.txt') }}|{{ fileExists('deleted.txt') }}\""
expect_match "$RC $OUT" '^0 .*INFO  current\|no row\|from the parent\|print\(3\)\|8\|false\|false' "the current revisions from the metadata tables; a namespace file without a row or deleted is no file"
logtask deleted "\"{{ kv('gone') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*The key 'gone' does not exist in the namespace 'company.team'\\." "a key deleted in kv_metadata is absent"
logtask expired "\"{{ kv('old') }}\""
expect_match "$RC $OUT" '^1 .*ERROR .*The requested value has expired' "a key expired in kv_metadata"
logtask nofile "\"{{ read('norow.txt') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*read\\('norow.txt'\\): no such file" "read() of a namespace file without a row fails as in Kestra 1.2+"

# namespaceFiles: the current rows are staged, each from its revision's object.
cat >"$IT_TMP/stage.yaml" <<YAML
namespace: company.team
task:
  id: stage
  type: io.kestra.plugin.scripts.shell.Commands
  taskRunner: {type: io.kestra.plugin.core.runner.Process}
  namespaceFiles: {enabled: true}
  commands:
    - cat scripts/main.py; echo
    - test ! -e norow.txt && test ! -e deleted.txt && test ! -e scripts/main.py.v3 && echo only-current
YAML
submit "$IT_TMP/stage.yaml" --group kvm
expect_match "$RC $OUT" '^0 .*INFO  print\(3\).*INFO  only-current' "staging takes the current revision of each file with a row, and nothing else"

# The same objects on S3-compatible storage: the rows and then the objects of their revisions
# come in fetch rounds.
trap '"$KWGT_SRC/tests/lib/s3_env.sh" stop "$IT_TMP/s3" || true; it_cleanup' EXIT
eval "$("$KWGT_SRC/tests/lib/s3_env.sh" start "$IT_TMP/s3" kwg-meta)"
(cd "$STORE" && find . -type f | while read -r f; do
  curl -sSf --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -T "$f" "$S3_ENDPOINT/kwg-meta/${f#./}" >/dev/null
done)
it_worker s3 --group kvm-s3 --default-runner process --storage-type minio \
  --storage-endpoint "$S3_ENDPOINT" --storage-bucket kwg-meta --storage-access-key S3RVER \
  --storage-secret-key S3RVER
submit "$IT_TMP/current.yaml" --group kvm-s3
expect_match "$RC $OUT" '^0 .*INFO  current\|no row\|from the parent\|print\(3\)\|8\|false\|false' "S3 storage: the same current revisions"
submit "$IT_TMP/deleted.yaml" --group kvm-s3
expect_match "$RC $OUT" "^1 .*ERROR .*The key 'gone' does not exist" "S3 storage: a deleted key is absent"
submit "$IT_TMP/stage.yaml" --group kvm-s3
expect_match "$RC $OUT" '^0 .*INFO  print\(3\).*INFO  only-current' "S3 storage: staging the current revisions"
it_done
