"""What the printing domain refuses before any server is contacted, and how it masks."""

from __future__ import annotations

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
