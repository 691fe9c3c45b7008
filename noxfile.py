"""The SDK version matrix: ``nox -s versions`` runs the version job (tests/versions) once per older SDK.

The main suite runs on the newest 3.x in the project's own virtual environment (``.ci/run``). Each
session here builds ``.nox/versions-<v>/`` holding only ``aws-durable-execution-sdk-python==<v>``;
everything else (chaosdurable, hypothesis, moto...) is taken from the project's environment through
a ``.pth`` file placed *after* the session's own site-packages, so the session's SDK wins. A full
install of the dev extras takes minutes per version on 2 cores; this takes seconds, and the SDK the
tests import is checked (``CHAOSDURABLE_EXPECT_SDK``) so a mix-up cannot pass unnoticed.

``nox -s 'versions(2.1.0)'`` runs one version; ``CHAOSDURABLE_SDK_VERSIONS="2.0.0 2.1.0"`` picks
others; ``CHAOSDURABLE_BASE_VENV`` names the environment to borrow from (default ``.venv``).
"""

from __future__ import annotations

import os
import pathlib
import subprocess

import nox

#: the older SDK versions the job covers; the newest 3.x is the main suite's
VERSIONS = os.environ.get("CHAOSDURABLE_SDK_VERSIONS", "2.1.0 2.0.1 1.7.0").split()
ROOT = pathlib.Path(__file__).parent
nox.options.sessions = ["versions"]
nox.options.reuse_existing_virtualenvs = True


def _base_site_packages() -> str:
    base = pathlib.Path(os.environ.get("CHAOSDURABLE_BASE_VENV", ROOT / ".venv"))
    python = base / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


@nox.session(python=False, name="versions")
@nox.parametrize("sdk", VERSIONS, ids=VERSIONS)
def versions(session: nox.Session, sdk: str) -> None:
    """Conformance (where supported), the zoo and the self-property on SDK ``sdk``."""
    venv = ROOT / ".nox" / f"versions-{sdk}"
    python = venv / "bin" / "python"
    if not python.exists():
        session.run("python3", "-m", "venv", "--without-pip", str(venv), external=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    base = _base_site_packages()
    # 'zz' sorts last: the borrowed environment goes after this one's own packages
    pathlib.Path(site, "zz_chaosdurable_base.pth").write_text(f"import site; site.addsitedir({base!r})\n")
    if not pathlib.Path(site, f"aws_durable_execution_sdk_python-{sdk}.dist-info").exists():
        session.run(str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--target", site,
                    "--upgrade", f"aws-durable-execution-sdk-python=={sdk}", external=True)
    # The self-property's interpreter uses the typed errors of 2.0 (CallbackExternalError...): 1.7 runs
    # only the SDK-defect tests of tests/selftest (docs/sdk-versions.md).
    selftest = "tests/selftest" if tuple(int(p) for p in sdk.split(".")[:2]) >= (2, 0) \
        else "tests/selftest/test_sdk_defects.py"
    session.run(str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.versions.sdk_shims",
                "-n", os.environ.get("CHAOSDURABLE_VERSION_WORKERS", "2"), "tests/versions", selftest,
                *session.posargs, external=True,
                env={"CHAOSDURABLE_EXPECT_SDK": sdk, "PYTHONDONTWRITEBYTECODE": "1",
                     "CHAOSDURABLE_SELFTEST_EXAMPLES": os.environ.get("CHAOSDURABLE_SELFTEST_EXAMPLES", "8")})
