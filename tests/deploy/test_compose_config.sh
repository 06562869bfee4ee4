#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deploy/compose/docker-compose.kestra2.yml (kwg workers on Kestra 2.x's worker controller), checked
# without starting anything: `docker-compose config` with .env.example's values and no Docker
# Engine reachable (it needs none), the kwg service's command, environment and secret; a missing
# KWG_CONTROLLER refused by compose; and the resulting environment accepted by `kwg worker -n`
# (every KWG_ variable known and valid, the credentials read from the secret's file).
source "$(dirname "$0")/../lib/it.sh"
PY=/usr/bin/python3
command -v docker-compose >/dev/null || { fail "docker-compose is needed (scripts/setup.sh)"; it_done; }
"$PY" -c 'import yaml' 2>/dev/null || { fail "python3-yaml is needed (scripts/setup.sh)"; it_done; }
dir=$IT_TMP/compose
mkdir -p "$dir/secrets"
cp "$KWGT_SRC/deploy/compose/docker-compose.kestra2.yml" "$dir/"
cp "$KWGT_SRC/deploy/compose/.env.example" "$dir/.env"
printf 'kwg:s3cret\n' >"$dir/secrets/controller-basic-auth"
# config FILE: `docker-compose config` in $dir, no Engine (a socket that does not exist).
config() {
  (cd "$dir" && DOCKER_HOST="unix://$IT_TMP/no-engine.sock" docker-compose -f docker-compose.kestra2.yml config)
}
if config >"$IT_TMP/config.yml" 2>"$IT_TMP/config.err"; then
  pass "docker-compose config accepts the file with .env.example's values, no Engine needed"
else
  fail "docker-compose config: $(cat "$IT_TMP/config.err")"
  it_done
fi
# get PYTHON_EXPR: evaluated on the resolved file (y), printed.
get() { "$PY" -c "import sys, yaml, json; y = yaml.safe_load(open(sys.argv[1])); print($1)" "$IT_TMP/config.yml"; }
expect_eq "$(get '" ".join(sorted(y["services"]))')" kwg-default "one service, kwg-default"
expect_eq "$(get 'json.dumps(y["services"]["kwg-default"]["command"])')" '["worker"]' "its command: worker"
env_of() { get "y['services']['kwg-default']['environment'].get('$1')"; }
expect_eq "$(env_of KWG_CONTROLLER)" kestra-controller:50051 "KWG_CONTROLLER from .env"
expect_eq "$(env_of KWG_CONTROLLER_BASIC_AUTH_FILE)" /run/secrets/kwg-controller-basic-auth \
  "the credentials as a mounted secret file"
expect_eq "$(env_of KWG_CONCURRENCY)/$(env_of KWG_SANDBOX)" 8/container "concurrency and sandbox from .env"
expect_eq "$(env_of KWG_DATABASE_URL)" None "no database URL: a 2.x worker needs none"
expect_eq "$(get 'y["services"]["kwg-default"]["secrets"][0]["source"]')" kwg-controller-basic-auth \
  "the service mounts the secret"
expect_eq "$(get 'y["secrets"]["kwg-controller-basic-auth"]["file"]')" "$dir/secrets/controller-basic-auth" \
  "the secret's file from .env, relative to the compose directory"
expect_eq "$(grep -c 's3cret' "$IT_TMP/config.yml" || true)" 0 "the credentials are not in the resolved file"

# The environment compose gives the worker, with the secret's file where the container sees it.
get "'\\n'.join('%s=%s' % (k, v) for k, v in y['services']['kwg-default']['environment'].items())" |
  sed "s|=/run/secrets/kwg-controller-basic-auth\$|=$dir/secrets/controller-basic-auth|" >"$IT_TMP/env"
mapfile -t vars <"$IT_TMP/env"
out=$(env -i PATH="$PATH" "${vars[@]}" "$KWGT_BIN" worker -n 2>&1) && rc=0 || rc=$?
expect_eq "$rc:$(tail -1 <<<"$out")" "0:configuration OK" "kwg worker -n accepts the service's environment"
printf 'kwg-s3cret\n' >"$dir/secrets/controller-basic-auth"
out=$(env -i PATH="$PATH" "${vars[@]}" "$KWGT_BIN" worker -n 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^64 .*KWG_CONTROLLER_BASIC_AUTH_FILE: not USER:PASSWORD" \
  "kwg worker -n refuses a secret that is not USER:PASSWORD"

sed -i '/^KWG_CONTROLLER=/d' "$dir/.env"
if config >/dev/null 2>"$IT_TMP/config.err"; then
  fail "docker-compose config without KWG_CONTROLLER should fail"
else
  expect_match "$(cat "$IT_TMP/config.err")" "set KWG_CONTROLLER \\(the worker controller's HOST:PORT\\) in .env" \
    "without KWG_CONTROLLER, compose refuses, saying what to set"
fi
it_done
