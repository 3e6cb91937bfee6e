"""The JSON report written result by result is the text of the whole report at once."""

from __future__ import annotations

import io
import json

import pytest

from adminkit.cli.output import report_json, write_report_json
from adminkit.core.result import Change, Result, Status
from adminkit.core.run import Run
from adminkit.core.runner import RunReport
from adminkit.core.secrets import Secret


@pytest.mark.parametrize("count", [0, 1, 3])
def test_streamed_json_is_the_whole_report_as_one_dump(count: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    secret = Secret("Stream-Pass.77")
    report = RunReport(Run(command="account import ä.csv", profile="p", ticket="rt:1",
                           check=False, operator="me"))
    report.results = [Result(action="account.create", target=f"jn{i}", status=Status.CHANGED,
                             summary=f"created jn{i}; Stream-Pass.77 nowhere",
                             changes=[Change(op="set", field="password", after=secret),
                                      Change(op="add", field="group", after="Štáb")],
                             data={"dn": f"uid=jn{i},dc=x", "n": i})
                      for i in range(count)]
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    write_report_json(report)
    expected = json.dumps(report_json(report), ensure_ascii=False, default=str) + "\n"
    assert out.getvalue() == expected
    assert "Stream-Pass.77" not in out.getvalue()
    assert len(json.loads(out.getvalue())["results"]) == count
