"""``automata.inline``: the lean walker takes the same paths through a graph as Scapy's own
engine, and ``bare_init`` leaves out only what Scapy's control thread uses."""
import socket
import threading

import pytest
from scapy.automaton import ATMT, Automaton

from scapy_tls_hs.automata.inline import BARE_SKIPS, bare_init, run_states
from scapy_tls_hs.automata.stream import TCPStream


class Toy(Automaton):
    """Counts chunks until ``stop`` arrives; a timeout, an EOF and an error path."""

    def parse_args(self, limit=3, wait=5.0, **kargs):
        super().parse_args(**kargs)
        self.limit = limit
        self.trace = []
        for timer in self.timeout[self.READING.atmt_state]:
            timer.set(wait)

    def master_filter(self, pkt):
        return True

    @ATMT.state(initial=1)
    def BEGIN(self):
        self.trace.append("BEGIN")
        return 7                        # passed to the conditions

    @ATMT.condition(BEGIN)
    def not_taken(self, seven):
        self.trace.append("not_taken %d" % seven)

    @ATMT.condition(BEGIN, prio=1)
    def go(self, seven):
        raise self.READING()

    @ATMT.action(go)
    def on_go(self):
        self.trace.append("action")

    @ATMT.state()
    def READING(self):
        self.trace.append("READING")

    @ATMT.receive_condition(READING)
    def chunk(self, data):
        self.trace.append(bytes(data))
        if b"stop" in data:
            raise self.DONE(len(self.trace))
        if b"boom" in data:
            raise self.FAILED()

    @ATMT.timeout(READING, 5)
    def quiet(self):
        self.trace.append("timeout")
        raise self.DONE(-1)

    @ATMT.eof(READING)
    def gone(self):
        self.trace.append("eof")
        raise self.DONE(-2)

    @ATMT.state(final=1)
    def DONE(self, n):
        return (n, list(self.trace))

    @ATMT.state(error=1)
    def FAILED(self):
        return "failed"


class Idle(Toy):
    """No control thread (Scapy starts one in ``__init__``): walked in the test's thread."""

    def _do_start(self, *args, **kargs):
        pass


class BareToy(Toy):
    def destroy(self, force=False):     # bare_init built nothing to close
        pass


def _pair():
    a, b = socket.socketpair()
    return TCPStream(a, timeout=5), b


def _scapy(send, **args):
    stream, peer = _pair()
    try:
        atmt = Toy(sock=stream, **args)
        send(peer)
        try:
            return atmt.run(wait=True)
        finally:
            atmt.stop()
            atmt.destroy()
    finally:
        peer.close()
        stream.close()


def _walked(send, bare=False, **args):
    stream, peer = _pair()
    try:
        if bare:
            atmt = object.__new__(BareToy)
            bare_init(atmt, stream, dict(args))
        else:
            atmt = Idle(sock=stream, **args)
        atmt.parse_args(**args)
        atmt.state = atmt.initial_states[0](atmt)
        atmt.send_sock = atmt.listen_sock = stream
        send(peer)
        try:
            return run_states(atmt)
        finally:
            if not bare:
                atmt.destroy()
    finally:
        peer.close()
        stream.close()


def _chunks(*chunks, close=False, delay=0.05):
    def send(peer):
        def go():
            for c in chunks:
                peer.sendall(c)
                threading.Event().wait(delay)
            if close:
                peer.shutdown(socket.SHUT_WR)
        threading.Thread(target=go, daemon=True).start()
    return send


@pytest.mark.parametrize("bare", [False, True])
@pytest.mark.parametrize("case", ["stop", "eof", "timeout"])
def test_same_path_as_scapy(case, bare):
    sends = {"stop": lambda: _chunks(b"one", b"two", b"stop"),
             "eof": lambda: _chunks(b"one", close=True),
             "timeout": lambda: _chunks(b"one")}
    args = {"wait": 0.3}
    expected = _scapy(sends[case](), **args)
    got = _walked(sends[case](), bare=bare, **args)
    assert got == expected
    assert got[1][:4] == ["BEGIN", "not_taken 7", "action", "READING"]
    assert got[0] == {"stop": 7, "eof": -2, "timeout": -1}[case]


def test_error_state_raises_as_in_scapy():
    with pytest.raises(Automaton.ErrorState):
        _scapy(_chunks(b"boom"))
    with pytest.raises(Automaton.ErrorState):
        _walked(_chunks(b"boom"))


def test_eof_without_condition_ends_the_walk():
    class NoEof(Idle):
        pass
    del_eof = dict(NoEof.eofs)
    del_eof.pop("READING", None)
    NoEof.eofs = del_eof
    stream, peer = _pair()
    atmt = NoEof(sock=stream)
    atmt.parse_args()
    atmt.state = atmt.initial_states[0](atmt)
    atmt.listen_sock = stream
    peer.close()
    try:
        with pytest.raises(EOFError):
            run_states(atmt)
    finally:
        atmt.destroy()
        stream.close()


def test_bare_init_sets_all_but_the_control_machinery():
    """A Scapy upgrade that adds an attribute to ``Automaton.__init__`` shows here."""
    stream, peer = _pair()
    try:
        full = Idle(sock=stream)
        bare = object.__new__(BareToy)
        bare_init(bare, stream, {})
        states = set(Toy.states)
        expected = set(vars(full)) - BARE_SKIPS - states
        assert expected <= set(vars(bare)), expected - set(vars(bare))
        assert not (BARE_SKIPS & set(vars(bare)))
        full.destroy()
    finally:
        peer.close()
        stream.close()
