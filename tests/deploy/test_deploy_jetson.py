"""deploy/jetson: the install script and unit are linted, the pins are the Jetson's, and docs/deploy-jetson.md's
Jetson section is the script's steps, in order. (Nothing here claims the script ran on a Jetson.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
JETSON = REPO / "deploy" / "jetson"
# every shell script we ship or run: the Jetson install, the set-up scripts and the CI entry point
SCRIPTS = [*sorted(JETSON.glob("*.sh")), *sorted((REPO / "deploy" / "dev").glob("*.sh")), REPO / ".ci" / "run"]


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        spec = line.split("#")[0].strip()
        if spec:
            name, version = spec.split("==")
            out[name.lower().replace("_", "-")] = version
    return out


@pytest.mark.skipif(
    shutil.which("shellcheck") is None and not os.environ.get("FACESCREEN_CI"),
    reason="shellcheck is not installed here (apt-get install -y shellcheck); CI installs it",
)
def test_shellcheck_passes():
    r = subprocess.run(["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_jetson_pins_keep_system_opencv_and_tensorrt():
    pins = _pins(JETSON / "constraints-jetson.txt")
    assert pins["numpy"].startswith("1.26.") and pins["onnxruntime"] == "1.23.2" and pins["ai-edge-litert"] == "2.3.0"
    assert not [p for p in pins if p.startswith("opencv") or p.startswith("tensorrt")]
    assert {"fastapi", "uvicorn", "pydantic", "python-multipart", "cuda-python"} <= set(pins)
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert not [d for d in extras["jetson"] if "opencv" in d or d.startswith("tensorrt")]
    assert all(any("opencv" in d for d in extras[e]) for e in ("edge", "kiosk", "train", "convert"))


def test_install_script_steps_and_readme_agree():
    script = (JETSON / "install.sh").read_text()
    steps = re.findall(r'^step "(\d+)\. ([^"]+)"', script, re.MULTILINE)
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    section = (REPO / "docs" / "deploy-jetson.md").read_text()
    heads = [(n, re.split(r"[:,(]", title)[0].strip()) for n, title in steps]  # "3. A virtual environment ..."
    positions = [section.find(f"\n{n}. {head}") for n, head in heads]
    assert all(p >= 0 for p in positions), [h for h, p in zip(heads, positions) if p < 0]
    assert positions == sorted(positions)
    assert "--system-site-packages" in script and "constraints-jetson.txt" in script
    assert 'facescreen-kiosk" doctor' in script and 'facescreen-convert" "$BUNDLE" --to' in script


UNITS = {"desktop": JETSON / "facescreen-kiosk.service", "headless": JETSON / "facescreen-kiosk-serve.service"}


@pytest.mark.parametrize("mode", sorted(UNITS))
def test_unit_runs_as_the_user_in_the_gpu_groups_and_keeps_results_on_disk(mode):
    unit = UNITS[mode].read_text()
    assert "User=@USER@" in unit and "SupplementaryGroups=@GROUPS@" in unit  # L4T's GPU nodes are root:video
    assert "Restart=on-failure" in unit and "FACESCREEN_DATA=@DATA@" in unit
    assert "ReadWritePaths=@DATA@" in unit and "WorkingDirectory=@DATA@" in unit
    assert "DATA=/var/lib/facescreen" in (JETSON / "install.sh").read_text()


def test_desktop_unit_without_a_desktop_stops_with_the_reason_instead_of_restarting_forever():
    unit = UNITS["desktop"].read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "--fullscreen" in exec_start and "WantedBy=graphical.target" in unit
    # systemd.service(5): an exit status listed in RestartPreventExitStatus= is not restarted
    assert "exit 78" in exec_start and "RestartPreventExitStatus=78" in unit
    assert "--autologin" in exec_start and "--display headless" in exec_start  # what to do, in the journal


def test_headless_unit_serves_phones_with_tls_and_a_token():
    unit = UNITS["headless"].read_text()
    assert "facescreen-kiosk serve --host 0.0.0.0" in unit and "--token-file @DATA@/token" in unit
    assert "--tls-self-signed" in unit and "WantedBy=multi-user.target" in unit and "DISPLAY" not in unit


# -- install.sh itself, run on a stubbed machine (root, aarch64, apt-get that stops the run at step 2) -----

# /etc/nv_tegra_release's first line as L4T writes it ("# R<major> (release), REVISION: <minor.patch>, ...")
RELEASES = {
    "jetpack-6.0": "# R36 (release), REVISION: 3.0, GCID: 0, BOARD: generic, EABI: aarch64, DATE: Thu May  2 2024",
    "jetpack-6.1": "# R36 (release), REVISION: 4.0, GCID: 0, BOARD: generic, EABI: aarch64, DATE: Fri Sep 13 2024",
    "jetpack-6.2": "# R36 (release), REVISION: 4.3, GCID: 0, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 2025",
    "jetpack-5.1": "# R35 (release), REVISION: 4.1, GCID: 0, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 2023",
}
STUBS = {
    "id": '[ "$*" = "-u" ] && { echo 0; exit 0; }; exec /usr/bin/id "$@"',
    "uname": "echo aarch64",
    "apt-get": 'echo "stub apt-get $*: the run stops here" >&2; exit 97',
}


def _install(tmp_path, *args, release="jetpack-6.2", gdm: str | None = None):
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    for name, body in STUBS.items():
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    (tmp_path / "nv_tegra_release").write_text(RELEASES[release] + "\n")
    bundle = tmp_path / "bundle"
    (bundle / "calibration").mkdir(parents=True, exist_ok=True)
    (bundle / "modelcard.json").write_text("{}")
    (bundle / "calibration" / "faces.npz").write_bytes(b"")
    gdm_conf = tmp_path / "custom.conf"
    gdm_conf.write_text(gdm if gdm is not None else "[daemon]\n# AutomaticLoginEnable=true\n")
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "FACESCREEN_TEGRA_RELEASE": str(tmp_path / "nv_tegra_release"),
        "FACESCREEN_GDM_CONF": str(gdm_conf),
    }
    cmd = ["bash", str(JETSON / "install.sh"), "--bundle", str(bundle), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("option", ["--bundle", "--user", "--source", "--display"])
@pytest.mark.parametrize("where", ["last", "before-another-option"])
def test_an_option_without_its_value_prints_usage(tmp_path, option, where):
    args = [option] if where == "last" else [option, "--no-service"]
    r = subprocess.run(
        ["bash", str(JETSON / "install.sh"), *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert r.returncode == 2 and f"error: {option} needs a value" in r.stderr
    assert "unbound variable" not in r.stderr and "--display auto|desktop|headless" in r.stderr


@pytest.mark.parametrize(
    "release, reached_step_2, message",
    [
        ("jetpack-6.2", True, "JetPack 6.1/6.2 (R36 (release), REVISION: 4.3)"),
        ("jetpack-6.1", True, "JetPack 6.1/6.2 (R36 (release), REVISION: 4.0)"),
        ("jetpack-6.0", False, "is JetPack 6.0 (TensorRT 8.6, CUDA 12.2), which this installer does not support"),
        ("jetpack-5.1", False, "L4T R35.4.1 is not JetPack 6"),
    ],
)
def test_jetpack_release_is_read_and_6_0_is_refused_with_the_reason(tmp_path, release, reached_step_2, message):
    r = _install(tmp_path, "--user", "kiosk", release=release)
    assert message in r.stdout + r.stderr
    assert ("== 2." in r.stdout) is reached_step_2
    assert r.returncode == (97 if reached_step_2 else 1)  # 97: the stub apt-get of step 2


AUTOLOGIN_KIOSK = "[daemon]\nAutomaticLoginEnable = true\nAutomaticLogin = kiosk\n\n[security]\n"


@pytest.mark.parametrize(
    "gdm, args, outcome",
    [
        (AUTOLOGIN_KIOSK, [], "display: desktop"),
        (None, [], "display: headless (GDM logs nobody in automatically)"),
        ("[daemon]\nAutomaticLoginEnable=True\nAutomaticLogin=ubuntu\n", [], "GDM logs ubuntu in automatically"),
        ("[security]\nAutomaticLoginEnable=true\nAutomaticLogin=kiosk\n", [], "display: headless"),  # wrong section
        (None, ["--autologin"], "display: desktop"),
        (AUTOLOGIN_KIOSK, ["--display", "headless"], "display: headless"),
        (None, ["--display", "desktop"], "error: --display desktop needs GDM to log kiosk in automatically"),
        (None, ["--display", "tv"], "error: --display takes auto, desktop or headless"),
    ],
)
def test_display_mode_follows_gdm_autologin_or_says_why_not(tmp_path, gdm, args, outcome):
    r = _install(tmp_path, "--user", "kiosk", *args, gdm=gdm)
    assert outcome in r.stdout + r.stderr, r.stdout + r.stderr


def test_root_is_not_the_kiosk_account(tmp_path):
    r = _install(tmp_path, "--user", "root")
    assert r.returncode == 1 and "must not run as root" in r.stderr


def test_doctor_runs_as_the_kiosk_user_in_the_gpu_groups_and_writes_the_report():
    script = (JETSON / "install.sh").read_text()
    joined = script.replace("\\\n", " ")  # continuation lines joined
    doctor = next(line for line in joined.splitlines() if 'facescreen-kiosk" doctor' in line)
    assert doctor.lstrip().startswith('runuser -u "$KIOSK_USER" --') and '--json "$REPORT"' in doctor
    assert '--data-dir "$DATA"' in doctor
    # the groups are given before the doctor runs, so its CUDA and camera checks see what the service will see
    assert joined.index("usermod -a -G") < joined.index(doctor)
    assert "GROUPS_NEEDED=video" in script and 'GROUPS_NEEDED="video render"' in script
