"""A sans-IO ``ServerConnection`` behind a real socket, in a thread: what the TLS 1.3
server tests put real clients (openssl s_client, Python ssl, tlslite-ng) in front of.

Each accepted connection runs until the peer closes; application data is answered with
``b"echo:" + data`` (``answer`` changes that). The connection objects are kept in ``conns``
(in accept order) for the test to read what was negotiated.
"""
import socket
import threading

from scapy_tls_hs.connection import ApplicationData, ServerConnection
from scapy_tls_hs.errors import AlertError, TLSError

TIMEOUT = 10


def echo(data):
    return b"echo:" + data


class ServerThread:
    def __init__(self, config, port, context=None, count=1, answer=echo, after=None,
                 close_after_answer=True):
        self.config = config
        self.context = context
        self.count = count
        self.answer = answer
        self.after = after              # after(conn): called once the handshake completes
        self.close_after_answer = close_after_answer
        self.conns = []
        self.errors = []
        self.port = port
        self._srv = socket.create_server(("127.0.0.1", port))
        self._srv.settimeout(TIMEOUT)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.join()

    def join(self, timeout=TIMEOUT + 5):
        self._thread.join(timeout)
        self._srv.close()

    def _run(self):
        for _ in range(self.count):
            try:
                sock, _ = self._srv.accept()
            except OSError:
                return
            with sock:
                sock.settimeout(TIMEOUT)
                conn = ServerConnection(self.config, self.context)
                self.conns.append(conn)
                self._serve(conn, sock)

    def _serve(self, conn, sock):
        done = False
        try:
            while not conn.closed:
                try:
                    data = sock.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not data:
                    break
                try:
                    events = conn.receive_data(data)
                except AlertError as exc:
                    self.errors.append(exc)
                    events = []
                for ev in events:
                    if isinstance(ev, ApplicationData) and conn.handshake_complete \
                            and not conn.closed and self.answer is not None:
                        try:
                            conn.send_application_data(self.answer(ev.data))
                            if self.close_after_answer:
                                conn.close()
                        except TLSError:
                            pass
                if conn.handshake_complete and not done:
                    done = True
                    if self.after is not None:
                        self.after(conn)
                out = conn.data_to_send()
                if out:
                    sock.sendall(out)
        except OSError:
            pass
