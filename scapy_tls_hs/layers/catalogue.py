"""Where Scapy lists these layers: ``conf.layers.ldict`` under ``scapy.layers.tls_hs``.

Scapy files every Packet class under its defining module.  ``explore("tls_hs")`` looks for
``scapy.layers.tls_hs``, and ``explore()`` evaluates each module name from inside Scapy,
where ``scapy_tls_hs.layers.record`` is a NameError that stops the whole listing: so the
classes are filed under the name the Scapy extension loads them as.
"""
from scapy.config import conf

MODULE = "scapy.layers.tls_hs"


def file_layers():
    """Move this package's layer classes to ``MODULE`` in Scapy's per-module index."""
    ldict = conf.layers.ldict
    listed = ldict.setdefault(MODULE, [])
    for key in [k for k in ldict if k.startswith("scapy_tls_hs.")]:
        for cls in ldict.pop(key):
            # The abstract base is no layer a user builds.
            if cls not in listed and cls.__name__ != "TLSPacket":
                listed.append(cls)
    return listed
