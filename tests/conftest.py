"""Test-session set-up: the network is blocked for this process and every process it starts.

See ``tests/offline/sitecustomize.py``. The session fails if any process tried to connect.
"""
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = Path(__file__).resolve().parent / "offline"
SHARED = ROOT.parent / "shared"

_log = Path(tempfile.mkdtemp(prefix="mmcourse-net-")) / "attempts.log"
os.environ["MMCOURSE_BLOCK_NETWORK"] = "1"
os.environ.setdefault("MMCOURSE_NETWORK_LOG", str(_log))
os.environ["PYTHONPATH"] = os.pathsep.join([str(OFFLINE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
os.environ["MMCOURSE_DEVICE"] = os.environ.get("MMCOURSE_DEVICE", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(ROOT / "scripts"))
if "sitecustomize" not in sys.modules or not hasattr(sys.modules["sitecustomize"], "NetworkBlockedError"):
    sys.modules.pop("sitecustomize", None)
    sys.path.insert(0, str(OFFLINE))
    import sitecustomize  # noqa: F401  (installs the guard in this process)


def pytest_sessionfinish(session, exitstatus):
    log = Path(os.environ["MMCOURSE_NETWORK_LOG"])
    if log.exists() and log.read_text().strip():
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "NETWORK ACCESS ATTEMPTED during the tests (the course must run offline):\n" + log.read_text(), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the repository (lecture seeds, FSDD sample)."""
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not there: these tests read the FSDD sample from ../shared")
    return SHARED
