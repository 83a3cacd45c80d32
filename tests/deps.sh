#!/bin/sh
# deps.sh - install the Debian packages that the build and the tests need
# (mandoc and man-db: the man page lint of test_man; cppcheck: make lint)
#
# Idempotent and quiet: asks dpkg what is missing, runs apt-get (and
# apt-get update, once) only when something is.  Needs root to install;
# never removes or upgrades anything.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libssl-dev libconfuse-dev libarchive-dev libcmocka-dev
libpam0g-dev libcrypt-dev clang-format
swaks msmtp dnsmasq ucspi-tcp python3 python3-aiosmtpd openbsd-inetd
openssl systemd strace zip p7zip-full
mandoc man-db cppcheck"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$st" != "installed" ]; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: not root; install these packages first:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
