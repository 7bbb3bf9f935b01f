"""flaky-detector's pytest fork server: imports pytest and the third-party modules a
repository's tests import once, then forks one child per run that becomes that run.

Started as `python -c <this file> <socket> <checkout>` from the run's virtualenv python, with
the job's environment and the PYTHONHASHSEED every child of this server will have (it cannot
change after the interpreter starts). The first line on stdout is `ready` or
`fallback: <reason>`; after it the server writes nothing more to stdout.

What is preimported: `pytest` (with `_pytest`), and the top-level modules that the test
files and conftest files of the checkout import at module level (a static `ast` scan; the
files are never executed here) when they resolve outside the checkout. Never the
repository's own modules. The pytest plugins a run would autoload (`pytest11` entry points)
are loaded here too; pytest then cannot rewrite asserts inside those plugin modules, and its
"already imported" warning for them is silenced in the runs.

A server refuses to serve (the runs are then plain) when an import raises, a plugin cannot
be loaded, a thread is alive after the imports, or a socket is open.

A run's client (CLIENT below, started by the runner as the run's process) connects and sends
its argv, cwd, environment and process group, with its stdin, stdout, stderr and its mount
and user namespaces as file descriptors (SCM_RIGHTS). The child joins the client's process
group, so the runner's timeout kills the child and everything it started exactly as it
kills a plain run; it enters the client's namespaces (the overlay isolation), takes its
cwd, environment and stdio, reseeds what was seeded at import, and calls pytest's main.
The server sends the child's wait status back; the client exits with the same code or dies
of the same signal. A client that goes away while its child runs has the child killed.
"""

import ast
import json
import os
import selectors
import signal
import socket
import struct
import sys

SOCKET_PATH = sys.argv[1]
CHECKOUT = os.path.realpath(sys.argv[2])
# Where a file name starts with one of these parts, the scan skips it: no test lives there.
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", "build",
             "dist", ".eggs", "site-packages"}
SCAN_LIMIT = 2000


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def test_files(root):
    """The checkout's test and conftest files (at most SCAN_LIMIT)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        for name in filenames:
            if name == "conftest.py" or (name.endswith(".py") and (
                    name.startswith("test_") or name.endswith("_test.py"))):
                found.append(os.path.join(dirpath, name))
                if len(found) >= SCAN_LIMIT:
                    return found
    return found


def top_level_imports(path):
    """Absolute module-level imports of one file, as top-level package names."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def load_plugins():
    """Loads the pytest plugins a run would autoload (`pytest11` entry points); returns the
    top-level names of their distributions, and the reason when one cannot be loaded."""
    import importlib.metadata

    names = set()
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return names, None
    for dist in importlib.metadata.distributions():
        points = [ep for ep in dist.entry_points if ep.group == "pytest11"]
        for point in points:
            try:
                point.load()
            except BaseException as error:  # noqa: BLE001 - any failure means plain runs
                return None, (f"the pytest plugin `{point.name}` cannot be loaded "
                              f"({type(error).__name__}: {error})")
            names.add(point.value.split(":")[0].strip().split(".")[0])
    return names, None


def outside_checkout(name):
    """True when `name` resolves to a module outside the checkout (site-packages, stdlib)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    places = []
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        places.append(spec.origin)
    places.extend(spec.submodule_search_locations or [])
    for place in places:
        real = os.path.realpath(place)
        if real == CHECKOUT or real.startswith(CHECKOUT + os.sep):
            return False
    return True


def open_sockets(listener):
    mine = os.fstat(listener.fileno()).st_ino
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:") and target != f"socket:[{mine}]":
            found.append(fd)
    return found


def threads_alive():
    import threading

    names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    try:
        tasks = len(os.listdir("/proc/self/task"))
    except OSError:
        tasks = 1
    if names:
        return f"a thread is alive after the imports ({', '.join(sorted(names))})"
    if tasks > 1:
        return f"{tasks - 1} native thread(s) alive after the imports"
    return None


def preimport(listener):
    """Imports what the runs share; the reason to refuse to serve, or None."""
    # The checkout must not be importable here: only what resolves elsewhere is imported.
    def inside(path):
        real = os.path.realpath(path)
        return real == CHECKOUT or real.startswith(CHECKOUT + os.sep)

    # Whole path components: a virtualenv at `<checkout>-venv` beside it is not inside it.
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and not inside(p)]
    try:
        import importlib

        import pytest  # noqa: F401
        from _pytest.config import default_plugins

        # pytest's own plugins: every run imports them, and they are never rewritten.
        for name in default_plugins:
            importlib.import_module(f"_pytest.{name}")
    except BaseException as error:  # noqa: BLE001 - any failure means plain runs
        return f"pytest cannot be imported ({type(error).__name__}: {error})"
    plugins, reason = load_plugins()
    if reason:
        return reason
    # pytest would mark these for assert rewriting and warn that they were imported already.
    PLUGIN_MODULES.update(m for m in sys.modules if m.split(".")[0] in plugins)
    wanted = set()
    for path in test_files(CHECKOUT):
        wanted |= top_level_imports(path)
    wanted = sorted(n for n in wanted - {"__future__"} if outside_checkout(n))
    for name in wanted:
        try:
            __import__(name)
        except BaseException as error:  # noqa: BLE001 - an import that fails means plain runs
            return f"importing `{name}` failed ({type(error).__name__}: {error})"
    reason = threads_alive()
    if reason:
        return reason
    sockets = open_sockets(listener)
    if sockets:
        return f"a socket is open after the imports (fd {', '.join(sockets)})"
    return None


def receive(conn):
    """The client's request and its file descriptors."""
    conn.settimeout(10)
    fds = []
    data = b""
    want = None
    while want is None or len(data) < want:
        chunk, ancdata, _, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(16 * 4))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                fds.extend(struct.unpack(f"{usable // 4}i", payload[:usable]))
        if not chunk:
            raise OSError("the client closed before its request was complete")
        data += chunk
        if want is None and len(data) >= 4:
            want = 4 + struct.unpack(">I", data[:4])[0]
    return json.loads(data[4:want].decode("utf-8", "surrogateescape")), fds


def enter_namespaces(user_fd, mnt_fd):
    """Enters the client's user and mount namespaces when they differ from ours."""
    def differs(fd, kind):
        return os.fstat(fd).st_ino != os.stat(f"/proc/self/ns/{kind}").st_ino

    if not differs(mnt_fd, "mnt"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for fd, kind, flag in ((user_fd, "user", 0x10000000), (mnt_fd, "mnt", 0x00020000)):
        if differs(fd, kind) and libc.setns(fd, flag) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into the run's {kind} namespace: {os.strerror(err)}")


def drop_mount_rights():
    """Drops CAP_SYS_ADMIN, which the server holds (as root) to enter runs' mount namespaces:
    a run started the plain way has not got it, so neither may a forked one (it could
    unmount its overlay). Out of the bounding set too, for the programs the run starts."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    cap_sys_admin, pr_capbset_read, pr_capbset_drop = 21, 23, 24
    ulong = ctypes.c_ulong
    if libc.prctl(pr_capbset_read, ulong(cap_sys_admin), ulong(0), ulong(0), ulong(0)) == 1:
        if libc.prctl(pr_capbset_drop, ulong(cap_sys_admin), ulong(0), ulong(0), ulong(0)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"dropping CAP_SYS_ADMIN: {os.strerror(err)}")
    # capget/capset, version 3: a header, then (effective, permitted, inheritable) twice.
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capget(header, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"reading capabilities: {os.strerror(err)}")
    bit = 1 << cap_sys_admin
    if any(data[i] & bit for i in range(3)):
        for i in range(3):
            data[i] &= ~bit
        if libc.capset(header, data) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"dropping CAP_SYS_ADMIN: {os.strerror(err)}")


def become_run(request, fds, hash_seed):
    """In the forked child: becomes the run and never returns."""
    code = 70
    try:
        stdin, stdout, stderr, user_fd, mnt_fd = fds[:5]
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setpgid(0, request["pgid"])
        enter_namespaces(user_fd, mnt_fd)
        drop_mount_rights()
        for fd in (user_fd, mnt_fd):
            os.close(fd)
        for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        env = dict(request["env"])
        # The variable tells subprocesses the hash seed this process really has.
        env["PYTHONHASHSEED"] = str(hash_seed)
        os.environ.clear()
        os.environ.update(env)
        # The run's PYTHONPATH entries the server did not start with (plugins of the run).
        extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                 if p and p not in sys.path]
        argv = request["args"]
        if request["module"]:
            import pytest as _pytest_module
            first = os.getcwd()
            script = os.path.join(os.path.dirname(_pytest_module.__file__), "__main__.py")
        else:
            script = request["script"]
            first = os.path.dirname(script)
        sys.path[:] = [first] + extra + SERVER_PATH
        sys.argv = [script] + argv
        import random
        import tempfile

        random.seed()
        tempfile.tempdir = None
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None and hasattr(numpy_random, "seed"):
            numpy_random.seed()
        import pytest
        from _pytest.assertion.rewrite import AssertionRewritingHook

        warn = AssertionRewritingHook._warn_already_imported

        def quiet(self, name):
            if name not in PLUGIN_MODULES:
                warn(self, name)

        AssertionRewritingHook._warn_already_imported = quiet
        try:
            code = pytest.main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        import atexit

        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - a closed stream still exits with the code
            pass
        code = int(code)
    except BaseException:  # noqa: BLE001 - the child must never return into the server
        try:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code & 0xFF)


def same_user(conn):
    """Whether the peer runs as this server's user (SO_PEERCRED), checked before its request is
    read: another user must not have code run as us, nor hold the loop by never sending."""
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    _, uid, _ = struct.unpack("3i", creds)
    return uid == os.geteuid()


def serve(listener, hash_seed):
    selector = selectors.DefaultSelector()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
    running = {}  # pid -> connection
    while True:
        for key, _ in selector.select():
            what = key.data
            if what == "stdin":
                if not os.read(sys.stdin.fileno(), 4096):
                    for pid in running:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    return
            elif what == "accept":
                conn, _ = listener.accept()
                if not same_user(conn):
                    conn.close()
                    continue
                try:
                    request, fds = receive(conn)
                except (OSError, ValueError):
                    conn.close()
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    conn.close()
                    os.close(wake_r)
                    os.close(wake_w)
                    become_run(request, fds, hash_seed)
                for fd in fds:
                    os.close(fd)
                running[pid] = conn
                selector.register(conn, selectors.EVENT_READ, pid)
            elif what == "child":
                try:
                    while os.read(wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
                while running:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    conn = running.pop(pid, None)
                    if conn is None:
                        continue
                    try:
                        selector.unregister(conn)
                    except (KeyError, ValueError):
                        pass
                    try:
                        conn.sendall(f"{status}\n".encode())
                    except OSError:
                        pass
                    conn.close()
            else:
                # The client went away (killed with its group, or cancelled): its child goes too.
                selector.unregister(key.fileobj)
                try:
                    os.kill(what, signal.SIGKILL)
                except OSError:
                    pass


def main():
    hash_seed = os.environ.get("PYTHONHASHSEED", "random")
    sys.stdin = open(0, "rb", buffering=0)
    try:
        os.unlink(SOCKET_PATH)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Only this user may connect (the folder is 0700 too): a client has a test run as us.
    previous = os.umask(0o177)
    try:
        listener.bind(SOCKET_PATH)
    finally:
        os.umask(previous)
    listener.listen(64)
    reason = preimport(listener)
    if reason:
        say(f"fallback: {reason}")
        return
    global SERVER_PATH
    SERVER_PATH = list(sys.path)
    # What was imported lives as long as the server: out of the collector's sight, a child's
    # full collections (pytest runs two per session) need not walk, nor copy on write, the
    # whole imported heap (0.4 s per run with sympy).
    import gc

    gc.collect()
    gc.freeze()
    say("ready")
    serve(listener, hash_seed)


SERVER_PATH = []
# Modules of the plugins loaded in the server (their asserts are not rewritten).
PLUGIN_MODULES = set()

if __name__ == "__main__":
    main()
