# Loaded by Scapy as ``scapy.layers.tls_hs`` (see scapy_ext): absolute imports only, because
# Scapy executes this file under its own module name.
from scapy_tls_hs.all import *  # noqa: F401,F403
