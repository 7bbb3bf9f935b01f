"""flaky-detector: one run through the pytest fork server. Started by the runner as the
run's process (`python -I -S -c <this> <socket> <module> <script> <pytest args>...`), in the
run's process group, cwd and environment. It hands all of that to the server, with its
stdio and namespaces as file descriptors, and ends as the run's child ended: with its exit
code, or by its signal."""
import array
import json
import os
import signal
import socket
import sys

path, module, script = sys.argv[1:4]
request = json.dumps({
    "args": sys.argv[4:],
    "module": module == "1",
    "script": script,
    "cwd": os.getcwd(),
    "env": dict(os.environ),
    "pgid": os.getpgrp(),
}).encode("utf-8", "surrogateescape")
fds = [0, 1, 2, os.open("/proc/self/ns/user", os.O_RDONLY), os.open("/proc/self/ns/mnt", os.O_RDONLY)]
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    conn.connect(path)
    message = len(request).to_bytes(4, "big") + request
    sent = conn.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    if sent < len(message):
        conn.sendall(message[sent:])
except OSError as error:
    sys.stderr.write(f"flaky-detector: the pytest fork server is gone: {error}\n")
    sys.exit(70)
for fd in fds[3:]:
    os.close(fd)
reply = b""
while True:
    chunk = conn.recv(64)
    if not chunk:
        break
    reply += chunk
try:
    status = int(reply.strip())
except ValueError:
    sys.stderr.write("flaky-detector: the pytest fork server ended the run without a status\n")
    sys.exit(70)
if os.WIFSIGNALED(status):
    number = os.WTERMSIG(status)
    signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)
sys.exit(os.WEXITSTATUS(status))
