"""Record protection: round trips, tamper detection, and every encrypted record of the
TLS 1.2 captures opened with keys derived from their key logs."""
import os
import pathlib

import pytest
from hypothesis import given, settings, strategies as st

from scapy_tls_hs.crypto.keylog import Keylog
from scapy_tls_hs.crypto.prf import (Transcript, extended_master_secret, key_block,
                                     verify_data)
from scapy_tls_hs.crypto.record import NullProtection, RecordProtection
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.errors import AlertError

from . import capture_keys as C

CAPTURES = pathlib.Path(__file__).parent.parent / "data" / "captures"
VERSIONS = (0x0301, 0x0302, 0x0303)


def _cases():
    for suite in CipherSuite.all():
        for version in VERSIONS:
            if suite.usable_in(version):
                for etm in ((False,) if suite.aead else (False, True)):
                    yield pytest.param(suite, version, etm,
                                       id="%s-%x%s" % (suite.openssl_name, version,
                                                       "-etm" if etm else ""))


CASES = list(_cases())


def _pair(suite, version, etm, sender="client"):
    """(writer, new_reader): ``new_reader()`` makes a fresh reader with the same keys."""
    kb = key_block(os.urandom(48), os.urandom(32), os.urandom(32), suite, version)

    def new_reader():
        return RecordProtection.for_direction(suite, version, kb, sender, etm)
    return new_reader(), new_reader


def test_every_suite_of_all_is_covered():
    names = {p.values[0].name for p in CASES}
    assert names == {s.name for s in CipherSuite.all()}
    # 3 versions for the SHA-1 CBC suites, EtM on and off: many more cases than suites
    assert len(CASES) > 2 * len(names)


@pytest.mark.parametrize("suite,version,etm", CASES)
def test_seal_open_round_trip(suite, version, etm):
    writer, new_reader = _pair(suite, version, etm)
    reader = new_reader()
    for size in (0, 1, 15, 16, 17, 255, 1000, 16384):
        plaintext = os.urandom(size)
        fragment = writer.seal(23, version, plaintext)
        assert reader.open(23, version, fragment) == plaintext
    assert writer.seq == reader.seq == 8


@pytest.mark.parametrize("suite,version,etm", CASES)
def test_any_flipped_bit_is_bad_record_mac(suite, version, etm):
    writer, new_reader = _pair(suite, version, etm)
    fragment = writer.seal(22, version, b"finished message!")
    for bit in range(len(fragment) * 8):
        tampered = bytearray(fragment)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(AlertError) as info:
            new_reader().open(22, version, bytes(tampered))
        assert info.value.description == "bad_record_mac"
    assert new_reader().open(22, version, fragment) == b"finished message!"


@pytest.mark.parametrize("suite,version,etm", CASES[::3])
def test_header_fields_are_authenticated(suite, version, etm):
    writer, new_reader = _pair(suite, version, etm)
    fragment = writer.seal(23, version, b"data")
    for ct, ver in ((22, version), (23, version ^ 1)):
        reader = new_reader()
        with pytest.raises(AlertError, match="bad_record_mac"):
            reader.open(ct, ver, fragment)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_fragments_fail_cleanly(data):
    suite, version, etm = data.draw(st.sampled_from([p.values for p in CASES]))
    reader = _pair(suite, version, etm)[1]()
    fragment = data.draw(st.binary(max_size=200))
    with pytest.raises(AlertError) as info:
        reader.open(23, version, fragment)
    assert info.value.description == "bad_record_mac"


@pytest.mark.parametrize("suite,version,etm", [p for p in CASES if p.values[0].aead][:3]
                         + [p for p in CASES if not p.values[0].aead][:4])
def test_replayed_or_reordered_record_fails(suite, version, etm):
    writer, new_reader = _pair(suite, version, etm)
    first, second = writer.seal(23, version, b"one"), writer.seal(23, version, b"two")
    with pytest.raises(AlertError, match="bad_record_mac"):
        new_reader().open(23, version, second)
    reader = new_reader()
    assert reader.open(23, version, first) == b"one"
    with pytest.raises(AlertError, match="bad_record_mac"):
        reader.open(23, version, first)


def test_gcm_explicit_nonce_is_the_sequence_number():
    suite = CipherSuite.by_name("ECDHE-RSA-AES128-GCM-SHA256")
    writer, _ = _pair(suite, 0x0303, False)
    assert writer.seal(23, 0x0303, b"a")[:8] == bytes(8)
    assert writer.seal(23, 0x0303, b"a")[:8] == (1).to_bytes(8, "big")


def test_tls10_cbc_chains_the_iv():
    suite = CipherSuite.by_name("AES128-SHA")
    writer, new_reader = _pair(suite, 0x0301, False)
    reader = new_reader()
    first = writer.seal(23, 0x0301, b"x" * 40)
    second = writer.seal(23, 0x0301, b"x" * 40)
    # No explicit IV: 40 + 20 MAC + padding = 64 bytes, and equal plaintexts differ.
    assert len(first) == len(second) == 64 and first != second
    assert reader.open(23, 0x0301, first) == b"x" * 40
    assert reader.open(23, 0x0301, second) == b"x" * 40


def test_tls11_cbc_sends_an_explicit_iv():
    suite = CipherSuite.by_name("AES128-SHA")
    writer, _ = _pair(suite, 0x0302, False)
    assert len(writer.seal(23, 0x0302, b"x" * 40)) == 16 + 64


def test_bad_padding_and_bad_mac_give_the_same_error():
    """Same alert, same message: nothing tells a padding oracle which check failed."""
    suite = CipherSuite.by_name("AES128-SHA256")
    writer, new_reader = _pair(suite, 0x0303, False)
    key = writer._key
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    iv = bytes(16)
    errors = []
    for last in (b"\x05", b"\x00"):     # bad padding / good padding length but wrong MAC
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        body = enc.update(bytes(47) + last) + enc.finalize()
        with pytest.raises(AlertError) as info:
            new_reader().open(23, 0x0303, iv + body)
        errors.append(str(info.value))
    assert errors[0] == errors[1] == "bad_record_mac"


def test_sequence_number_advances_on_failed_open():
    suite = CipherSuite.by_name("ECDHE-RSA-CHACHA20-POLY1305")
    reader = _pair(suite, 0x0303, False)[1]()
    with pytest.raises(AlertError):
        reader.open(23, 0x0303, bytes(20))
    assert reader.seq == 1


def test_record_overflow():
    suite = CipherSuite.by_name("ECDHE-RSA-AES128-GCM-SHA256")
    writer, new_reader = _pair(suite, 0x0303, False)
    with pytest.raises(AlertError, match="record_overflow"):
        new_reader().open(23, 0x0303, bytes(16384 + 2049))
    with pytest.raises(ValueError):
        writer.seal(23, 0x0303, bytes(16385))


def test_null_protection_passes_through():
    null = NullProtection()
    assert null.seal(22, 0x0303, b"abc") == b"abc"
    assert null.open(22, 0x0303, b"abc") == b"abc"


# -- an independent implementation: tlslite-ng's record layer ------------------------------

class _FakeSocket:
    def __init__(self):
        self.out, self.inbuf = bytearray(), bytearray()

    def send(self, data):
        self.out += data
        return len(data)

    def sendall(self, data):
        self.out += data

    def recv(self, n):
        data = bytes(self.inbuf[:n])
        del self.inbuf[:n]
        return data


def _tlslite_client(suite, version, master, cr, sr, etm):
    from tlslite.recordlayer import RecordLayer
    sock = _FakeSocket()
    layer = RecordLayer(sock)
    layer.version = (3, version & 0xFF)
    layer.client = True
    layer.encryptThenMAC = etm
    layer.calcPendingStates(suite.id, bytearray(master), bytearray(cr), bytearray(sr),
                            ["python", "openssl"])
    layer.changeWriteState()
    layer.changeReadState()
    return layer, sock


@pytest.mark.parametrize("suite,version,etm", CASES)
def test_interoperates_with_tlslite(suite, version, etm):
    """tlslite-ng (client side) and we (both sides) agree on every record, both ways:
    MAC-then-encrypt, EtM, TLS 1.0 chained IVs, GCM and ChaCha20 nonces."""
    from tlslite.messages import ApplicationData
    if suite.authentication == "DSA" and suite.mac == "SHA256":
        # tlslite-ng's record layer lists no SHA-256 MAC for these two; the same record
        # protection is checked against the RSA and ECDSA SHA-256 CBC suites here.
        pytest.skip("tlslite-ng cannot key the DHE_DSS SHA-256 CBC suites")
    master, cr, sr = os.urandom(48), os.urandom(32), os.urandom(32)
    layer, sock = _tlslite_client(suite, version, master, cr, sr, etm)
    kb = key_block(master, cr, sr, suite, version)
    read_client = RecordProtection.for_direction(suite, version, kb, "client", etm)
    write_server = RecordProtection.for_direction(suite, version, kb, "server", etm)
    for size in (0, 31, 200):
        message = os.urandom(size) or b"\x00"
        for _ in layer.sendRecord(ApplicationData().create(bytearray(message))):
            pass
        record, sock.out[:] = bytes(sock.out), b""
        assert record[:3] == bytes((23,)) + version.to_bytes(2, "big")
        assert read_client.open(23, version, record[5:]) == message
        fragment = write_server.seal(23, version, message)
        sock.inbuf += bytes((23,)) + version.to_bytes(2, "big") + \
            len(fragment).to_bytes(2, "big") + fragment
        result = next(r for r in layer.recvRecord() if r not in (0, 1))
        assert bytes(result[1].bytes) == message


# -- real captures ------------------------------------------------------------------------

PCAPS = CAPTURES.parent.parent.parent / "pcaps"


def _tls12_captures():
    """Every TLS <= 1.2 capture with a key log: the corpus, then the extra ones in pcaps/
    (TLS 1.0 and 1.1 CBC with encrypt_then_mac among them)."""
    seen = {}
    for folder in (CAPTURES, PCAPS):
        for path in sorted(folder.glob("*.pcap*")):
            if path.with_suffix(".keylog").exists() and not path.name.startswith("tls13"):
                seen.setdefault(path.name, path)
    return [pytest.param(p, id=p.stem) for _, p in sorted(seen.items())]


TLS12_CAPTURES = list(_tls12_captures())


def test_captures_cover_versions_and_record_modes():
    """The real records opened below include TLS 1.0 (chained IV), 1.1 and 1.2 CBC, EtM and
    MAC-then-encrypt, AES-GCM and ChaCha20-Poly1305, SHA-256 and SHA-384 PRFs."""
    kinds = set()
    for param in TLS12_CAPTURES:
        for hs in C.handshakes(param.values[0]):
            suite = CipherSuite.by_id(hs.suite_id)
            kinds.add(("version", hs.version))
            kinds.add(("cipher", suite.cipher.split("_")[0] if not suite.aead
                       else suite.cipher))
            kinds.add(("prf", suite.prf_hash))
            if not suite.aead:
                kinds.add(("etm", hs.both_have(C.EXT_ENCRYPT_THEN_MAC)))
    assert kinds >= {("version", 0x0301), ("version", 0x0302), ("version", 0x0303),
                     ("cipher", "AES"), ("cipher", "AES_128_GCM"), ("cipher", "AES_256_GCM"),
                     ("cipher", "CHACHA20_POLY1305"), ("etm", True), ("etm", False),
                     ("prf", "sha256"), ("prf", "sha384")}


def _open_all(hs, master, suite):
    """Open every protected record of both directions; return the two Finished raws."""
    version = hs.version
    kb = key_block(master, hs.client_random, hs.server_random, suite, version)
    etm = hs.both_have(C.EXT_ENCRYPT_THEN_MAC) and not suite.aead
    finished = {}
    counts = {}
    for sender in ("client", "server"):
        side = getattr(hs, sender)
        prot = RecordProtection.for_direction(suite, version, kb, sender, etm)
        opened = [prot.open(ct, ver, frag) for ct, ver, frag in side.protected]
        assert opened, "no protected record from the %s" % sender
        assert side.protected[0][0] == C.HANDSHAKE
        finished[sender] = opened[0]
        counts[sender] = len(opened)
    return finished, counts


def _check_finished(hs, master, suite, finished):
    version, h = hs.version, suite.prf_hash
    resumed, client_first, server_first, client_rest, nst, _ = C.transcripts12(hs)
    t = Transcript()
    if resumed:
        for raw in client_first + server_first + nst:
            t.update(raw)
        want_server = verify_data(master, "server", t.digest(version, h), version, h)
        t.update(finished["server"])
        want_client = verify_data(master, "client", t.digest(version, h), version, h)
    else:
        for raw in client_first + server_first + client_rest:
            t.update(raw)
        want_client = verify_data(master, "client", t.digest(version, h), version, h)
        t.update(finished["client"])
        for raw in nst:
            t.update(raw)
        want_server = verify_data(master, "server", t.digest(version, h), version, h)
    assert finished["client"] == b"\x14\x00\x00\x0c" + want_client
    assert finished["server"] == b"\x14\x00\x00\x0c" + want_server
    return resumed


@pytest.mark.parametrize("path", TLS12_CAPTURES)
def test_capture_records_open_and_finished_match(path):
    keylog = Keylog.load(path.with_suffix(".keylog"))
    checked = 0
    for hs in C.handshakes(path):
        master = keylog.master_secret(hs.client_random)
        if master is None:
            continue
        suite = CipherSuite.by_id(hs.suite_id)
        finished, counts = _open_all(hs, master, suite)
        _check_finished(hs, master, suite, finished)
        checked += 1
    if path.stem == "alert_client_rejects_cert":
        assert checked == 0          # the client gave up before any key existed
    else:
        assert checked >= 1


def test_ems_session_hash_changes_the_master_secret():
    pre = os.urandom(48)
    t = Transcript()
    t.update(b"\x01\x00\x00\x00")
    a = extended_master_secret(pre, t.digest(0x0303), 0x0303)
    t.update(b"\x10\x00\x00\x00")
    b = extended_master_secret(pre, t.digest(0x0303), 0x0303)
    assert len(a) == len(b) == 48 and a != b


# -- constant-time comparisons --------------------------------------------------------------

class _RecordingHmac:
    """Stands in for the ``hmac`` module: records what ``compare_digest`` compared."""

    def __init__(self):
        import hmac
        self.calls, self._real = [], hmac.compare_digest

    def compare_digest(self, a, b):
        self.calls.append((bytes(a), bytes(b)))
        return self._real(a, b)


@pytest.mark.parametrize("etm", [False, True], ids=["mte", "etm"])
@pytest.mark.parametrize("version", [0x0301, 0x0303])
def test_mac_and_padding_checks_are_constant_time(monkeypatch, etm, version):
    """The MAC (and, for MAC-then-encrypt, the padding) of a CBC record is compared with
    ``hmac.compare_digest``, on good and on tampered records alike (AEAD tags are checked
    inside ``cryptography``)."""
    import scapy_tls_hs.crypto.record as record_module
    suite = CipherSuite.by_name("AES128-SHA")
    writer, new_reader = _pair(suite, version, etm)
    fragment = writer.seal(23, version, b"x" * 30)
    recorder = _RecordingHmac()
    monkeypatch.setattr(record_module, "_hmac", recorder)
    assert new_reader().open(23, version, fragment) == b"x" * 30
    macs = [c for c in recorder.calls if len(c[0]) == suite.mac_len]
    assert len(macs) == 1 and macs[0][0] == macs[0][1]
    if not etm:
        assert len(recorder.calls) == 2          # the padding bytes too
    recorder.calls.clear()
    tampered = bytearray(fragment)
    tampered[-1] ^= 0x40
    with pytest.raises(AlertError, match="bad_record_mac"):
        new_reader().open(23, version, bytes(tampered))
    assert any(len(a) == suite.mac_len and a != b for a, b in recorder.calls)


def test_rsa_pre_master_version_check_is_constant_time(monkeypatch):
    from cryptography.hazmat.primitives.asymmetric import rsa
    import scapy_tls_hs.crypto.keyexchange as kx
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pre_master, encrypted = kx.rsa_encrypt_pre_master(key.public_key(), 0x0303)
    recorder = _RecordingHmac()
    monkeypatch.setattr(kx, "hmac", recorder)
    assert kx.rsa_decrypt_pre_master(key, encrypted, 0x0303) == pre_master
    assert recorder.calls == [(b"\x03\x03", b"\x03\x03")]
    recorder.calls.clear()
    assert len(kx.rsa_decrypt_pre_master(key, encrypted, 0x0301)) == 48
    assert recorder.calls == [(b"\x03\x03", b"\x03\x01")]
