#!/usr/bin/env bash
# SoftHSM2 for the PKCS#11 KEK tests: installs Debian's softhsm2 if missing,
# initialises a token "shouwang" in a project-local directory (kept if it
# already exists, so a developer's dev-server keys survive a re-run), and
# prints the variables to export on stdout; everything else goes to stderr.
#
#   env=$(bash .ci/softhsm.sh [DIR]); eval "$env"
#
# DIR defaults to $SHOUWANG_SOFTHSM_DIR, then instance/softhsm. The PINs are
# test values: a real HSM gets its PINs from the deployment's secret store.
set -euo pipefail
cd "$(dirname "$0")/.."

MODULE=/usr/lib/softhsm/libsofthsm2.so
LABEL=shouwang
PIN=1234
SO_PIN=5678

if ! command -v softhsm2-util >/dev/null 2>&1 || [ ! -f "$MODULE" ]; then
  echo "installing softhsm2" >&2
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the cached package lists do not know softhsm2.
  if ! apt-get install -y -q softhsm2 >&2; then
    apt-get update -q >&2
    apt-get install -y -q softhsm2 >&2
  fi
fi

DIR=${1:-${SHOUWANG_SOFTHSM_DIR:-$PWD/instance/softhsm}}
mkdir -p "$DIR/tokens"
DIR=$(cd "$DIR" && pwd)
CONF="$DIR/softhsm2.conf"
cat >"$CONF" <<EOF
directories.tokendir = $DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
chmod 700 "$DIR" "$DIR/tokens"
export SOFTHSM2_CONF="$CONF"

if ! softhsm2-util --show-slots 2>/dev/null | grep -Eq "Label:[[:space:]]+$LABEL[[:space:]]*\$"; then
  softhsm2-util --init-token --free --label "$LABEL" --pin "$PIN" --so-pin "$SO_PIN" >&2
fi

echo "export SOFTHSM2_CONF=$CONF"
echo "export SHOUWANG_PKCS11_MODULE=$MODULE"
echo "export SHOUWANG_PKCS11_TOKEN=$LABEL"
echo "export SHOUWANG_PKCS11_PIN=$PIN"
