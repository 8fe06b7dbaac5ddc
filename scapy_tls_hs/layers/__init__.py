"""Scapy layers for TLS 1.0-1.2 (and the TLS 1.3 message forms): wire format only.

No crypto, no I/O, no session state: see fields.py for the rules every layer follows.

Crafting::

    TLSRecord() / TLSHandshake() / TLSClientHello(ciphers=[0xC02F], sni="example.test")

Dissecting: ``TLSRecord(data)`` (one packet, records chained), ``dissect_stream(data)`` (one
direction, one packet per record), ``dissect_connection([(direction, record, decrypted)])``
(both directions, the version and key exchange shared), ``handshake_messages(records)``
(messages reassembled across records), ``TLSHandshake(message_bytes)``.  Where the wire
form depends on the connection, pass ``ctx=TLSContext(version=..., key_exchange=...)``.
On TCP ports ``TLS_PORTS`` the layers dissect automatically,
``sniff(offline=..., session=TCPSession)`` yields whole records and
``session=TLSHandshakeSession`` whole handshake messages (see session.py).
"""
from .fields import TLSContext, TLSMalformed, TLSPacket, TLSUndissected
from .record import (TLS_PORTS, TLSAlert, TLSApplicationData, TLSChangeCipherSpec,
                     TLSEncryptedContent, TLSHandshake, TLSHandshakeFragment, TLSRecord,
                     dissect_connection, dissect_stream, handshake_messages, split_records)
from .extensions import (TLSALPNProtocol, TLSExtALPN, TLSExtCompressCertificate, TLSExtCookie,
                         TLSExtEarlyData, TLSExtECPointFormats, TLSExtEncryptThenMAC,
                         TLSExtension, TLSExtExtendedMasterSecret, TLSExtKeyShare,
                         TLSExtMaxFragmentLength, TLSExtPadding, TLSExtPostHandshakeAuth,
                         TLSExtPreSharedKey, TLSExtPSKKeyExchangeModes, TLSExtRecordSizeLimit,
                         TLSExtRenegotiationInfo, TLSExtSCT, TLSExtServerName,
                         TLSExtSessionTicket, TLSExtSignatureAlgorithms,
                         TLSExtSignatureAlgorithmsCert, TLSExtStatusRequest,
                         TLSExtSupportedGroups, TLSExtSupportedVersions, TLSKeyShareEntry,
                         TLSPSKBinder, TLSPSKIdentity, TLSServerName, default_client_extensions,
                         dissect_extension)
from .hello import (HRR_RANDOM, TLSClientHello, TLSFinished, TLSHelloRequest,
                    TLSHelloRetryRequest, TLSServerHello, TLSServerHelloDone, find_extension)
from .handshake import (TLSCertificate, TLSCertificateEntry, TLSCertificateRequest,
                        TLSCertificateStatus, TLSCertificateVerify, TLSDistinguishedName,
                        TLSNewSessionTicket)
from .keyexchange import TLSClientKeyExchange, TLSServerKeyExchange
from .tls13 import (TLS13Certificate, TLS13CertificateEntry, TLS13CertificateRequest,
                    TLS13NewSessionTicket, TLSEncryptedExtensions, TLSEndOfEarlyData,
                    TLSKeyUpdate)
from .session import TLSHandshakeSession
from .catalogue import file_layers

file_layers()

__all__ = [
    "TLSContext", "TLSMalformed", "TLSPacket", "TLSUndissected",
    "TLS_PORTS", "TLSAlert", "TLSApplicationData", "TLSChangeCipherSpec",
    "TLSEncryptedContent", "TLSHandshake", "TLSHandshakeFragment", "TLSRecord",
    "dissect_connection", "dissect_stream", "handshake_messages", "split_records",
    "TLSHandshakeSession",
    "TLSALPNProtocol", "TLSExtALPN", "TLSExtCompressCertificate", "TLSExtCookie",
    "TLSExtEarlyData", "TLSExtECPointFormats", "TLSExtEncryptThenMAC", "TLSExtension",
    "TLSExtExtendedMasterSecret", "TLSExtKeyShare", "TLSExtMaxFragmentLength",
    "TLSExtPadding", "TLSExtPostHandshakeAuth", "TLSExtPreSharedKey",
    "TLSExtPSKKeyExchangeModes", "TLSExtRecordSizeLimit", "TLSExtRenegotiationInfo",
    "TLSExtSCT", "TLSExtServerName", "TLSExtSessionTicket", "TLSExtSignatureAlgorithms",
    "TLSExtSignatureAlgorithmsCert", "TLSExtStatusRequest", "TLSExtSupportedGroups",
    "TLSExtSupportedVersions", "TLSKeyShareEntry", "TLSPSKBinder", "TLSPSKIdentity",
    "TLSServerName", "default_client_extensions", "dissect_extension",
    "HRR_RANDOM", "TLSClientHello", "TLSFinished", "TLSHelloRequest", "TLSHelloRetryRequest",
    "TLSServerHello", "TLSServerHelloDone", "find_extension",
    "TLSCertificate", "TLSCertificateEntry", "TLSCertificateRequest", "TLSCertificateStatus",
    "TLSCertificateVerify", "TLSDistinguishedName", "TLSNewSessionTicket",
    "TLSClientKeyExchange", "TLSServerKeyExchange",
    "TLS13Certificate", "TLS13CertificateEntry", "TLS13CertificateRequest",
    "TLS13NewSessionTicket", "TLSEncryptedExtensions", "TLSEndOfEarlyData", "TLSKeyUpdate",
]
