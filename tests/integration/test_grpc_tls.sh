#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kestra 2.x's controller over TLS (transport/grpc/tls.c), against the project's stand-in
# (tests/controller/controller.py --tls-cert/--tls-key[/--tls-client-ca]) with a throwaway CA made
# here by the openssl CLI: a job runs end to end over TLS (its result and logs); a certificate from
# another CA, a name the certificate does not carry (DNS and IP address), a plaintext worker on a
# TLS port, a TLS server that does not select ALPN h2, a client certificate asked for and missing, or from another CA: each is one clear
# warning naming the reason, retried with the backoff (the same failure again only at info), no
# job reaches the worker and it stays alive; controller_authority picks the name verified (and
# sent as SNI and :authority); with the client certificate the job runs; over IPv6; a server that
# accepts the connection and never answers is given up after 20 s.
source "$(dirname "$0")/../lib/it.sh"
source "$(dirname "$0")/../lib/grpc_env.sh"
retried() { grep -qF "$2 again; reconnecting in" "$1"; }
# refused NAME PORT REASON WHAT [options…]: a worker that cannot get through: one warning with
# REASON, the same failure again at the next attempt (info), still alive; then SIGTERM ends it at
# once (a worker the controller never knew has no last state to send).
refused() {
  local name=$1 port=$2 reason=$3 what=$4 log
  shift 4
  log=$IT_TMP/$name.log
  gworker "$name" "$port" "$@"
  wait_for "$what: the second attempt" 20 retried "$log" "$reason"
  expect_eq "$(grep ' W grpc:' "$log" | grep -cF "$reason; reconnecting in 500 ms" || true)" 1 \
    "$what: one warning saying '$reason', then retried with the backoff"
  if kill -0 "$WORKER_PID" 2>/dev/null; then pass "$what: the worker stays alive"; else fail "$what: the worker exited"; fi
  kill -TERM "$WORKER_PID"
  wait_for "$what: the worker ends on SIGTERM" 15 grep -q "TERMINATED_GRACEFULLY; exiting" "$log"
  local rc=0
  wait "$WORKER_PID" || rc=$?
  expect_eq "$rc" 0 "$what: SIGTERM ends the worker, exit 0"
}

# --- a throwaway PKI: a CA, another CA, server certificates, a client certificate
PKI=$IT_TMP/pki
mkdir -p "$PKI"
ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
    -keyout "$PKI/$1.key" -out "$PKI/$1.pem" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() { # leaf NAME SAN EXTENDED_KEY_USAGE: signed by ca
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$2" "$3" >"$PKI/$1.ext"
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 2 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem" 2>/dev/null
}
ca ca
ca other
leaf server "DNS:localhost,IP:127.0.0.1,IP:::1" serverAuth
leaf named "DNS:kwg-controller.test" serverAuth
leaf client "DNS:kwg-worker" clientAuth
"$PY" -c 'import json, sys; print(json.dumps([j for j in json.load(open(sys.argv[1])) if j["taskRun"]["id"] == "ok"]))' \
  "$FIX/grpc_jobs.json" >"$IT_TMP/ok.json"

# --- a server that accepts the connection and never says a word: the TLS handshake is given 20 s
# (checked at the end, the other cases run meanwhile)
P0=$(free_port)
"$PY" -c 'import socket, sys, time; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); print("listening", flush=True); time.sleep(120)' \
  "$P0" >"$IT_TMP/listener.log" 2>&1 &
SILENT_PID=$!
IT_PIDS+=("$SILENT_PID")
wait_for "the silent server listening" 10 grep -q listening "$IT_TMP/listener.log"
gworker silent "$P0" --controller-tls true
W0=$WORKER_PID

# --- a TLS controller (certificate for localhost, 127.0.0.1 and ::1)
R1=$IT_TMP/tls.jsonl
P1=$(free_port)
controller ctl1 "$P1" "$R1" --jobs "$IT_TMP/ok.json" --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" \
  --host 127.0.0.1 --host ::1
refused wrongca "$P1" "TLS handshake: certificate verify failed: unable to get local issuer certificate" \
  "a certificate from a CA kwg does not trust" --controller-tls true --controller-ca-file "$PKI/other.pem"
refused mismatch "$P1" "TLS handshake: certificate verify failed: hostname mismatch" \
  "controller_authority naming a host the certificate does not carry" --controller-tls true \
  --controller-ca-file "$PKI/ca.pem" --controller-authority wrong.example:443
refused plain "$P1" "the controller closed the connection before HTTP/2 started (does it expect TLS? controller_tls)" \
  "a plaintext worker on a TLS port"
expect_eq "$(q "$R1" connects)" 0 "none of them reached the controller"
gworker w1 "$P1" --controller-tls true --controller-ca-file "$PKI/ca.pem"
W1=$WORKER_PID
wait_for "ok's final result over TLS" 30 is_final "$R1" ok
expect_eq "$(q "$R1" final ok)" SUCCESS "over TLS (the certificate verified for 127.0.0.1): the job succeeds"
expect_eq "$(q "$R1" outputs ok)" '{"exitCode": 0, "outputFiles": {}, "vars": {"answer": 42}}' "its outputs arrive"
expect_match "$(q "$R1" logs ok)" "hello f ok" "its logs arrive"
expect_match "$(cat "$IT_TMP/w1.log")" "TLS session with 127.0.0.1:$P1: TLSv1\\.[23]" "a TLS session, ALPN h2"
expect_eq "$(grep -c ' [EW] grpc:' "$IT_TMP/w1.log" || true)" 0 "no warning or error from the transport"
it_stop "$W1" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
# IPv6: the address verified as an iPAddress SAN, the authority in brackets.
mkdir -p "$IT_TMP/wd-w6"
"$KWGT_BIN" worker --controller "[::1]:$P1" --controller-tls true --controller-ca-file "$PKI/ca.pem" \
  --work-dir "$IT_TMP/wd-w6" --log-level debug --management-port 0 --heartbeat-interval 500ms \
  --default-runner process >"$IT_TMP/w6.log" 2>&1 &
W6=$!
IT_PIDS+=("$W6")
wait_for "connected over IPv6" 20 grep -qF "connected to the controller [::1]:$P1" "$IT_TMP/w6.log"
expect_match "$(cat "$IT_TMP/w6.log")" "TLS session with \[::1\]:$P1: TLSv1" "over IPv6: TLS verified for ::1, authority [::1]:$P1"
it_stop "$W6" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

# --- a TLS server that is no HTTP/2 server (openssl s_server, no ALPN): refused at the handshake
P5=$(free_port)
openssl s_server -accept "127.0.0.1:$P5" -cert "$PKI/server.pem" -key "$PKI/server.key" -quiet \
  </dev/null >"$IT_TMP/s_server.log" 2>&1 &
SS_PID=$!
IT_PIDS+=("$SS_PID")
wait_for "s_server listening" 10 "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$P5"
refused alpn "$P5" "TLS handshake: the controller did not select HTTP/2 (ALPN h2, nothing chosen)" \
  "a TLS server without ALPN h2" --controller-tls true --controller-ca-file "$PKI/ca.pem"
kill -TERM "$SS_PID"
wait "$SS_PID" 2>/dev/null || true

# --- a controller that asks for a client certificate (signed by ca), its own named only
# kwg-controller.test
R2=$IT_TMP/mtls.jsonl
P2=$(free_port)
controller ctl2 "$P2" "$R2" --jobs "$IT_TMP/ok.json" --tls-cert "$PKI/named.pem" \
  --tls-key "$PKI/named.key" --tls-client-ca "$PKI/ca.pem"
TLS=(--controller-tls true --controller-ca-file "$PKI/ca.pem")
refused ipmismatch "$P2" "TLS handshake: certificate verify failed: IP address mismatch" \
  "an address the certificate does not carry" "${TLS[@]}" \
  --controller-cert-file "$PKI/client.pem" --controller-key-file "$PKI/client.key"
refused nocert "$P2" "it asked for a client certificate and none is configured (controller_cert_file, controller_key_file)" \
  "a client certificate required and none configured" "${TLS[@]}" --controller-authority kwg-controller.test
refused badcert "$P2" "the controller closed the connection after the TLS handshake (did it refuse kwg's client certificate?)" \
  "a client certificate the controller does not trust" "${TLS[@]}" \
  --controller-authority kwg-controller.test --controller-cert-file "$PKI/other.pem" \
  --controller-key-file "$PKI/other.key"
expect_eq "$(q "$R2" connects)" 0 "none of them reached the controller"
KWG_CONTROLLER_TLS=true KWG_CONTROLLER_CA_FILE=$PKI/ca.pem KWG_CONTROLLER_CERT_FILE=$PKI/client.pem \
  KWG_CONTROLLER_KEY_FILE=$PKI/client.key KWG_CONTROLLER_AUTHORITY=kwg-controller.test:$P2 \
  gworker w2 "$P2"
W2=$WORKER_PID
wait_for "ok's final result over mutual TLS" 30 is_final "$R2" ok
expect_eq "$(q "$R2" final ok)" SUCCESS \
  "with the client certificate and controller_authority kwg-controller.test (KWG_ variables): the job succeeds"
expect_match "$(q "$R2" logs ok)" "hello f ok" "its logs arrive"
expect_eq "$(grep -c ' [EW] grpc:' "$IT_TMP/w2.log" || true)" 0 "no warning or error from the transport"
it_stop "$W2" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
kill -TERM "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true

wait_for "the silent server's deadline" 30 grep -q "the TLS handshake did not finish within 20000 ms; reconnecting in 500 ms" "$IT_TMP/silent.log"
pass "a server that never answers the handshake: given up after 20 s, retried"
kill -KILL "$W0" "$SILENT_PID"
wait "$W0" "$SILENT_PID" 2>/dev/null || true
it_done
