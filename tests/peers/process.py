"""A real peer process on loopback: started by a test, waited for, stopped by PID."""
import os
import signal
import socket
import subprocess
import tempfile
import time


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (the peer binds it a moment later)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    """Block until something accepts on host:port; fail early if ``proc`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("peer exited with status %s before listening" % proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("nothing listens on %s:%d after %.1fs" % (host, port, timeout))


class Peer:
    """``subprocess.Popen`` with its output in a temp file, stopped by PID on exit.

    Output goes to a file, not a pipe, so a chatty peer never blocks on a full pipe.
    """

    def __init__(self, argv, *, port=None, env=None, stdin=subprocess.DEVNULL, cwd=None,
                 start_timeout=10.0):
        self.argv = [str(a) for a in argv]
        self.port = port
        self._out = tempfile.NamedTemporaryFile(prefix="peer-", suffix=".log", delete=False)
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(self.argv, stdin=stdin, stdout=self._out,
                                     stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                                     start_new_session=True)
        if port is not None:
            try:
                wait_port(port, timeout=start_timeout, proc=self.proc)
            except Exception:
                self.stop()
                raise RuntimeError("%s did not start: %s" % (self.argv[0], self.output()))

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        """Everything the peer printed so far (stdout and stderr)."""
        self._out.flush()
        with open(self._out.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout=timeout)

    def stop(self, grace=2.0):
        """Terminate the peer's process group by PID; kill it if it lingers."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=grace)
        return self.output()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        try:
            os.unlink(self._out.name)
        except OSError:
            pass
