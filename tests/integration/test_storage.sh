#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# storage/storage.c against its backends: local (with and without a tenant) in a temporary
# directory, and the S3 and MinIO key layouts against a real S3 server (s3rver, with SigV4
# checked: tests/lib/s3_env.sh). tests/integration/storage_check.c does the checking.
# Environment (set by ctest): KWGT_SRC (source tree), KWGT_STORAGE_CHECK (the driver).
set -euo pipefail
: "${KWGT_SRC:?KWGT_SRC must name the source tree}"
: "${KWGT_STORAGE_CHECK:?KWGT_STORAGE_CHECK must name storage_check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kwg-test_storage.XXXXXX")
s3env=$KWGT_SRC/tests/lib/s3_env.sh
cleanup() { "$s3env" stop "$tmp/s3" || true; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
run() {
  echo "== storage_check $*"
  "$KWGT_STORAGE_CHECK" "$@" || fails=$((fails + 1))
}

run local "$tmp/base" main
run local "$tmp/base-notenant/"

# listings with a prefix come back 2 keys a page: kwg follows the continuation tokens
export KWG_S3_PAGE_KEYS=2
eval "$("$s3env" start "$tmp/s3" kwg-a)"
run s3 "$S3_ENDPOINT" kwg-a S3RVER S3RVER
if grep -q "a listing continued" "$tmp/s3/s3.log"; then
  echo "ok   listings were paged and continued"
else
  echo "FAIL no listing was continued (paging)"; fails=$((fails + 1))
fi
"$s3env" stop "$tmp/s3"
# a fresh bucket per layout: each run checks the keys of one layout only
eval "$("$s3env" start "$tmp/s3" kwg-b)"
run s3 "$S3_ENDPOINT" kwg-b S3RVER S3RVER main
"$s3env" stop "$tmp/s3"
eval "$("$s3env" start "$tmp/s3" kwg-c)"
run minio "$S3_ENDPOINT" kwg-c S3RVER S3RVER main
"$s3env" stop "$tmp/s3"
eval "$("$s3env" start "$tmp/s3" kwg-d)"
run minio "$S3_ENDPOINT" kwg-d S3RVER S3RVER
# a wrong secret: SigV4 is checked, and the error names the URI and S3's answer
if out=$("$KWGT_STORAGE_CHECK" s3 "$S3_ENDPOINT" kwg-d S3RVER wrong 2>&1); then
  echo "FAIL a wrong secret key was accepted"; fails=$((fails + 1))
elif grep -q "FAIL put succeeded (kestra:///company/.*: HTTP 403)" <<<"$out" &&
  grep -q "FAIL get succeeded (kestra:///company/.*: HTTP 403: SignatureDoesNotMatch: " <<<"$out"; then
  echo "ok   a wrong secret key fails with HTTP 403 (SignatureDoesNotMatch), naming the URI"
else
  echo "FAIL a wrong secret key: unexpected output:"; echo "$out" | head -5; fails=$((fails + 1))
fi
if [ "$fails" -ne 0 ]; then
  echo "s3 server log:"; cat "$tmp/s3/s3.log" || true
fi
echo "test_storage: $fails failing run(s)"
[ "$fails" -eq 0 ]
