#!/usr/bin/env bash
# Installs every Debian package Paddock needs to build, test and run. Idempotent: installs only
# what is missing, and prints nothing when everything is there.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang-format
  libboost1.74-dev nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libfmt-dev libspdlog-dev
  libsqlite3-dev libssl-dev libgtest-dev libgmock-dev libexpat1-dev librsvg2-dev libpng-dev libsimdjson-dev
  # runtime: QEMU, disks (qemu-storage-daemon, for backups of stopped VMs, comes with
  # qemu-system-x86 through qemu-system-common), guest image recipe
  qemu-system-x86 qemu-system-common qemu-utils busybox-static cpio e2fsprogs kmod zstd
  # runtime: cloud-init NoCloud seeds (ISO 9660, label cidata)
  genisoimage
  # runtime: fast parsing of QEMU's disk counters; SHA-256 of backup files
  libsimdjson14 libssl3
  # runtime: PNG charts (librsvg with cairo, and a sans-serif font for their text)
  librsvg2-2 libcairo2 fonts-dejavu-core
  # runtime: virtual networks
  iproute2 dnsmasq-base nftables
  # runtime: the "debian" guest image recipe (guest/debian/build.sh)
  mmdebstrap
  # tests and benchmarks
  sqlite3 procps util-linux python3 python3-prometheus-client
  # the live-migration network test pings the guest from each host (ping -D)
  iputils-ping
  # the xen-2004 benchmark suite's workloads, run natively (the debian image has them too)
  p7zip-full dbench iperf3 postgresql
  # its web-hosting test's server, run natively as a private instance (nginx -c DIR/nginx.conf)
  nginx-light
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
# The benchmark runs its own PostgreSQL clusters: the package must not start one on the host.
if [[ " ${missing[*]} " == *" postgresql "* ]]; then
  "${sudo_cmd[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" |
    "${sudo_cmd[@]}" tee /etc/postgresql-common/createcluster.d/paddock.conf >/dev/null
fi
# Nor may nginx's package start its service (or keep it enabled): the benchmark starts its own.
policy=""
if [[ " ${missing[*]} " == *" nginx-light "* && ! -e /usr/sbin/policy-rc.d ]]; then
  policy=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\n# paddock setup.sh: no service starts while it installs packages\nexit 101\n' |
    "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 0755 "$policy"
fi
"${sudo_cmd[@]}" apt-get update -qq
status=0
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
[ -z "$policy" ] || "${sudo_cmd[@]}" rm -f "$policy"
if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v systemctl >/dev/null; then
  "${sudo_cmd[@]}" systemctl disable --now nginx >/dev/null 2>&1 || true
fi
exit "$status"
