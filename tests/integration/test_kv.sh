#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kv() in templates against Kestra's KV store in the local internal storage (issue 18 item 5):
# values as Kestra writes them (Ion text in /<ns path>/_kv/<key>.ion, expiry in the .metadata
# sidecar), namespace inheritance, errorOnMissing, expired values, Kestra's key rule, and the
# revisions kwg does not read yet; then the same reads on S3-compatible storage. Log tasks through
# real workers; no Docker.
source "$(dirname "$0")/../lib/it.sh"
it_db kv
STORE=$IT_TMP/storage
it_worker w --group kv --default-runner process --concurrency 2 \
  --storage-type local --storage-base-path "$STORE"

KV=$STORE/main/company/team/_kv
PARENT=$STORE/main/company/_kv
OTHER=$STORE/main/other/_kv
mkdir -p "$KV" "$PARENT" "$OTHER"
printf '"hello"' >"$KV/greeting.ion"
printf '42' >"$KV/answer.ion"
printf '{name:"kwg",tags:["a","b"],ratio:2.5e0,ok:true}' >"$KV/obj.ion"
printf '"from the parent"' >"$PARENT/inherited.ion"
printf '"ignored"' >"$PARENT/greeting.ion"
printf '"elsewhere"' >"$OTHER/far.ion"
printf '"old"' >"$KV/gone.ion"
printf '{expirationDate:"2020-01-01T00:00:00Z"}' >"$KV/gone.ion.metadata"
printf '"fresh"' >"$KV/fresh.ion"
printf '{description:"d",expirationDate:2999-01-01T00:00:00Z}' >"$KV/fresh.ion.metadata"
printf '{broken' >"$KV/bad.ion"
printf '"r1"' >"$KV/rev.ion"
printf '"r2"' >"$KV/rev.ion.v2"
mkdir -p "$STORE/main/company/team/_files"
printf 'hello' >"$STORE/main/company/team/_files/five.txt"
: >"$STORE/main/company/team/_files/empty.txt"

# logtask NAME MESSAGE: a Log task of flow company.team printing MESSAGE (a YAML string), for
# the workers of $GROUP.
GROUP=kv
logtask() { it_logtask "$1" "$GROUP" "$2"; }

logtask values "\"{{ kv('greeting') }}|{{ kv('answer') + 1 }}|{{ kv('obj').name }}|{{ kv('obj').tags | join(',') }}|{{ kv('obj').ratio }}|{{ kv('obj').ok }}|{{ kv('fresh') }}\""
expect_match "$RC $OUT" '^0 .*INFO  hello\|43\|kwg\|a,b\|2.5\|true\|fresh' "kv(): strings, numbers, objects, booleans, an unexpired value"

logtask inherit "\"{{ kv('inherited') }}|{{ kv('greeting', 'company') }}|{{ kv('far', 'other') }}\""
expect_match "$RC $OUT" '^0 .*INFO  from the parent\|ignored\|elsewhere' "kv(): a parent namespace's key without a namespace; a namespace given"

logtask missing "\"{{ kv('nope') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*The key 'nope' does not exist in the namespace 'company.team'\." "kv(): a missing key fails with Kestra's message"

logtask missing_ns "\"{{ kv('inherited', 'company.team') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*The key 'inherited' does not exist in the namespace 'company.team'\." "kv(): no inheritance when the namespace is given"

logtask optional "\"[{{ kv('nope', errorOnMissing=false) }}][{{ kv('gone', 'company.team', false) }}]\""
expect_match "$RC $OUT" '^0 .*INFO  \[\]\[\]' "kv(): errorOnMissing=false gives null for missing and expired keys"

logtask expired "\"{{ kv('gone') }}\""
expect_match "$RC $OUT" '^1 .*ERROR .*The requested value has expired' "kv(): an expired key fails as Kestra's"

logtask badkey "\"{{ kv('../x') }}\""
expect_match "$RC $OUT" '^1 .*ERROR .*Key must start with an alphanumeric character' "kv(): Kestra's key rule"

logtask badns "\"{{ kv('k', '../etc') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*kv\('k'\): invalid namespace '../etc'" "kv(): a namespace that is no namespace is refused"

logtask badion "\"{{ kv('bad') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*kv\('bad'\) in 'company.team': invalid Ion at offset" "kv(): a value that is not Ion names the key"

logtask rev "\"{{ kv('rev') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*kv\('rev'\): the key has several revisions" "kv(): revisions kwg cannot choose between fail"

# The file functions on the same storage (namespace files; read()'s rules).
logtask files "\"{{ fileSize('five.txt') }}|{{ fileExists('five.txt') }}|{{ fileExists('none.txt') }}|{{ isFileEmpty('empty.txt') }}|{{ isFileEmpty('five.txt') }}|{{ fromIon(kv('obj') | toIon).name }}\""
expect_match "$RC $OUT" '^0 .*INFO  5\|true\|false\|true\|false\|kwg' "fileSize, fileExists, isFileEmpty on namespace files; toIon and fromIon round trip"
logtask nofile "\"{{ fileSize('none.txt') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*fileSize\('none.txt'\): no such file" "fileSize of a missing file fails naming it"

# Kestra 1.2+ keeps a namespace file's revision 2 beside it as <path>.v2 and the current one in a
# table kwg does not read: read() and staging refuse the file rather than use a stale copy.
printf 'v1' >"$STORE/main/company/team/_files/revised.txt"
printf 'v2' >"$STORE/main/company/team/_files/revised.txt.v2"
logtask revised "\"{{ read('revised.txt') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*read\('revised.txt'\): the namespace file has several revisions" "read() refuses a namespace file with a second revision"
cat >"$IT_TMP/stage.yaml" <<YAML
namespace: company.team
task:
  id: stage
  type: io.kestra.plugin.scripts.shell.Commands
  taskRunner: {type: io.kestra.plugin.core.runner.Process}
  namespaceFiles: {enabled: true, include: ["**.txt"]}
  commands: [cat five.txt]
YAML
submit "$IT_TMP/stage.yaml" --group kv
expect_match "$RC $OUT" "^1 .*ERROR .*namespace file '/revised.txt' has several revisions" "staging refuses a namespace file with a second revision (its .v2 not included by the pattern)"
rm "$STORE/main/company/team/_files/revised.txt.v2"
submit "$IT_TMP/stage.yaml" --group kv
expect_match "$RC $OUT" '^0 .*INFO  hello' "staging works again once the file has one revision"

# The same on S3-compatible storage (s3rver with MinIO's key layout): templates read objects a
# worker fetches between renders.
trap '"$KWGT_SRC/tests/lib/s3_env.sh" stop "$IT_TMP/s3" || true; it_cleanup' EXIT
eval "$("$KWGT_SRC/tests/lib/s3_env.sh" start "$IT_TMP/s3" kwg-kv)"
s3put() { # s3put KEY TEXT
  printf '%s' "$2" | curl -sSf --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T - "$S3_ENDPOINT/kwg-kv/$1" >/dev/null
}
it_worker s3 --group kv-s3 --default-runner process --storage-type minio \
  --storage-endpoint "$S3_ENDPOINT" --storage-bucket kwg-kv --storage-access-key S3RVER \
  --storage-secret-key S3RVER
GROUP=kv-s3
s3put main/company/team/_kv/greeting.ion '"hello from s3"'
s3put main/company/_kv/inherited.ion '"s3 parent"'
s3put main/company/team/_kv/gone.ion '"old"'
s3put main/company/team/_kv/gone.ion.metadata '{expirationDate:"2020-01-01T00:00:00Z"}'
s3put main/company/team/_files/five.txt 'hello'
s3put main/company/team/_files/name.txt 'five.txt'
s3put main/company/team/_files/data.json '{"n": 41}'

logtask s3values "\"{{ kv('greeting') }}|{{ kv('inherited') }}|{{ read('five.txt') }}|{{ fromJson(read('data.json')).n + 1 }}|{{ fileSize('five.txt') }}|{{ fileExists('none.txt') }}|{{ kv('gone', errorOnMissing=false) ?? 'expired' }}\""
expect_match "$RC $OUT" '^0 .*INFO  hello from s3\|s3 parent\|hello\|42\|5\|false\|expired' "S3 storage: kv() with inheritance and expiry, read(), fileSize, fileExists through fetched objects"
logtask s3chain "\"{{ read(read('name.txt')) }}\""
expect_match "$RC $OUT" '^0 .*INFO  hello' "S3 storage: a read whose path comes from another read (two fetch rounds)"
logtask s3missing "\"{{ read('none.txt') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*read\('none.txt'\): no such file" "S3 storage: a missing object fails naming it"
logtask s3missingkv "\"{{ kv('nope') }}\""
expect_match "$RC $OUT" "^1 .*ERROR .*The key 'nope' does not exist in the namespace 'company.team'\." "S3 storage: a missing key fails with Kestra's message"

it_done
