"""What the printing domain refuses before any server is contacted, and how it masks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from adminkit.core.secrets import Secret, redact
from adminkit.printing.actions.base import JobParams, PrinterParams
from adminkit.printing.actions.lifecycle import AddParams, OptionsParams
from adminkit.printing.server import mask_uri, parse_age, without_credentials


@pytest.mark.parametrize("name", ["a/b", "a#b", "a b", "x" * 128, "", "tab\there", "q?",
                                  "a\\b", "it's", 'say"', "a,b"])
def test_names_cups_refuses(name: str) -> None:
    with pytest.raises(ValidationError):
        PrinterParams(printer=name)


@pytest.mark.parametrize("name", ["front-desk", "Floor_3.East", "x" * 127, "Drucker-Büro"])
def test_names_cups_takes(name: str) -> None:
    assert PrinterParams(printer=name).printer == name


@pytest.mark.parametrize("job_id", ["12x", "", "-1", 0, "1.5", 2**31])
def test_job_ids_are_positive_numbers(job_id: object) -> None:
    with pytest.raises(ValidationError):
        JobParams(job_id=job_id)  # type: ignore[arg-type]


def test_uri_masks() -> None:
    assert mask_uri("smb://svc:pw1234@fs1/q") == "smb://svc:********@fs1/q"
    assert mask_uri("ipp://u:p%40ss@host:631/printers/x") == "ipp://u:********@host:631/printers/x"
    assert mask_uri("ipp://host/ipp/print") == "ipp://host/ipp/print"
    assert mask_uri("socket://10.0.0.5:9100") == "socket://10.0.0.5:9100"
    assert without_credentials("smb://svc:pw@fs1/q") == "smb://fs1/q"


def test_a_uri_with_a_password_is_only_taken_as_a_secret() -> None:
    with pytest.raises(ValidationError, match="--uri-secret"):
        AddParams(printer="q", uri="smb://svc:Canary-77x@fs1/q")
    params = AddParams(printer="q", uri_secret=Secret("smb://svc:Canary-78x@fs1/q"))
    assert params.shown() == "smb://svc:********@fs1/q"
    assert "Canary-78x" not in params.model_dump_json()
    assert "Canary-78x" not in redact("server said: bad password Canary-78x")
    with pytest.raises(ValidationError, match="exactly one"):
        AddParams(printer="q")


def test_options_aliases_and_names() -> None:
    params = OptionsParams(printer="q", options={"Duplex": "on", "colour": "off", "media": "A4"})
    assert params.wanted() == {"sides": "two-sided-long-edge",
                               "print-color-mode": "monochrome", "media": "A4"}
    with pytest.raises(ValidationError):
        OptionsParams(printer="q", options={"bad name": "1"})
    with pytest.raises(ValidationError):
        OptionsParams(printer="q", options={})


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200),
                                               ("7d", 604800)])
def test_ages(text: str, seconds: int) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["2", "2 hours", "h", "-1h", "1w"])
def test_bad_ages(text: str) -> None:
    with pytest.raises(ValueError, match="not an age"):
        parse_age(text)


@pytest.mark.parametrize(("status", "state"), [
    ("Normal", "pending"), ("Paused", "held"), ("Printing", "processing"),
    ("Paused, Printing", "held"), ("Error, Printing", "stopped"), ("Deleting", "canceled"),
    ("Printed", "completed"), ("", "pending")])
def test_windows_job_status_flags(status: str, state: str) -> None:
    from adminkit.printing.windows_backend import job_state

    assert job_state(status) == state


def test_windows_ports_from_device_uris() -> None:
    from adminkit.core.errors import ValidationError as Refused
    from adminkit.printing.windows_backend import port_of

    assert port_of("socket://10.1.3.20:9100") == ("IP_10.1.3.20", "10.1.3.20")
    assert port_of("ipp://printer7.example.com/ipp/print") == (
        "IP_printer7.example.com", "printer7.example.com")
    with pytest.raises(Refused, match="names no host"):
        port_of("file:///dev/null")


def test_every_windows_script_has_a_fake_and_names_its_op() -> None:
    from importlib import resources

    from adminkit.lab.winrm_fake import HANDLERS, load_models

    load_models()
    scripts = [f for f in resources.files("adminkit.printing.scripts").iterdir()
               if f.name.endswith(".ps1")]
    assert len(scripts) >= 16
    for script in scripts:
        first = script.read_text().splitlines()[0]
        assert first == f"# adminkit-op: printing.{script.name[:-4]}"
        assert f"printing.{script.name[:-4]}" in HANDLERS


def test_a_password_to_a_remote_cups_server_needs_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    from adminkit.core.errors import ConfigError
    from adminkit.printing.servers import open_server
    from adminkit.printing.settings import PrintServerConfig

    monkeypatch.setenv("PRINT_PW", "Printer-Admin-Pw-1")
    remote = PrintServerConfig(name="print1", kind="cups", host="print1.example.com",
                               user="lpadmin", password="env:PRINT_PW")
    with pytest.raises(ConfigError, match="would travel in clear"):
        open_server(remote)
    pytest.importorskip("cups")
    assert open_server(remote.model_copy(update={"tls": True})).name == "print1"
    assert open_server(remote.model_copy(update={"host": "127.0.0.1"})).name == "print1"


@pytest.mark.parametrize("uri", ["smb://svc:pw1234@[fs1/q", "smb:svc:pw1234@fs1/q",
                                 "ipp://svc:pw1234@host:notaport/x"])
def test_a_uri_that_hides_its_password_from_the_parser_is_refused(uri: str) -> None:
    # urlsplit finds no password in these, so --uri took them and kept the password in
    # plain text (plan, journal record, the server's error text)
    from adminkit.cli.params import build
    from adminkit.core.errors import ValidationError as Refused

    with pytest.raises(Refused) as caught:
        build(AddParams, printer="q", uri=uri)
    assert "pw1234" not in str(caught.value)


def test_a_percent_encoded_password_is_scrubbed_in_both_spellings() -> None:
    AddParams(printer="q", uri_secret=Secret("smb://svc:Pq%40zz9x@fs1/q"))
    assert "Pq%40zz9x" not in redact("echo Pq%40zz9x")
    assert "Pq@zz9x" not in redact("the server said Pq@zz9x")


@pytest.mark.parametrize("script", ["printer_add", "printer_update", "printer_set_config"])
def test_a_script_splats_the_parameters_it_builds(script: str) -> None:
    # `Cmdlet @args` splats the script's (empty) unbound arguments: the cmdlet would run
    # without the name, port or options the script had gathered in $splat
    from adminkit.core.winrm import load_script

    text = load_script("adminkit.printing.scripts", script).text
    assert "@args" not in text
    assert "$splat = @{" in text and "@splat" in text


@pytest.mark.parametrize("uri", ["file:///etc/shadow", "file:/etc/passwd", "FILE:///root/x",
                                 "file:///dev/../etc/shadow", "file://host/etc/shadow", "file:///DEV/NULL"])
def test_a_file_device_other_than_dev_null_is_refused(uri: str) -> None:
    # a queue whose device is a file makes every job overwrite that file (as cupsd's user,
    # root on many servers): only the discard device is a file a queue may print to
    with pytest.raises(ValidationError):
        AddParams(printer="q", uri=uri)


def test_the_discard_device_is_taken() -> None:
    assert AddParams(printer="q", uri="file:///dev/null").uri == "file:///dev/null"


@pytest.mark.parametrize(("uri", "shown", "secret"), [
    ("ipp://host/printers/x?password=Qx-Canary-1", "ipp://host/printers/x?password=********",
     "Qx-Canary-1"),
    ("smb://host/q?user=anna&pass=Qx-Canary-2", "smb://host/q?user=anna&pass=********",
     "Qx-Canary-2"),
    ("smb://host/q?user=anna&p%61ss=Qx%40Canary-3", "smb://host/q?user=anna&p%61ss=********",
     "Qx@Canary-3"),
    ("ipp://host/p?waitjob=false&PassWord=Qx-Canary-4&snmp=false",
     "ipp://host/p?waitjob=false&PassWord=********&snmp=false", "Qx-Canary-4"),
    ("ipp://host/p?access_token=Qx-Canary-5#frag", "ipp://host/p?access_token=********#frag",
     "Qx-Canary-5"),
    ("smb://host/share;password=Qx-Canary-6/q", "smb://host/share;password=********/q",
     "Qx-Canary-6"),
    ("smb://anna%3AQx-Canary-7@host/q", "smb://********@host/q", "Qx-Canary-7"),
    ("ipp://host/p?pass%3DQx-Canary-8", "ipp://host/p?********", "Qx-Canary-8"),
    ("ipp://host/p?p%2561ss=Qx-Canary-9", "ipp://host/p?p%2561ss=********", "Qx-Canary-9"),
    ("smb://WG;anna:Qx-Canary-10@host/q", "smb://WG;anna:********@host/q", "Qx-Canary-10"),
])
def test_credentials_in_the_query_or_parameters_are_masked(uri: str, shown: str,
                                                          secret: str) -> None:
    assert mask_uri(uri) == shown
    # in argv it is refused like a user:password one; as a secret it is masked everywhere
    with pytest.raises(ValidationError, match="--uri-secret"):
        AddParams(printer="q", uri=uri)
    params = AddParams(printer="q", uri_secret=Secret(uri))
    assert params.shown() == shown
    assert secret not in redact(f"the server said: no such share {uri} ({secret})")


@pytest.mark.parametrize("uri", ["ipp://host/printers/x?waitjob=false&snmp=false",
                                 "socket://10.0.0.5:9100?contimeout=30", "smb://host/q?pass",
                                 "usb://HP/LaserJet?serial=CN12345&interface=1"])
def test_query_options_that_are_no_credentials_stay(uri: str) -> None:
    assert mask_uri(uri) == uri
    assert AddParams(printer="q", uri=uri).uri == uri


def test_a_ca_file_that_is_no_pem_is_a_config_error(tmp_path: Path) -> None:
    from adminkit.core.errors import ConfigError
    from adminkit.printing.tlsrelay import TlsRelay

    for bad in (tmp_path / "missing.pem", tmp_path / "junk.pem"):
        if bad.name == "junk.pem":
            bad.write_text("not a certificate\n")
        with pytest.raises(ConfigError, match=f"ca_file: {bad}") as caught:
            TlsRelay("print1", "127.0.3.250", 631, bad)
        assert caught.value.exit_code == 2


def test_a_thread_that_served_a_tls_server_does_not_keep_its_settings() -> None:
    # libcups' encryption and user are per thread: a worker that talked to a TLS server
    # as its operator and then to a plain one kept TLS (refused there) and that user
    cups = pytest.importorskip("cups")
    from adminkit.printing.cups_backend import CupsPrintServer
    from adminkit.printing.settings import PrintServerConfig

    own = cups.getUser()
    tls = CupsPrintServer(PrintServerConfig(name="a", kind="cups", host="127.0.3.250",
                                            tls=True, user="lpadmin"))
    plain = CupsPrintServer(PrintServerConfig(name="b", kind="cups", host="127.0.3.251"))
    tls._bind_thread("127.0.0.1", 40631, cups.HTTP_ENCRYPT_NEVER)  # its relay's port
    assert (cups.getEncryption(), cups.getUser()) == (cups.HTTP_ENCRYPT_NEVER, "lpadmin")
    plain._bind_thread(*plain._endpoint())
    assert (cups.getEncryption(), cups.getUser()) == (cups.HTTP_ENCRYPT_IF_REQUESTED, own)
