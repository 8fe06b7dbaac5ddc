"""The fast struct-level wire codec used by the connection core (no Scapy here).

``buffer``: Reader/Writer; ``records``: record framing and handshake reassembly;
``messages``: handshake message bodies; ``extensions``: extension bodies.
"""
