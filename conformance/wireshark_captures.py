"""``dissect`` against tshark on Wireshark's own TLS test captures (issue 12: captures made by
other projects). Not in CI: the captures are Wireshark's (GPL-2.0), not this project's, and
stay out of the repository. Get them from Wireshark's source, e.g. on Debian with a deb-src
line: ``apt-get source --download-only wireshark`` and unpack ``test/captures`` and
``test/keys``; then

    python conformance/wireshark_captures.py WIRESHARK_SOURCE/test

For every TLS-over-TCP capture there (with the keys Wireshark's own test suite uses), each
TCP connection's handshake ladder (message names per direction, decrypted where keys are
given) is compared between ``scapy-tls-hs dissect --json`` and ``tshark``; one line per
capture says how many connections agree.
"""
import collections
import json
import subprocess
import sys

T = (sys.argv[1] if len(sys.argv) > 1 else "test").rstrip("/") + "/"
C, K = T + "captures/", T + "keys/"
CASES = [
    ("rsasnakeoil2.pcap", ["--server-key", K + "rsasnakeoil2.key"], ["-o", "tls.keys_list:0.0.0.0,443,http," + K + "rsasnakeoil2.key"]),
    ("rsa-p-lt-q.pcap", ["--server-key", K + "rsa-p-lt-q.key"], ["-o", "uat:rsa_keys:\"%s\",\"\"" % (K + "rsa-p-lt-q.key")]),
    ("dhe1.pcapng.gz", ["--keylog", K + "dhe1_keylog.dat"], ["-o", "tls.keylog_file:" + K + "dhe1_keylog.dat"]),
    ("tls-renegotiation.pcap", ["--server-key", K + "rsasnakeoil2.key", "--port", "4433"], ["-o", "tls.keys_list:0.0.0.0,4433,http," + K + "rsasnakeoil2.key", "-d", "tcp.port==4433,tls"]),
    ("tls12-aes128ccm.pcap", [], []),
    ("tls12-aes256gcm.pcap", [], []),
    ("tls12-chacha20poly1305.pcap", ["--keylog", K + "tls12-chacha20poly1305.keys"], ["-o", "tls.keylog_file:" + K + "tls12-chacha20poly1305.keys"]),
    ("tls13-20-chacha20poly1305.pcap", ["--keylog", K + "tls13-20-chacha20poly1305.keys"], ["-o", "tls.keylog_file:" + K + "tls13-20-chacha20poly1305.keys"]),
    ("tls13-rfc8446.pcap", ["--keylog", K + "tls13-rfc8446.keys"], ["-o", "tls.keylog_file:" + K + "tls13-rfc8446.keys"]),
    ("tls12-dsb.pcapng", [], []),
    ("tls-fragmented-handshakes.pcap.gz", [], []),
    ("retrans-tls.pcap", [], []),
    ("http2-data-reassembly.pcap", ["--keylog", K + "http2-data-reassembly.keys"], ["-o", "tls.keylog_file:" + K + "http2-data-reassembly.keys"]),
    ("http2-brotli.pcapng", [], []),
    ("http2_follow_multistream.pcapng", [], []),
]
HS = {"0": "hello_request", "1": "client_hello", "2": "server_hello", "4": "new_session_ticket", "5": "end_of_early_data", "8": "encrypted_extensions", "11": "certificate", "12": "server_key_exchange", "13": "certificate_request", "14": "server_hello_done", "15": "certificate_verify", "16": "client_key_exchange", "20": "finished", "22": "certificate_status", "24": "key_update"}

def ours(cap, opts):
    p = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect", C + cap, "--json", "--jobs", "1"] + opts, capture_output=True, text=True, timeout=120)
    out = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        out[(r["client"], r["server"])] = r
    return out, p.stderr.strip()[-300:]

def tshark(cap, opts):
    f = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport", "tls.record.content_type", "tls.handshake.type", "tls.record.version", "tls.handshake.ciphersuite"]
    argv = ["tshark", "-n", "-r", C + cap] + opts + ["-Y", "tls", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"] + sum([["-e", x] for x in f], [])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    conns = collections.defaultdict(list)
    first = {}
    for line in p.stdout.splitlines():
        d = dict(zip(f, line.split("|")))
        src = (d["ip.src"] or "[%s]" % d["ipv6.src"]) + ":" + d["tcp.srcport"]
        dst = (d["ip.dst"] or "[%s]" % d["ipv6.dst"]) + ":" + d["tcp.dstport"]
        key = first.setdefault(d["tcp.stream"], (src, dst))
        side = "C" if src == key[0] else "S"
        for h in [x for x in d["tls.handshake.type"].split(",") if x]:
            conns[key].append("%s:%s" % (side, HS.get(h, "hs" + h)))
    return conns

for cap, o_opts, t_opts in CASES:
    try:
        mine, err = ours(cap, o_opts)
    except Exception as e:
        print("!!", cap, e); continue
    theirs = tshark(cap, t_opts)
    same = diff = 0
    notes = []
    for key, hs in theirs.items():
        r = mine.get(key) or mine.get((key[1], key[0]))
        if r is None:
            diff += 1; notes.append("missing %s %s" % (key, hs[:4])); continue
        m = [x for x in r["messages"] if x.split(":", 1)[1] in HS.values()]
        if m == hs:
            same += 1
        else:
            diff += 1; notes.append("%s\n     ours   %s\n     tshark %s\n     errors %s" % (key, m[:14], hs[:14], r["errors"][:3]))
    print("%-36s tshark conns %d, ours %d: same %d, different %d %s" % (cap, len(theirs), len(mine), same, diff, ("stderr: " + err) if err and not mine else ""))
    for n in notes[:3]:
        print("   ", n)
