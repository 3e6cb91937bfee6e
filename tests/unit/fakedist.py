"""An installed adminkit's metadata with an extra whose distribution is not installed."""

from __future__ import annotations

from pathlib import Path

from adminkit import __version__

METADATA = """\
Metadata-Version: 2.1
Name: adminkit
Version: {version}
Provides-Extra: all
Provides-Extra: cups
Provides-Extra: dev
Provides-Extra: ghost
Requires-Dist: pyyaml>=6
Requires-Dist: pycups>=2.0.4; extra == "cups"
Requires-Dist: adminkit[cups,ghost]; extra == "all"
Requires-Dist: pytest>=8; extra == "dev"
Requires-Dist: no-such-dist-adminkit-test>=1; extra == 'ghost'
Requires-Dist: PyYAML; extra == "ghost"
"""


def write(folder: Path) -> Path:
    """adminkit-VERSION.dist-info in `folder`: put `folder` first on sys.path to use it."""
    info = folder / f"adminkit-{__version__}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(METADATA.format(version=__version__))
    return folder
