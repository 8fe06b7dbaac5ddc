"""Replay the client handshakes of a capture against a live server, and compare.

For each TLS connection of the capture whose ClientHello was seen in clear, the ClientHello
is offered again (``hello``: same parameters, fresh secrets) by the client automaton to the
live server, which completes the handshake when the server picks a suite we run
(``driver``). What the server chose then (the capture) and now (the replay) is read the same
way on both sides (``view``) and put side by side; ``differences`` names the fields that
changed (``compare``); ``render`` is the readable report.
"""
from .compare import COMPARED, ReplayResult
from .driver import replay_capture
from .hello import rebuild_client_hello
from .view import Captured, read_captured, server_view

__all__ = ["replay_capture", "rebuild_client_hello", "read_captured", "server_view",
           "ReplayResult", "Captured", "COMPARED"]
