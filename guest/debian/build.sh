#!/usr/bin/env bash
# Build the "debian" Paddock guest image: Debian bookworm on an ext4 root disk, made with
# mmdebstrap from Debian packages: systemd, cloud-init (NoCloud), qemu-guest-agent and the
# benchmark workloads (7z, gcc/make, PostgreSQL + pgbench, dbench, iperf3, nginx), with the
# xen-2004 suite's scripts in /usr/local/lib/paddock-bench.
#
#   guest/debian/build.sh OUTDIR
#
# Produces OUTDIR/root.qcow2 (the root filesystem, no partition table: root=/dev/vda),
# OUTDIR/vmlinuz, OUTDIR/initrd.img and OUTDIR/kernel-version. Needs root (mmdebstrap's root
# mode, mke2fs -d keeps owners), mmdebstrap, e2fsprogs and qemu-utils, and the Debian mirror.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
recipe_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=$1

log() { echo "debian: $*"; }
die() { echo "debian: error: $*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "building this image needs root (mmdebstrap root mode)"
for tool in mmdebstrap mke2fs qemu-img du; do
    command -v "$tool" >/dev/null 2>&1 || die "missing host tool: $tool"
done

packages=(
    systemd systemd-sysv systemd-resolved udev dbus cloud-init qemu-guest-agent
    linux-image-cloud-amd64
    initramfs-tools e2fsprogs iproute2 iputils-ping procps less ca-certificates
    # workloads of the xen-2004 suite
    p7zip-full gcc make libc6-dev postgresql postgresql-contrib dbench iperf3 nginx-light
)

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-debian.XXXXXX")
stage=$outdir/.tmp
cleanup() { rm -rf "$work" "$stage"; }
trap cleanup EXIT
mkdir -p "$stage"

log "mmdebstrap bookworm (${#packages[@]} packages and their dependencies)"
root=$work/root
mmdebstrap --mode=root --variant=apt --format=directory \
    --include="$(IFS=,; echo "${packages[*]}")" \
    --customize-hook='echo debian >"$1/etc/hostname"' \
    --customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
    bookworm "$root" 2>&1 | sed -u 's/^/debian: mmdebstrap: /'

log "configuring systemd units and cloud-init"
install -m 0755 "$recipe_dir/paddock-ready" "$root/usr/local/sbin/paddock-ready"
install -m 0755 "$recipe_dir/paddock-hostname" "$root/usr/local/sbin/paddock-hostname"
install -m 0644 "$recipe_dir/paddock-ready.service" "$root/etc/systemd/system/"
install -m 0644 "$recipe_dir/paddock-hostname.service" "$root/etc/systemd/system/"
install -m 0644 "$recipe_dir/90-paddock.cfg" "$root/etc/cloud/cloud.cfg.d/90-paddock.cfg"
mkdir -p "$root/etc/systemd/system/serial-getty@ttyS0.service.d"
install -m 0644 "$recipe_dir/serial-autologin.conf" \
    "$root/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf"
printf 'set enable-bracketed-paste off\n' >"$root/root/.inputrc"  # plain text on the console
# The benchmark suite's workloads, as the host runs them from guest/debian/workloads.
install -d "$root/usr/local/lib/paddock-bench"
install -m 0755 "$recipe_dir/workloads/xen-2004.sh" "$root/usr/local/lib/paddock-bench/"
install -m 0755 "$recipe_dir/workloads/web-serve.sh" "$root/usr/local/lib/paddock-bench/"
install -m 0644 "$recipe_dir/workloads/micro.c" "$recipe_dir/workloads/web-dynamic.c" \
    "$root/usr/local/lib/paddock-bench/"
# cloud-init renders the seed's network-config (or DHCP on the first NIC) for systemd-networkd.
mkdir -p "$root/etc/systemd/system/systemd-networkd-wait-online.service.d"
install -m 0644 "$recipe_dir/wait-online.conf" \
    "$root/etc/systemd/system/systemd-networkd-wait-online.service.d/paddock.conf"
chroot "$root" systemctl enable paddock-ready.service paddock-hostname.service \
    systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
# The workloads start their servers themselves; a guest boots without them (faster under TCG).
chroot "$root" systemctl disable postgresql.service nginx.service >/dev/null 2>&1 || true
# Each VM gets its own machine id at first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb

kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)
version=${kernel##*/vmlinuz-}
[[ -f $root/boot/initrd.img-$version ]] || die "no initramfs for kernel $version"
cp "$kernel" "$stage/vmlinuz"
cp "$root/boot/initrd.img-$version" "$stage/initrd.img"
echo "$version" >"$stage/kernel-version"

used_mib=$(du -sm "$root" | cut -f1)
size_mib=$(( used_mib * 13 / 10 + 512 ))
log "root filesystem: ${used_mib} MiB used, ${size_mib} MiB image"
mke2fs -q -t ext4 -L root -d "$root" "$work/root.img" "${size_mib}M"
qemu-img convert -f raw -O qcow2 "$work/root.img" "$stage/root.qcow2"

for f in root.qcow2 vmlinuz initrd.img kernel-version; do mv -f "$stage/$f" "$outdir/$f"; done
log "built: kernel $version, $(du -h "$outdir/root.qcow2" | cut -f1) root.qcow2"
