"""What every command shares: --version, ports checked when the command line is read, and one
error line on stderr that names the option or file at fault (no traceback, nothing on stdout)."""
import subprocess
import sys

import pytest

from scapy_tls_hs import __version__
from scapy_tls_hs.cli import build_parser


def run(*argv, timeout=30):
    p = subprocess.run([sys.executable, "-m", "scapy_tls_hs", *map(str, argv)],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_version():
    status, out, err = run("--version")
    assert status == 0 and out.strip() == "scapy-tls-hs %s" % __version__


@pytest.mark.parametrize("argv,option", [
    (["client", "127.0.0.1", "99999"], "argument PORT"),
    (["client", "127.0.0.1", "0"], "argument PORT"),
    (["client", "127.0.0.1", "http"], "argument PORT"),
    (["server", "--cert", "c", "--key", "k", "--port", "99999"], "argument --port"),
    (["server", "--cert", "c", "--key", "k", "--port", "-1"], "argument --port"),
    (["dissect", "x.pcap", "--port", "70000"], "argument --port"),
])
def test_ports_are_checked_when_parsed(argv, option):
    status, out, err = run(*argv)
    assert status == 2 and out == ""
    line = one_error_line(err)
    assert option in line and "a port is" in line


def test_port_zero_is_any_free_port_for_the_server_only():
    args = build_parser().parse_args(["server", "--cert", "c", "--key", "k", "--port", "0"])
    assert args.port == 0
    assert build_parser().parse_args(["client", "h", "65535"]).port == 65535


def test_replay_target_port(tmp_path):
    status, out, err = run("replay", "x.pcap", "--to", "127.0.0.1:99999")
    assert status == 1 and "--to wants HOST:PORT" in one_error_line(err)


@pytest.mark.parametrize("command", ["client", "server"])
def test_missing_file_names_the_option(command, pki, tmp_path):
    target = ["127.0.0.1", "1"] if command == "client" else []
    missing = tmp_path / "nonexist.pem"
    status, out, err = run(command, *target, "--cert", missing, "--key", pki.rsa_key)
    assert status == 1 and out == ""
    assert one_error_line(err) == "scapy-tls-hs %s: cannot read --cert %s: no such file or " \
        "directory" % (command, missing)
    status, out, err = run(command, *target, "--cert", pki.rsa_cert, "--key", pki.rsa_key,
                           "--cafile", tmp_path)
    assert "cannot read --cafile %s: a folder, not a file" % tmp_path in one_error_line(err)


@pytest.mark.parametrize("command", ["client", "server"])
def test_unusable_key_is_one_short_line(command, pki, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("garbage\n")
    target = ["127.0.0.1", "1"] if command == "client" else []
    status, out, err = run(command, *target, "--cert", pki.rsa_cert, "--key", bad)
    line = one_error_line(err)
    assert status == 1 and out == ""
    assert line == "scapy-tls-hs %s: --key %s: not a usable private key (not a PEM or DER " \
        "private key of a supported type)" % (command, bad)
    assert "ASN.1" not in line


def test_unknown_cipher_is_not_quoted_twice():
    status, out, err = run("client", "127.0.0.1", "1", "--cipher", "NOPE")
    assert one_error_line(err) == "scapy-tls-hs client: unknown cipher suite name 'NOPE'"
    assert status == 1 and out == ""


def test_dissect_keylog_error_names_the_option(tmp_path, captures_dir):
    import glob
    import os
    cap = sorted(glob.glob(os.path.join(captures_dir, "*.pcap")))[0]
    status, out, err = run("dissect", cap, "--keylog", tmp_path / "none.keylog")
    assert status == 1 and out == ""
    assert "cannot read --keylog" in one_error_line(err)


def test_every_option_has_a_help_line_with_its_default():
    import argparse
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        for action in command._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, "%s %s has no help" % (name, action.option_strings[0])
            if action.default not in (None, False, [], argparse.SUPPRESS):
                assert "default" in action.help, "%s %s: no default in %r" % (
                    name, action.option_strings[0], action.help)
    tls = next(a for a in sub.choices["client"]._actions if "--tls" in a.option_strings)
    assert "highest" in tls.help
