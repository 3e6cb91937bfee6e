"""A pydantic plug-in that is installed keeps working under adminkit.

core.entrypoints stands in for pydantic's plug-in loader when it finds no `pydantic`
entry point. Its scan reads `*.dist-info` folders only; importlib.metadata (which
pydantic's own loader uses) also finds distributions in a zip archive or an `.egg` on
sys.path. Where adminkit cannot see all of them, pydantic must look for itself, or an
installed plug-in (logfire's, say) is silently switched off.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import adminkit

SRC = str(Path(adminkit.__file__).parents[1])
PLUGIN = """\
import os
class _Plugin:
    def new_schema_validator(self, schema, schema_type, path, kind, config, settings):
        with open(os.environ["PLUGIN_LOG"], "a") as log:
            log.write(f"{path.name}\\n")
        return None, None, None
plugin = _Plugin()
"""
FILES = {"revplug.py": PLUGIN,
         "revplug-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: revplug\nVersion: 1.0\n",
         "revplug-1.0.dist-info/entry_points.txt": "[pydantic]\nrevplug = revplug:plugin\n"}
# What a profile load does first: core.config installs the stand-in, then builds models.
CODE = ("from adminkit.core import config\n"
        "class Probe(config.Settings):\n    x: int = 0\n"
        "Probe(x=1)\n")


def site_folder(where: Path) -> str:
    for name, text in FILES.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    return str(where)


def site_zip(where: Path) -> str:
    archive = where / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, text in FILES.items():
            z.writestr(name, text)
    return str(archive)


def site_egg(where: Path) -> str:
    egg = where / "revplug-1.0-py3.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "revplug.py").write_text(PLUGIN)
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: revplug\n"
                                               "Version: 1.0\n")
    (egg / "EGG-INFO" / "entry_points.txt").write_text(FILES[
        "revplug-1.0.dist-info/entry_points.txt"])
    return str(egg)


@pytest.mark.parametrize("install", [site_folder, site_zip, site_egg])
def test_an_installed_pydantic_plugin_still_sees_the_models(
        tmp_path: Path, install: Callable[[Path], str]) -> None:
    site = tmp_path / "site"
    site.mkdir()
    log = tmp_path / "plugin.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, install(site)]),
           "PLUGIN_LOG": str(log)}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    check = "import importlib.metadata as m; print(len(m.entry_points(group='pydantic')))"
    found = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True,
                           text=True, timeout=60, check=True)
    assert found.stdout.strip() == "1"  # importlib.metadata (pydantic's loader) finds it
    subprocess.run([sys.executable, "-c", CODE], env=env, timeout=60, check=True)
    assert "Probe" in log.read_text().split()
