"""Starts Linux programs for test binaries that run under Wine.

usage: launcher.py PORT_FILE

The Channel Access peers (EPICS Base's soft IOC, caproto) are Linux Python programs. Wine can start
a Linux program from a Windows one, but it can neither wait for it, nor read its exit code, nor stop
it. So the Windows test binaries ask this launcher, which runs beside them on Linux, instead.

Listens on 127.0.0.1 on a free port, which it writes to PORT_FILE once listening. Each connection
sends one JSON line, {"argv": [...], "env": {"NAME": "value" or null}}; an argv[0] of "python" is
this launcher's own Python (the CI's venv), and a bare name found beside it (caproto-get) is taken
from there. The launcher relays the program's output (stdout and
stderr together) line by line, then a last line "EXIT <code>". When the connection closes, the
program and everything it started are killed, so that a test that ends stops its peers.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading


def serve(conn):
    with conn:
        with conn.makefile("r", encoding="utf-8") as reader:
            request = json.loads(reader.readline())
        argv = request["argv"]
        # "python" and the tools installed beside it (caproto-get) come from this Python's venv.
        beside = os.path.join(os.path.dirname(sys.executable), argv[0])
        if argv[0] == "python":
            argv[0] = sys.executable
        elif "/" not in argv[0] and os.path.exists(beside):
            argv[0] = beside
        env = dict(os.environ)
        for name, value in request.get("env", {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        try:
            child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            conn.sendall(f"cannot start {argv[0]}: {e}\nEXIT 127\n".encode())
            return

        def stop_when_closed():
            # recv returns b"" when the test closes its end (or dies).
            while True:
                try:
                    if not conn.recv(4096):
                        break
                except OSError:
                    break
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        threading.Thread(target=stop_when_closed, daemon=True).start()
        try:
            for line in child.stdout:
                conn.sendall(line if line.endswith(b"\n") else line + b"\n")
            conn.sendall(f"EXIT {child.wait()}\n".encode())
            # The end of the output: the test reads to here.
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        child.wait()


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
