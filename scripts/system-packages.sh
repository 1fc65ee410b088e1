#!/usr/bin/env bash
# Make sure the Debian packages that the tests and benchmarks drive are
# installed: real SSH clients and a private sshd as the reference (OpenSSH),
# PuTTY's plink, tmux for interactive sessions, the file tools rclone,
# sshfs (with fuse3) and lftp, PostgreSQL's server, of which the tests
# start a private cluster on 127.0.0.1 (tests/test_postgresql_e2e.py), and
# Chromium, which Playwright drives headless (tests/test_web_browser_e2e.py).
# `make test` and `make bench` run this first.
#
#   scripts/system-packages.sh              check (and install) the list below
#   scripts/system-packages.sh PACKAGE...   the same for these packages instead
#
# Quick and silent when everything is there.  Otherwise it installs what is
# missing with apt-get, as root or through passwordless sudo, and if it can
# do neither it stops with one line saying what to run.
set -euo pipefail

if [ "$#" -gt 0 ]; then
    packages=("$@")
else
    packages=(openssh-client openssh-server putty-tools tmux rclone sshfs fuse3 lftp postgresql chromium)
fi

if ! command -v dpkg-query >/dev/null; then
    echo "omsh: not a Debian system; make sure these are installed: ${packages[*]}" >&2
    exit 0
fi

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "omsh: missing Debian packages: ${missing[*]}; install them as root (or with sudo):" \
        "apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "omsh: installing ${missing[*]}" >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
