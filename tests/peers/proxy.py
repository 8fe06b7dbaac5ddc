"""A TCP proxy on 127.0.0.1 that cuts the byte stream into tiny segments (both ways), so the
peers see records split across many TCP segments and many records in one read."""
import contextlib
import socket
import threading
import time


def _pump(src, dst, size, pause):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            for i in range(0, len(data), size):
                dst.sendall(data[i:i + size])
                if pause:
                    time.sleep(pause)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@contextlib.contextmanager
def splitting_proxy(target_port, size=1, pause=0.0, connections=1):
    """Yield the proxy's port; each of ``connections`` accepted connections is forwarded to
    127.0.0.1:``target_port`` ``size`` bytes per ``send`` (TCP_NODELAY on both legs)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(connections)
    lsock.settimeout(10)
    threads = []

    def serve():
        for _ in range(connections):
            try:
                client, _ = lsock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", target_port), timeout=10)
            for s in (client, server):
                s.settimeout(10)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = [threading.Thread(target=_pump, args=(a, b, size, pause), daemon=True)
                    for a, b in ((client, server), (server, client))]
            for t in pair:
                t.start()
            threads.append((pair, client, server))

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield lsock.getsockname()[1]
    finally:
        lsock.close()
        acceptor.join(10)
        for pair, client, server in threads:
            for t in pair:
                t.join(10)
            client.close()
            server.close()
