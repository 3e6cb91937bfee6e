"""Names in Cyrillic through the real CLI on the lab's AD and OpenLDAP, read back.

The login comes from the profile's national scheme (Ukrainian here), the directory keeps
the name as written, and a name part that gives no login is refused before anything is
written, for one account and for a bulk import alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.integration import test_accounts_cli as accounts
from tests.integration.test_accounts_cli import Cli, Dir

directory = accounts.directory  # the same fixture: each lab directory, reset for this module

MAIL = "{mail_local}@staff.example.org"


def profile(config_dir: Path, base: str, scheme: str) -> str:
    """A copy of the lab profile whose naming uses `scheme` and which sets mail from it."""
    data = yaml.safe_load((config_dir / "profiles" / f"{base}.yaml").read_text())
    accounts_cfg = data.setdefault("accounts", {})
    accounts_cfg["naming"] = {"transliteration": scheme}
    accounts_cfg.setdefault("template", {}).setdefault("attributes", {})["mail"] = MAIL
    name = f"{base}-{scheme}"
    (config_dir / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    return name


def one(entry: dict[str, Any], attr: str) -> Any:
    value = entry[attr]
    if isinstance(value, list):
        [value] = value
    return value


def nobody(directory: Dir, flt: str) -> bool:
    directory.conn.search(directory.cfg.base_dn, flt, attributes=["cn"])
    return not [e for e in directory.conn.response if e["type"] == "searchResEntry"]


def create(cli: Cli, name: str, given: str, surname: str, tmp: Path, *output: str) -> Any:
    return cli("--profile", name, *(output or ("-o", "json")), "account", "create",
               "--given-name", given, "--surname", surname, "--deliver", f"file:{tmp}")


def test_cyrillic_name_gets_the_national_login_and_is_stored_as_written(
        cli: Cli, directory: Dir, tmp_path: Path, lab_config_dir: Path) -> None:
    name = profile(lab_config_dir, directory.profile, "uk")
    r = create(cli, name, "Олександр", "Шевченко", tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["target"] == "oshevchenko"
    ad = directory.cfg.kind == "ad"
    entry = directory.entry("oshevchenko", ["givenName", "sn", "displayName", "cn", "mail",
                                            *(["userPrincipalName"] if ad else [])])
    assert entry is not None
    assert one(entry, "givenName") == "Олександр" and one(entry, "sn") == "Шевченко"
    assert one(entry, "displayName") == one(entry, "cn") == "Олександр Шевченко"
    assert one(entry, "mail") == "oleksandr.shevchenko@staff.example.org"
    if ad:
        assert entry["dn"].startswith("CN=Олександр Шевченко,")
        assert one(entry, "userPrincipalName") == "oshevchenko@samdom.example.com"
    else:
        assert entry["dn"].startswith("uid=oshevchenko,")
    assert (tmp_path / "oshevchenko.password").exists()

    # the same person again is found by the Cyrillic name: nothing changes
    again = create(cli, name, "Олександр", "Шевченко", tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["results"][0]["status"] == "ok"

    # Г is h in the Ukrainian scheme (the general fallback would say g)
    r = create(cli, name, "Ганна", "Гаєвська", tmp_path)
    assert r.returncode == 0, r.stderr
    entry = directory.entry("hhaievska", ["givenName", "mail"])
    assert entry is not None and one(entry, "givenName") == "Ганна"
    assert one(entry, "mail") == "hanna.haievska@staff.example.org"


def test_a_part_that_gives_no_login_is_refused_and_nothing_written(
        cli: Cli, directory: Dir, tmp_path: Path, lab_config_dir: Path) -> None:
    r = create(cli, directory.profile, "Eva", "😀", tmp_path, "-o", "table")
    assert r.returncode == 2, r.stderr
    shown = r.stdout + r.stderr  # as a person at the terminal reads it
    assert "cannot make a login from the surname '😀'" in shown and "Traceback" not in shown
    assert nobody(directory, "(givenName=Eva)")

    latin = profile(lab_config_dir, directory.profile, "latin")
    r = create(cli, latin, "ЙЦУКЕН", "Test", tmp_path)
    assert r.returncode == 2, r.stderr
    [result] = json.loads(r.stdout)["results"]
    assert result["status"] == "failed" and result["exit_code"] == 2
    assert "given name 'ЙЦУКЕН'" in result["error"]
    assert directory.entry("test", ["cn"]) is None  # what the dropped part once gave
    assert nobody(directory, "(sn=Test)")


def test_import_names_rows_as_create_does(cli: Cli, directory: Dir, tmp_path: Path,
                                          lab_config_dir: Path) -> None:
    name = profile(lab_config_dir, directory.profile, "uk")
    rows = ["given_name,surname", "Мар'яна,Згурська", "Євген,Їжак", "Олена,Коваленко",
            "Оксана,Коваленко"]
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*rows, "Eva,★"]) + "\n")
    r = cli("--profile", name, "-o", "json", "account", "import", str(bad),
            "--deliver", f"file:{tmp_path}")
    assert r.returncode == 2, r.stderr
    assert f"{bad}:6" in r.stderr and "surname '★'" in r.stderr
    assert directory.entry("mzghurska", ["cn"]) is None  # the file is refused as a whole

    good = tmp_path / "good.csv"
    good.write_text("\n".join(rows) + "\n")
    r = cli("--profile", name, "-o", "json", "account", "import", str(good),
            "--deliver", f"file:{tmp_path}")
    assert r.returncode == 0, r.stderr
    expected = {"mzghurska": ("Мар'яна", "mariana.zghurska"),
                "yyizhak": ("Євген", "yevhen.yizhak"),
                "okovalenko": ("Олена", "olena.kovalenko"),
                "okovalenko2": ("Оксана", "oksana.kovalenko")}  # by the order of the file
    for login, (given, local) in expected.items():
        entry = directory.entry(login, ["givenName", "mail"])
        assert entry is not None, login
        assert one(entry, "givenName") == given
        assert one(entry, "mail") == f"{local}@staff.example.org"
