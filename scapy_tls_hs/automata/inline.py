"""Walking an automaton's states in the calling thread: Scapy's state graph, a lean walker.

Scapy's ``Automaton._do_iter`` serves an automaton driven from outside: before each state's
conditions it polls the command pipe (a ``select`` system call), it formats a debug message
at every step whatever the debug level, and it reads the wall clock. A connection served by
the listener (or a client run with a plain ``run()``) has nobody to send it commands, and
for a short TLS connection that bookkeeping cost more than a tenth of the server's CPU time
per handshake. ``run_states`` walks the same graph, the one Scapy's metaclass built from
the ``ATMT`` decorators, with the same meaning:

- a state's function runs on entry; a final state ends the walk with its return value, an
  error state raises ``Automaton.ErrorState`` as Scapy does;
- the state's conditions run in their order, then its timers start, and until one of them
  fires or a chunk arrives the walker blocks on the socket (``sock.select``) for at most
  the time to the next timer; a chunk goes to the receive conditions in their order, the
  end of the stream to the state's EOF condition (``EOFError`` without one);
- a condition that raises a new state leaves the current one (its actions run first), and
  one that returns lets the next be tried, as in Scapy.

Breakpoints, interception points, I/O events and commands need Scapy's control thread:
callers take this path only when none is set.
"""
import threading
import time

from scapy.automaton import ATMT

__all__ = ["run_states", "bare_init", "BARE_SKIPS"]

# What Scapy's ``Automaton.__init__`` builds that only its control thread uses: the command
# pipes, the I/O namespaces and pipes (two classes and up to four pipes per instance), the
# per-instance state wrappers (``_instance_state``: breakpoints and interception by state
# object), the packet list. ``bare_init`` sets every other attribute.
BARE_SKIPS = frozenset(("cmdin", "cmdout", "io", "oi", "packets"))


def bare_init(atmt, sock, kargs):
    """Set up ``atmt`` (a Scapy ``Automaton``) to be walked by ``run_states`` only, in place
    of ``Automaton.__init__``: the attributes the walker and ``Automaton.send`` read, none
    of what ``BARE_SKIPS`` names. Such an automaton cannot ``run()`` on Scapy's engine,
    and its ``destroy`` has nothing to close."""
    atmt.sock = sock
    atmt.listen_sock = atmt.send_sock = None
    atmt.is_atmt_socket = False
    atmt.atmt_socket = None
    atmt.started = threading.Lock()
    atmt.threadid = None
    atmt.breakpointed = None
    atmt.breakpoints = set()
    atmt.interception_points = set()
    atmt.intercepted_packet = None
    atmt.debug_level = 0
    atmt.init_args = ()
    atmt.init_kargs = kargs
    atmt.ioin = {}
    atmt.ioout = {}
    atmt.atmt_session = kargs.pop("session", None)


def run_states(atmt):
    """Walk ``atmt`` from its current state (``atmt.state``, a ``NewStateRequested``) to a
    final state, reading from ``atmt.listen_sock``; returns the final state's output (also
    left in ``atmt.final_state_output``)."""
    cls = type(atmt)
    conditions, recv_conditions = cls.conditions, cls.recv_conditions
    eofs, actions = cls.eofs, cls.actions
    while True:
        try:
            state = atmt.state
            output = state.run()
            if state.error:
                raise atmt.ErrorState("Reached %s: [%r]" % (state.state, output),
                                      result=output, state=state.state)
            if state.final:
                atmt.final_state_output = output
                return output
            if output is None:
                args = ()
            elif isinstance(output, list):
                args = output
            else:
                args = (output,)
            name = state.state
            for cond in conditions[name]:
                _try(atmt, actions, cond, args)
            timers = atmt.timeout[name]
            receivers = recv_conditions[name]
            sock = atmt.listen_sock if receivers else None
            if sock is None and not timers.count():
                raise atmt.Stuck("stuck in [%s]" % name, state=name, result=output)
            _wait(atmt, actions, timers, sock, receivers, eofs.get(name), args)
        except ATMT.NewStateRequested as request:
            atmt.state = request


def _try(atmt, actions, cond, args, chunk=None):
    """One condition; a new state it asks for runs the condition's actions first."""
    try:
        if chunk is None:
            cond(atmt, *args)
        else:
            cond(atmt, chunk, *args)
    except ATMT.NewStateRequested as request:
        for action in actions[cond.atmt_condname]:
            action(atmt, *request.action_args, **request.action_kargs)
        raise


def _wait(atmt, actions, timers, sock, receivers, eof, args):
    """Until a condition leaves the state: fire the timers that expired, else wait for the
    next chunk (or the next timer)."""
    timers.reset()
    clock = time.monotonic
    before = clock()
    while True:
        now = clock()
        timers.decrement(now - before)
        before = now
        for timer in timers.expired():
            _try(atmt, actions, timer._func, args)
        remain = timers.until_next()
        if sock is None:
            if remain is None:      # every timer fired and none left the state
                raise atmt.Stuck("stuck in [%s]" % atmt.state.state,
                                 state=atmt.state.state, result=args)
            time.sleep(remain)
            continue
        if not sock.select([sock], remain):
            continue
        try:
            chunk = sock.recv()
        except EOFError:
            if eof is not None:
                eof(atmt)       # leaves the state (it raises the next one)
            raise EOFError("connection ended in state %s" % atmt.state.state) from None
        for cond in receivers:
            _try(atmt, actions, cond, args, chunk)
