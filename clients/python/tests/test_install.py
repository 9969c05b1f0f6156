"""`pip install ./clients/python` in a fresh venv, offline, as the README says (setuptools from the venv,
wheel from Debian's python3-wheel-whl), then the installed package imports with its py.typed."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO


def test_installs_offline_in_a_fresh_venv(tmp_path: object) -> None:
    venv = os.path.join(str(tmp_path), "v")
    made = subprocess.run([sys.executable, "-m", "venv", venv], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"venv install SKIPPED: python3 -m venv failed (apt-get install python3-venv): {made.stderr[-200:]}")
    py = os.path.join(venv, "bin", "python")
    pip = [py, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    if subprocess.run([py, "-c", "import wheel"], capture_output=True).returncode != 0:
        wheels = glob.glob("/usr/share/python-wheels/wheel-*.whl")
        if not wheels:
            pytest.skip("venv install SKIPPED: no wheel package (apt-get install python3-wheel-whl)")
        subprocess.run([*pip, "install", "--no-index", wheels[0]], check=True, capture_output=True, timeout=120)
    # From a copy: setuptools writes build/ and *.egg-info next to the sources it builds.
    src = os.path.join(str(tmp_path), "powerhouse-client")
    shutil.copytree(os.path.join(REPO, "clients", "python"), src,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "tests"))  # fmt: skip
    done = subprocess.run(
        [*pip, "install", "--no-index", "--no-build-isolation", src],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    check = subprocess.run(
        [py, "-c", "import os, powerhouse_client as p; d = os.path.dirname(p.__file__); "
                   "print(p.__version__, 'site-packages' in d, os.path.exists(os.path.join(d, 'py.typed')))"],
        capture_output=True, text=True, cwd=str(tmp_path), timeout=60,
    )  # fmt: skip
    assert check.stdout.split() == ["0.1.0", "True", "True"], check.stderr
