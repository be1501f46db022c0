"""deploy/dev/browser-deps.sh (`make browser`, the first step of .ci/run) on the machines it meets.

It failed where CI runs on a fresh machine: NodeSource's nodejs bundles npm and conflicts with
Debian's npm package, so one `apt-get install chromium chromium-driver fonts-wqy-zenhei npm` was
refused whole. These cases run the real script on a PATH built for each machine, with an apt-get that
records its calls instead of installing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "dev" / "browser-deps.sh"
# what the script itself runs besides the tools it looks for
BASE_TOOLS = ("bash", "env", "grep", "id")


def _machine(tmp_path: Path, present: set[str]) -> tuple[dict[str, str], Path]:
    """A PATH holding the base tools, a stub for each tool in `present`, and a recording apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in BASE_TOOLS:
        real = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        (bin_dir / tool).symlink_to(real)
    for tool in present:
        # fc-list stands for "a CJK font is installed": it prints one font for :lang=zh
        body = "echo 'WenQuanYi Zen Hei'" if tool == "fc-list" else "exit 0"
        (bin_dir / tool).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / tool).chmod(0o755)
    log = tmp_path / "apt.log"
    apt = tmp_path / "apt-get"
    apt.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexit 0\n')
    apt.chmod(0o755)
    env = {"PATH": str(bin_dir), "APT_GET": str(apt), "HOME": str(tmp_path)}
    return env, log


CASES = [
    # (machine, tools present, packages the script must ask for, one call each)
    (
        "fresh CI machine: NodeSource nodejs with its npm, nothing else",
        {"npm"},
        ["chromium", "chromium-driver", "fonts-wqy-zenhei", "xvfb"],
    ),
    ("Debian nodejs without npm", set(), ["chromium", "chromium-driver", "fonts-wqy-zenhei", "xvfb", "npm"]),
    ("only the font missing", {"npm", "chromium", "chromedriver", "Xvfb"}, ["fonts-wqy-zenhei"]),
    ("chromedriver removed by hand", {"npm", "chromium", "fc-list", "Xvfb"}, ["chromium-driver"]),
    # the kiosk window's test (tests/kiosk/test_kiosk_display.py) opens its window under Xvfb
    ("only Xvfb missing", {"npm", "chromium", "chromedriver", "fc-list"}, ["xvfb"]),
]


@pytest.mark.parametrize("present,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_installs_only_what_is_missing_one_package_a_call(tmp_path, present, expected):
    env, log = _machine(tmp_path, present)
    r = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "update -qq"
    installs = [c.split()[-1] for c in calls[1:]]
    assert installs == expected, calls
    assert all(c.startswith("install ") and len(c.split()) == 5 for c in calls[1:]), calls


def test_nothing_asked_of_apt_when_everything_is_there(tmp_path):
    env, log = _machine(tmp_path, {"npm", "chromium", "chromedriver", "fc-list", "Xvfb"})
    r = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and not log.exists(), r.stdout + r.stderr


def test_a_refused_package_is_named(tmp_path):
    env, log = _machine(tmp_path, {"npm", "chromium", "fc-list", "Xvfb"})
    Path(env["APT_GET"]).write_text(f'#!/bin/sh\necho "$@" >> {log}\ncase "$*" in install*) exit 100;; esac\n')
    r = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "could not install chromium-driver" in r.stderr


def test_make_browser_runs_this_script():
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile[makefile.index("\nbrowser:") :].split("\n\n")[0]
    assert "deploy/dev/browser-deps.sh" in recipe and "apt-get" not in recipe
    assert os.access(SCRIPT, os.X_OK)
