#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A UNIX-socket proxy for PostgreSQL's socket, so that a test can cut a worker's connections at a
# moment of its choosing: the server sees its sessions go away, the worker sees its answers lost.
# usage: sock_proxy.py LISTEN_PATH TARGET_PATH; SIGTERM closes every connection and exits.
import os
import selectors
import signal
import socket
import sys

listen_path, target_path = sys.argv[1], sys.argv[2]
try:
    os.unlink(listen_path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(listen_path)
os.chmod(listen_path, 0o777)
srv.listen(64)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ)
peers = {}


def close(s):
    other = peers.pop(s, None)
    for x in (s, other):
        if x is not None:
            peers.pop(x, None)
            try:
                sel.unregister(x)
            except (KeyError, ValueError):
                pass
            x.close()


def stop(*_):
    for s in list(peers):
        close(s)
    os.unlink(listen_path)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is srv:
            c, _ = srv.accept()
            t = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                t.connect(target_path)
            except OSError:
                c.close()
                continue
            peers[c], peers[t] = t, c
            sel.register(c, selectors.EVENT_READ)
            sel.register(t, selectors.EVENT_READ)
            continue
        if s not in peers:
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            close(s)
            continue
        peers[s].sendall(data)
