#!/usr/bin/env bash
# facescreen on a fresh Jetson with JetPack 6.1 or 6.2 (L4T R36.4, Ubuntu 22.04, Python 3.10, TensorRT 10.3,
# CUDA 12.6). Each numbered step below is one step of docs/deploy-jetson.md, in the same order.
#
#   sudo deploy/jetson/install.sh --bundle DIR [--user USER] [--source csi://0]
#                                 [--display auto|desktop|headless] [--autologin] [--no-service]
#
#   --bundle DIR   the bundle copied from the workstation (onnx, onnx-int8, mtcnn-onnx, mtcnn-tflite and
#                  calibration/faces.npz); default /opt/facescreen/bundle
#   --user USER    the account the kiosk runs as (default: the user who ran sudo); created if absent, and
#                  added to the video (and render) groups that own L4T's GPU and camera device nodes
#   --display      desktop: full-screen window on USER's auto-logged-in desktop (:0); headless: no window,
#                  the capture page for phones and tablets (facescreen-kiosk serve, https on port 8443);
#                  auto (default): desktop when GDM logs USER in automatically, else headless
#   --autologin    configure GDM to log USER in automatically (then --display auto means desktop)
#   --no-service   stop after the doctor (step 6): no systemd unit
#
# JetPack 6.0 (L4T R36.2/R36.3: TensorRT 8.6, CUDA 12.2) is refused at step 1, with the reason.
# It has been checked with shellcheck and tests/deploy (stubbed commands); it has NOT been run on a Jetson.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PREFIX=/opt/facescreen
BUNDLE=$PREFIX/bundle
DATA=/var/lib/facescreen            # results store: the root file system (eMMC/NVMe), not a tmpfs
KIOSK_USER=${SUDO_USER:-}
SOURCE=csi://0
DISPLAY_MODE=auto
AUTOLOGIN=0
SERVICE=1
PORT=8443
TARGETS=tensorrt-fp16,tensorrt-int8
# where L4T and GDM keep what step 1 reads (overridable for tests and chroots)
TEGRA_RELEASE=${FACESCREEN_TEGRA_RELEASE:-/etc/nv_tegra_release}
GDM_CONF=${FACESCREEN_GDM_CONF:-/etc/gdm3/custom.conf}

usage() {  # the comment block at the top of this file; on stderr for a usage error
    local code=${1:-0}
    if [ "$code" -eq 0 ]; then
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    else
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2
    fi
    exit "$code"
}
die() { echo "error: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

# an option that takes a value must have one: "--user" given last (or followed by another option) is a usage error
value() {
    if [ "$2" -lt 2 ] || [ -z "$3" ] || [ "${3#-}" != "$3" ]; then
        echo "error: $1 needs a value" >&2
        usage 2
    fi
}

while [ $# -gt 0 ]; do
    case $1 in
        --bundle) value "$1" $# "${2:-}"; BUNDLE=$2; shift 2 ;;
        --user) value "$1" $# "${2:-}"; KIOSK_USER=$2; shift 2 ;;
        --source) value "$1" $# "${2:-}"; SOURCE=$2; shift 2 ;;
        --display) value "$1" $# "${2:-}"; DISPLAY_MODE=$2; shift 2 ;;
        --autologin) AUTOLOGIN=1; shift ;;
        --no-service) SERVICE=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "error: unknown option: $1" >&2; usage 2 ;;
    esac
done
case $DISPLAY_MODE in
    auto|desktop|headless) ;;
    *) echo "error: --display takes auto, desktop or headless, not '$DISPLAY_MODE'" >&2; usage 2 ;;
esac

VENV=$PREFIX/.venv
ASSETS=$PREFIX/assets
PY=$VENV/bin/python
REPORT=$DATA/first-boot-report.json

# L4T release -> JetPack: R36.4.x is JetPack 6.1 (36.4.0) or 6.2 (36.4.3), TensorRT 10.3 + CUDA 12.6, which the
# pins (cuda-python 12.6) and the engine recipe (explicit Q/DQ from onnx-int8) are made for. R36.2/R36.3 is
# JetPack 6.0: TensorRT 8.6 + CUDA 12.2 would need cuda-python 12.2 and the calibrator recipe, neither tested.
jetpack_of_release() {  # prints "6.1/6.2" or dies with the reason
    local first major revision minor
    first=$(head -n 1 "$TEGRA_RELEASE")
    major=$(sed -n 's/^# R\([0-9][0-9]*\) .*/\1/p' <<<"$first")
    revision=$(sed -n 's/.*REVISION: \([0-9][0-9.]*\).*/\1/p' <<<"$first")
    if [ -z "$major" ] || [ -z "$revision" ]; then
        die "cannot read the L4T release from $TEGRA_RELEASE: '$first'"
    fi
    minor=${revision%%.*}
    if [ "$major" -ne 36 ]; then
        die "L4T R$major.$revision is not JetPack 6: facescreen's Jetson install needs JetPack 6.1 or 6.2 (L4T R36.4)"
    fi
    if [ "$minor" -lt 4 ]; then
        die "L4T R36.$revision is JetPack 6.0 (TensorRT 8.6, CUDA 12.2), which this installer does not support: its" \
            "cuda-python pin (12.6) and INT8 engine recipe are for JetPack 6.1/6.2 (TensorRT 10.3, CUDA 12.6)." \
            "Upgrade the Jetson to JetPack 6.1 or 6.2 (L4T R36.4) first."
    fi
    echo "6.1/6.2"
}

# the user GDM logs in automatically, or nothing ([daemon] AutomaticLoginEnable=true + AutomaticLogin=USER)
autologin_user() {
    [ -f "$GDM_CONF" ] || return 0
    awk -F= '
        /^\[/ { daemon = ($0 ~ /^\[daemon\]/) }
        daemon && $1 ~ /^[[:space:]]*AutomaticLoginEnable[[:space:]]*$/ { gsub(/[[:space:]]/, "", $2); on = tolower($2) }
        daemon && $1 ~ /^[[:space:]]*AutomaticLogin[[:space:]]*$/ { gsub(/[[:space:]]/, "", $2); user = $2 }
        END { if (on == "true" && user != "") print user }
    ' "$GDM_CONF"
}

configure_autologin() {
    [ -f "$GDM_CONF" ] || die "$GDM_CONF is missing: is this JetPack's desktop image (GDM)? use --display headless"
    cp -n "$GDM_CONF" "$GDM_CONF.facescreen-backup"
    sed -i -e '/^[[:space:]]*AutomaticLoginEnable[[:space:]]*=/d' -e '/^[[:space:]]*AutomaticLogin[[:space:]]*=/d' "$GDM_CONF"
    if grep -q '^\[daemon\]' "$GDM_CONF"; then
        sed -i "/^\[daemon\]/a AutomaticLoginEnable=true\nAutomaticLogin=$KIOSK_USER" "$GDM_CONF"
    else
        printf '[daemon]\nAutomaticLoginEnable=true\nAutomaticLogin=%s\n' "$KIOSK_USER" >>"$GDM_CONF"
    fi
}

step "1. Check the machine: a Jetson on JetPack 6.1 or 6.2 (L4T R36.4), run as root"
[ "$(id -u)" -eq 0 ] || die "run with sudo: the script installs apt packages, a user's groups and a systemd unit"
[ "$(uname -m)" = aarch64 ] || die "this is $(uname -m), not a Jetson (aarch64)"
[ -f "$TEGRA_RELEASE" ] || die "$TEGRA_RELEASE is missing: not a Jetson Linux (L4T) system"
JETPACK=$(jetpack_of_release) || exit 1
echo "JetPack $JETPACK ($(head -n 1 "$TEGRA_RELEASE" | cut -d, -f1-2 | sed 's/^# //'))"
[ -f "$BUNDLE/modelcard.json" ] || die "no bundle at $BUNDLE: copy it from the workstation first (rsync -a runs/BUNDLE/ jetson:$BUNDLE/)"
[ -f "$BUNDLE/calibration/faces.npz" ] || die "$BUNDLE/calibration/faces.npz is missing: convert with --save-faces on the workstation"
[ -n "$KIOSK_USER" ] || die "name the account the kiosk runs as: --user USER"
[ "$KIOSK_USER" != root ] || die "the kiosk must not run as root: name a dedicated account with --user USER"
GROUPS_NEEDED=video                 # /dev/nvmap, /dev/nvhost-*, /dev/nvgpu/* and cameras are root:video 0660 on L4T
if getent group render >/dev/null; then GROUPS_NEEDED="video render"; fi
if [ "$AUTOLOGIN" -eq 1 ] && [ "$DISPLAY_MODE" = headless ]; then
    die "--autologin is for the desktop kiosk; leave it out with --display headless"
fi
AUTO_USER=$(autologin_user)
if [ "$DISPLAY_MODE" = auto ]; then
    if [ "$AUTOLOGIN" -eq 1 ] || [ "$AUTO_USER" = "$KIOSK_USER" ]; then DISPLAY_MODE=desktop; else DISPLAY_MODE=headless; fi
fi
if [ "$DISPLAY_MODE" = desktop ] && [ "$AUTOLOGIN" -eq 0 ] && [ "$AUTO_USER" != "$KIOSK_USER" ]; then
    die "--display desktop needs GDM to log $KIOSK_USER in automatically, and $GDM_CONF logs in '${AUTO_USER:-nobody}':" \
        "add --autologin, or use --display headless"
fi
if [ "$DISPLAY_MODE" = desktop ]; then
    echo "display: desktop (full-screen window on :0 of $KIOSK_USER's automatic login)"
else
    if [ -n "$AUTO_USER" ]; then why="GDM logs $AUTO_USER in automatically, not $KIOSK_USER"; else why="GDM logs nobody in automatically"; fi
    echo "display: headless ($why): the kiosk serves the capture page to phones and tablets on" \
        "https://$(hostname):$PORT/ instead of a window; for the window re-run with --autologin"
fi

step "2. JetPack's own Python packages: TensorRT (python3-libnvinfer) and OpenCV with GStreamer (nvidia-opencv)"
apt-get update
apt-get install -y python3-venv python3-pip python3-libnvinfer nvidia-opencv v4l-utils
[ "$(python3 -c 'import sys; print(sys.version_info[:2] == (3, 10))')" = True ] \
    || die "python3 is $(python3 --version): JetPack 6's tensorrt module is built for Python 3.10"
python3 -c 'import tensorrt, sys; sys.exit(0 if tensorrt.__version__.startswith("10.") else 1)' \
    || die "JetPack's tensorrt module cannot be imported by python3, or is not TensorRT 10 (JetPack $JETPACK ships 10.3)"
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

step "6. Doctor, run as $KIOSK_USER (in the groups $GROUPS_NEEDED): what the kiosk will be able to use"
if ! id "$KIOSK_USER" >/dev/null 2>&1; then
    useradd --create-home --user-group --shell /bin/bash "$KIOSK_USER"
    echo "created the account $KIOSK_USER"
fi
# shellcheck disable=SC2086  # GROUPS_NEEDED is a list of group names
usermod -a -G "$(echo $GROUPS_NEEDED | tr ' ' ,)" "$KIOSK_USER"
install -d -o "$KIOSK_USER" -m 0750 "$DATA"
runuser -u "$KIOSK_USER" -- "$VENV/bin/facescreen-kiosk" doctor --bundle "$BUNDLE" --assets "$ASSETS" \
    --data-dir "$DATA" --json "$REPORT" \
    || die "doctor found a failing check as $KIOSK_USER (above); the report for support is $REPORT"
echo "first-boot report: $REPORT (send this file to whoever supports the kiosk)"

step "7. The kiosk as a systemd service ($DISPLAY_MODE), results in $DATA"
if [ "$SERVICE" -eq 0 ]; then
    echo "skipped (--no-service)"
    exit 0
fi
uid=$(id -u "$KIOSK_USER")
if [ "$DISPLAY_MODE" = desktop ]; then
    [ "$AUTOLOGIN" -eq 0 ] || { configure_autologin; echo "GDM now logs $KIOSK_USER in automatically (from the next boot)"; }
    unit=$SRC/deploy/jetson/facescreen-kiosk.service
else
    unit=$SRC/deploy/jetson/facescreen-kiosk-serve.service
    token=$DATA/token
    if [ ! -s "$token" ]; then
        (umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$token")
        chown "$KIOSK_USER" "$token"
    fi
    echo "the capture page needs the token in $token (readable by $KIOSK_USER and root only)"
fi
sed -e "s|@USER@|$KIOSK_USER|g" -e "s|@UID@|$uid|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@BUNDLE@|$BUNDLE|g" \
    -e "s|@DATA@|$DATA|g" -e "s|@SOURCE@|$SOURCE|g" -e "s|@GROUPS@|$GROUPS_NEEDED|g" -e "s|@PORT@|$PORT|g" \
    "$unit" > /etc/systemd/system/facescreen-kiosk.service
systemctl daemon-reload
systemctl enable --now facescreen-kiosk.service
systemctl --no-pager status facescreen-kiosk.service || true
echo
echo "done: facescreen-kiosk ($DISPLAY_MODE) as $KIOSK_USER, bundle $BUNDLE, results in $DATA"
