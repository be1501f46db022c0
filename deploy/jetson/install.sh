#!/usr/bin/env bash
# facescreen on a fresh Jetson with JetPack 6 (L4T R36, Ubuntu 22.04, Python 3.10, TensorRT 10.3, CUDA 12.6).
# Each numbered step below is one step of the README's "Deploy to a Jetson" section, in the same order.
#
#   sudo deploy/jetson/install.sh --bundle /opt/facescreen/bundle [--user USER] [--source csi://0] [--no-service]
#
# Run it from a copy of the repository on the Jetson, after copying the bundle (converted on the workstation
# to onnx, onnx-int8, mtcnn-onnx and mtcnn-tflite, with calibration/faces.npz) to --bundle.
# It has been checked with shellcheck and read against JetPack 6's documentation; it has NOT been run on a Jetson.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PREFIX=/opt/facescreen
BUNDLE=$PREFIX/bundle
DATA=/var/lib/facescreen            # results store: the root file system (eMMC/NVMe), not a tmpfs
KIOSK_USER=${SUDO_USER:-}
SOURCE=csi://0
SERVICE=1
TARGETS=tensorrt-fp16,tensorrt-int8

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "error: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

while [ $# -gt 0 ]; do
    case $1 in
        --bundle) BUNDLE=$2; shift 2 ;;
        --user) KIOSK_USER=$2; shift 2 ;;
        --source) SOURCE=$2; shift 2 ;;
        --no-service) SERVICE=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown option: $1" >&2; usage 2 ;;
    esac
done

VENV=$PREFIX/.venv
ASSETS=$PREFIX/assets
PY=$VENV/bin/python

step "1. Check the machine: a Jetson on JetPack 6 (L4T R36), run as root"
[ "$(id -u)" -eq 0 ] || die "run with sudo: the script installs apt packages and a systemd unit"
[ "$(uname -m)" = aarch64 ] || die "this is $(uname -m), not a Jetson (aarch64)"
[ -f /etc/nv_tegra_release ] || die "/etc/nv_tegra_release is missing: not a Jetson Linux (L4T) system"
grep -q '^# R36' /etc/nv_tegra_release || die "$(head -1 /etc/nv_tegra_release): JetPack 6 (L4T R36) is required"
[ -f "$BUNDLE/modelcard.json" ] || die "no bundle at $BUNDLE: copy it from the workstation first (rsync -a runs/BUNDLE/ jetson:$BUNDLE/)"
[ -f "$BUNDLE/calibration/faces.npz" ] || die "$BUNDLE/calibration/faces.npz is missing: convert with --save-faces on the workstation"
[ -n "$KIOSK_USER" ] || die "name the desktop user the kiosk window runs as: --user USER"
id "$KIOSK_USER" >/dev/null 2>&1 || die "no user $KIOSK_USER"

step "2. JetPack's own Python packages: TensorRT (python3-libnvinfer) and OpenCV with GStreamer (nvidia-opencv)"
apt-get update
apt-get install -y python3-venv python3-pip python3-libnvinfer nvidia-opencv v4l-utils
[ "$(python3 -c 'import sys; print(sys.version_info[:2] == (3, 10))')" = True ] \
    || die "python3 is $(python3 --version): JetPack 6's tensorrt module is built for Python 3.10"
python3 -c 'import tensorrt' || die "JetPack's tensorrt module cannot be imported by python3"
python3 -c 'import cv2, re, sys; sys.exit(0 if re.search(r"GStreamer:\s+YES", cv2.getBuildInformation()) else 1)' \
    || die "the system OpenCV has no GStreamer: csi:// cameras would not open"

step "3. A virtual environment that sees the system packages (--system-site-packages), with the Jetson pins"
mkdir -p "$PREFIX"
[ -x "$PY" ] || python3 -m venv --system-site-packages "$VENV"
"$PY" -m pip install --upgrade pip
"$PY" -m pip install -c "$SRC/deploy/jetson/constraints-jetson.txt" "${SRC}[jetson]"
"$PY" - <<'EOF' || die "the venv does not see JetPack's tensorrt and OpenCV (or pip's OpenCV shadows it)"
import cv2, sys, tensorrt
if not cv2.__file__.startswith("/usr/"):
    sys.exit(f"cv2 comes from {cv2.__file__}, not JetPack's OpenCV: pip uninstall opencv-python-headless opencv-python")
print(f"tensorrt {tensorrt.__version__}, OpenCV {cv2.__version__} from {cv2.__file__}")
EOF

step "4. Model assets (pinned face-mesh files, verified by SHA-256)"
"$PY" -m facescreen.edge.assets fetch --dest "$ASSETS"

step "5. TensorRT engines built here, from the bundle's verified ONNX graphs, each parity-checked"
"$VENV/bin/facescreen-convert" "$BUNDLE" --to "$TARGETS" --calib "$BUNDLE/calibration/faces.npz" \
    || die "engine build failed (exit $?): see the table above and $BUNDLE/parity.json"

step "6. Doctor: everything the kiosk needs, checked the way it will use it"
"$VENV/bin/facescreen-kiosk" doctor --bundle "$BUNDLE" --assets "$ASSETS" || die "doctor found a failing check"

step "7. The kiosk as a systemd service: full screen at boot, restarted on failure, results in $DATA"
install -d -o "$KIOSK_USER" -m 0750 "$DATA"
if [ "$SERVICE" -eq 1 ]; then
    uid=$(id -u "$KIOSK_USER")
    sed -e "s|@USER@|$KIOSK_USER|g" -e "s|@UID@|$uid|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@BUNDLE@|$BUNDLE|g" \
        -e "s|@DATA@|$DATA|g" -e "s|@SOURCE@|$SOURCE|g" \
        "$SRC/deploy/jetson/facescreen-kiosk.service" > /etc/systemd/system/facescreen-kiosk.service
    systemctl daemon-reload
    systemctl enable --now facescreen-kiosk.service
    systemctl --no-pager status facescreen-kiosk.service || true
else
    echo "skipped (--no-service)"
fi
echo
echo "done: facescreen-kiosk on $SOURCE, bundle $BUNDLE, results in $DATA"
