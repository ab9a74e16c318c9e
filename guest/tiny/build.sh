#!/usr/bin/env bash
# Build the "tiny" Paddock guest image: a Debian cloud kernel plus a
# busybox-only initramfs.
#
#   guest/tiny/build.sh OUTDIR
#
# Produces OUTDIR/vmlinuz, OUTDIR/initrd.img and OUTDIR/kernel-version.
# Host requirements: apt-get (with reachable Debian mirrors), dpkg-deb,
# depmod (kmod), cpio, gzip and an installed busybox-static package.
# Nothing is installed on the host; packages are only downloaded.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

recipe_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=$1

# Kernel meta-package that tracks the current bookworm cloud kernel.
kernel_meta=linux-image-cloud-amd64

# Modules to put into the initramfs (dependencies are added automatically).
# Order here only matters among modules without dependency relations.
wanted_modules=(
    virtio virtio_ring
    virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
    virtio_blk
    failover net_failover virtio_net
    virtio_balloon
    virtio_console
    button evdev   # ACPI power button -> /dev/input/event* for acpid
    isofs          # the cloud-init seed (ISO 9660, label cidata)
)

log() { echo "tiny: $*"; }
die() { echo "tiny: error: $*" >&2; exit 1; }

for tool in apt-get apt-cache dpkg-deb dpkg-query depmod cpio gzip find sort; do
    command -v "$tool" >/dev/null 2>&1 || die "missing host tool: $tool"
done

busybox_bin=/bin/busybox
dpkg-query -W -f='${Status}\n' busybox-static 2>/dev/null | grep -q 'install ok installed' \
    || die "package busybox-static is not installed on the host"
[[ -x $busybox_bin ]] || die "$busybox_bin not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-tiny.XXXXXX")
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
stage=$outdir/.tmp
cleanup() {
    rm -rf "$work"
    rm -rf "$stage"
}
trap cleanup EXIT

apt_opts=(-q)
if [[ $EUID -eq 0 ]]; then
    # Downloading as root into a private temp dir: avoid the _apt sandbox
    # (it cannot write there and apt would only warn about it).
    apt_opts+=(-o APT::Sandbox::User=root)
fi

# Downloaded packages are kept in a cache (PADDOCK_DEB_CACHE) so that rebuilding after a recipe
# change does not need the mirror; the cache is used only when the download fails.
deb_cache=${PADDOCK_DEB_CACHE:-/var/cache/paddock/debs}
mkdir -p "$deb_cache" 2>/dev/null || deb_cache=""

try_download() {
    apt-get "${apt_opts[@]}" download "$1" >/dev/null 2>&1
}

# A missing or stale package list (a fresh machine, or a kernel the mirror has since replaced)
# makes the download fail: refresh the lists once and try again; failing that, use the cache.
download() {
    local pkg=$1
    if try_download "$pkg" || { [[ $EUID -eq 0 ]] && log "refreshing package lists" &&
                                 apt-get -qq update >/dev/null 2>&1 && try_download "$pkg"; }; then
        [[ -z $deb_cache ]] || cp -f "$work"/"${pkg}"_*.deb "$deb_cache"/ 2>/dev/null || true
        return 0
    fi
    local cached
    cached=$(ls -t "$deb_cache"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
    [[ -n $cached ]] || die "cannot download $pkg (is a Debian mirror reachable?) and it is not in the cache $deb_cache"
    log "mirror unreachable: using cached $(basename "$cached")"
    cp "$cached" "$work"/
}

# --- kernel ------------------------------------------------------------------
log "downloading kernel package"
cd "$work"
download "$kernel_meta"
meta_deb=$(ls "$work"/"${kernel_meta}"_*.deb)
# Depends: linux-image-6.1.0-NN-cloud-amd64 (= 6.1.xxx-y)
kernel_pkg=$(dpkg-deb -f "$meta_deb" Depends | tr ',' '\n' \
    | sed -n 's/^[[:space:]]*\(linux-image-[0-9][^[:space:]]*\).*/\1/p' | head -n1)
[[ -n $kernel_pkg ]] || die "cannot resolve kernel package from $kernel_meta"
download "$kernel_pkg"
kernel_deb=$(ls "$work"/"${kernel_pkg}"_*.deb)
kernel_pkg_version=$(dpkg-deb -f "$kernel_deb" Version)
log "kernel package: $kernel_pkg $kernel_pkg_version"

log "extracting kernel package"
root=$work/root
mkdir -p "$root"
dpkg-deb -x "$kernel_deb" "$root"
shopt -s nullglob
vmlinuz=("$root"/boot/vmlinuz-*)
shopt -u nullglob
[[ ${#vmlinuz[@]} -eq 1 ]] || die "expected exactly one /boot/vmlinuz-* in $kernel_pkg"
kver=${vmlinuz[0]##*/vmlinuz-}
moddir=$root/lib/modules/$kver
[[ -d $moddir ]] || die "no module directory for $kver"

# --- modules -----------------------------------------------------------------
log "resolving modules for $kver"
depmod -b "$root" "$kver"

declare -A dep_line=()   # module name -> "path: dep dep ..."
declare -A mod_path=()   # module name -> relative path
while IFS= read -r line; do
    path=${line%%:*}
    name=${path##*/}
    name=${name%%.ko*}
    name=${name//-/_}
    mod_path[$name]=$path
    dep_line[$name]=${line#*:}
done <"$moddir/modules.dep"

declare -A builtin=()
while IFS= read -r path; do
    name=${path##*/}; name=${name%%.ko*}; name=${name//-/_}
    builtin[$name]=1
done <"$moddir/modules.builtin"

declare -A visited=()
load_order=()
visit() {
    local name=$1 dep dname
    [[ -n ${visited[$name]:-} ]] && return 0
    visited[$name]=1
    if [[ -z ${mod_path[$name]:-} ]]; then
        [[ -n ${builtin[$name]:-} ]] && return 0
        die "module $name not found in $kver"
    fi
    for dep in ${dep_line[$name]}; do
        dname=${dep##*/}; dname=${dname%%.ko*}; dname=${dname//-/_}
        visit "$dname"
    done
    load_order+=("$name")
}
for m in "${wanted_modules[@]}"; do
    visit "$m"
done

# --- initramfs ---------------------------------------------------------------
log "assembling initramfs"
initrd=$work/initrd
mkdir -p "$initrd"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,root,etc,lib/modules}
chmod 1777 "$initrd/tmp"
chmod 0700 "$initrd/root"
mkdir -p "$initrd/var/log"
ln -s /run "$initrd/var/run"

install -m 0755 "$busybox_bin" "$initrd/bin/busybox"
# Applet symlinks (busybox --list-full gives e.g. "sbin/acpid").
while IFS= read -r applet; do
    [[ $applet == bin/busybox ]] && continue
    [[ -e $initrd/$applet || -L $initrd/$applet ]] && continue
    mkdir -p "$initrd/$(dirname "$applet")"
    ln -s /bin/busybox "$initrd/$applet"
done < <("$busybox_bin" --list-full)
[[ -L $initrd/bin/sh ]] || die "busybox has no sh applet"

: >"$initrd/lib/modules/load-order"
for m in "${load_order[@]}"; do
    src=$moddir/${mod_path[$m]}
    case $src in
        *.ko) install -m 0644 "$src" "$initrd/lib/modules/$m.ko" ;;
        *.ko.xz) xz -dc "$src" >"$initrd/lib/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$src" >"$initrd/lib/modules/$m.ko" ;;
        *.ko.gz) gzip -dc "$src" >"$initrd/lib/modules/$m.ko" ;;
        *) die "unsupported module file: $src" ;;
    esac
    echo "$m" >>"$initrd/lib/modules/load-order"
done
echo "$kver" >"$initrd/etc/kernel-version"
log "modules: ${load_order[*]}"

install -m 0755 "$recipe_dir/init" "$initrd/init"

# Networking: interface setup (paddock.net= / DHCP, hot-plug polling) and
# the udhcpc event script at busybox's default path.
install -m 0755 "$recipe_dir/paddock-net" "$initrd/sbin/paddock-net"
# Guest customization: the cloud-init NoCloud seed (ISO 9660 -> isofs.ko).
install -m 0755 "$recipe_dir/paddock-seed" "$initrd/sbin/paddock-seed"
mkdir -p "$initrd/etc/udhcpc"
install -m 0755 "$recipe_dir/udhcpc.script" "$initrd/etc/udhcpc/default.script"
for applet in ping nc udhcpc ip ifconfig route nslookup wget httpd; do
    [[ -L $initrd/bin/$applet || -L $initrd/sbin/$applet || -L $initrd/usr/bin/$applet \
        || -L $initrd/usr/sbin/$applet ]] || die "busybox has no $applet applet"
done

# ACPI power button (busybox acpid maps KEY_POWER to PWRF/00000080).
mkdir -p "$initrd/etc/acpi/PWRF"
cat >"$initrd/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "tiny: power button pressed, powering off" >/dev/console
sync
poweroff -f
EOF
chmod 0755 "$initrd/etc/acpi/PWRF/00000080"

cat >"$initrd/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat >"$initrd/etc/group" <<'EOF'
root:x:0:
EOF
cat >"$initrd/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost
EOF
: >"$initrd/etc/resolv.conf"
cat >"$initrd/etc/profile" <<'EOF'
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root
export PS1='\h:\w\$ '
EOF

if [[ $EUID -eq 0 ]]; then
    # Lets the kernel open an initial console before /init runs.
    mknod -m 0600 "$initrd/dev/console" c 5 1
    mknod -m 0666 "$initrd/dev/null" c 1 3
fi

# Reproducible archive: fixed mtimes, sorted entries, root ownership.
epoch=${SOURCE_DATE_EPOCH:-0}
find "$initrd" -exec touch -h -d "@$epoch" {} +

rm -rf "$stage"
mkdir -p "$stage"
(cd "$initrd" && find . -mindepth 1 | LC_ALL=C sort \
    | cpio --quiet -o -H newc -R 0:0 --reproducible) \
    | gzip -9 -n >"$stage/initrd.img"

install -m 0644 "${vmlinuz[0]}" "$stage/vmlinuz"
echo "$kver" >"$stage/kernel-version"

# Atomic-ish publish: each file is renamed into place.
for f in vmlinuz initrd.img kernel-version; do
    mv -f "$stage/$f" "$outdir/$f"
done
log "done: $outdir (kernel $kver, package $kernel_pkg_version, initrd $(stat -c %s "$outdir/initrd.img") bytes)"
