#!/bin/bash
# The xen-2004 suite's workloads, run the same way on the host (native) and in a guest:
#
#   xen-2004.sh WORKLOAD PROFILE [WORKDIR]
#
# WORKLOAD: cpu | build | osdb-ir | osdb-oltp | dbench | micro | ttcp ("list" prints them).
#           ttcp needs PADDOCK_BENCH_PEER=ADDRESS:PORT, an `iperf3 -s` the runner started on the
#           host (the guest's gateway; 127.0.0.1 for native runs).
#           The suite's web test is not here: paddock-bench drives web-serve.sh's servers itself.
# PROFILE:  quick (seconds natively, minutes under TCG) | full (paper-sized, for real hardware).
# Prints one line per measured figure, and nothing else on stdout:
#   RESULT <metric> <value> <unit> <higher|lower>
# and exits non-zero, with the reason on stderr, when the workload fails: a failure is never a
# zero. Needs: p7zip-full, gcc, make, postgresql (15), dbench, iperf3, iproute2 (the debian image
# has them all).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
workload=${1:-}
profile=${2:-quick}
work=${3:-/var/tmp/paddock-bench}
cpus=$(nproc)

die() { echo "xen-2004: $workload: $*" >&2; exit 1; }
result() { echo "RESULT $1 $2 $3 $4"; }
# Seconds since the epoch with nanoseconds, and the difference of two such stamps.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
size() {  # size QUICK FULL
    if [[ $profile == quick ]]; then echo "$1"; else echo "$2"; fi
}
[[ $profile == quick || $profile == full ]] || die "profile must be quick or full"

# A fixed input for the CPU job: the same bytes on every target (mawk's rand with a fixed seed).
make_input() {
    awk -v n="$1" 'BEGIN { srand(20040601); for (i = 0; i < n; i++)
        printf "%d %08x line %d of the xen-2004 cpu input\n", int(rand() * 1e9), i * 2654435761 % 4294967296, i }' >"$2"
}

# A fixed C tree for the build job: FILES files of FUNCS functions each, and a Makefile.
make_tree() {
    local dir=$1 files=$2 funcs=$3
    rm -rf "$dir" && mkdir -p "$dir"
    for ((f = 0; f < files; f++)); do
        {
            echo "#include <stdint.h>"
            for ((g = 0; g < funcs; g++)); do
                cat <<C
uint64_t f${f}_${g}(uint64_t x) {
  uint64_t a = x * ${g}u + ${f}u, b = 0;
  for (int i = 0; i < 64; ++i) { a = (a << 7) ^ (a >> 3) ^ (uint64_t)i; b += a % (uint64_t)(i + 3); }
  switch (x & 7) { case 0: return a; case 1: return b; case 2: return a ^ b; case 3: return a + b;
  case 4: return a * 3 + b; case 5: return b - a; case 6: return a | b; default: return a & b; }
}
C
            done
        } >"$dir/f$f.c"
    done
    {
        echo "int main(void) { return 0; }" >"$dir/main.c"
        printf 'OBJS := $(patsubst %%.c,%%.o,$(wildcard *.c))\n'
        printf 'prog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n%%.o: %%.c\n\t$(CC) -O2 -c -o $@ $<\n'
    } >"$dir/Makefile"
}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
pg_dir=""  # the cluster's folder: postgres must reach it, whatever WORKDIR's permissions
pg() { runuser -u postgres -- "$@"; }
pg_start() {  # a private cluster on a Unix socket only, SCALE accounts x 100000
    [[ -n $pg_bin ]] || die "PostgreSQL is not installed"
    id postgres >/dev/null 2>&1 || die "there is no postgres user"
    pg_dir=$(mktemp -d /var/tmp/paddock-bench-pg.XXXXXX)
    chmod 0755 "$pg_dir" && chown postgres "$pg_dir"
    pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >/dev/null || die "initdb failed"
    pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
        -o "-c listen_addresses='' -c unix_socket_directories=$pg_dir -c fsync=on" start >/dev/null \
        || die "postgres did not start: $(tail -3 "$pg_dir/log")"
    pg "$pg_bin/pgbench" -h "$pg_dir" -U postgres -i -q -s "$1" postgres >/dev/null 2>&1 \
        || die "pgbench -i failed"
}
pg_stop() {
    [[ -n $pg_dir ]] || return 0
    [[ -f $pg_dir/data/postmaster.pid ]] && pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$pg_dir"
}
pgbench_tps() {  # pgbench_tps SECONDS [pgbench options]: the tps pgbench reports
    local t=$1; shift
    local out
    out=$(pg "$pg_bin/pgbench" -h "$pg_dir" -U postgres -n -T "$t" -c "$cpus" -j "$cpus" "$@" postgres 2>&1) \
        || die "pgbench failed: $(echo "$out" | tail -2)"
    echo "$out" | awk '/^tps = / { print $3; found = 1 } END { if (!found) exit 1 }' \
        || die "pgbench printed no tps: $(echo "$out" | tail -2)"
}

mkdir -p "$work"
case $workload in
    list)
        echo "cpu build osdb-ir osdb-oltp dbench micro ttcp" ;;
    cpu)
        # FourInARow / SPEC INT stand-in: 7-Zip (LZMA) compressing a fixed input on every CPU.
        lines=$(size 40000 2000000)
        make_input "$lines" "$work/cpu.txt"
        rm -f "$work/cpu.7z"
        t0=$(now)
        7z a -bd -mx=5 -mmt="$cpus" "$work/cpu.7z" "$work/cpu.txt" >/dev/null || die "7z failed"
        result cpu_7z_seconds "$(since "$t0")" s lower
        rm -f "$work/cpu.7z" "$work/cpu.txt" ;;
    build)
        # Compiling a fixed C tree from clean with make -j CPUS (the paper builds Linux).
        make_tree "$work/tree" "$(size 12 200)" "$(size 40 120)"
        t0=$(now)
        make -s -C "$work/tree" -j "$cpus" prog >/dev/null 2>"$work/build.err" \
            || die "the build failed: $(tail -2 "$work/build.err")"
        result build_seconds "$(since "$t0")" s lower
        rm -rf "$work/tree" ;;
    osdb-ir)
        # OSDB information retrieval: pgbench's read-only select-only mix.
        trap pg_stop EXIT
        pg_start "$(size 2 50)"
        result osdb_ir_tps "$(pgbench_tps "$(size 5 120)" -S)" tps higher ;;
    osdb-oltp)
        # OSDB OLTP: pgbench's default TPC-B-like mix, with fsync on.
        trap pg_stop EXIT
        pg_start "$(size 2 50)"
        result osdb_oltp_tps "$(pgbench_tps "$(size 5 120)")" tps higher ;;
    dbench)
        rm -rf "$work/dbench" && mkdir -p "$work/dbench"
        out=$(dbench -t "$(size 5 120)" -c /usr/share/dbench/client.txt -D "$work/dbench" "$cpus" 2>&1) \
            || die "dbench failed: $(echo "$out" | tail -2)"
        mbs=$(echo "$out" | awk '/^Throughput/ { print $2 }')
        [[ -n $mbs ]] || die "dbench printed no throughput"
        result dbench_mb_per_s "$mbs" MB/s higher
        rm -rf "$work/dbench" ;;
    micro)
        # lmbench-style micro-benchmarks, compiled here with this target's gcc.
        gcc -O2 -o "$work/micro" "$here/micro.c" || die "micro.c does not compile"
        "$work/micro" --scale "$(size 0.05 1)" --result || die "a micro-benchmark failed" ;;
    ttcp)
        # ttcp: bulk TCP throughput with the host, from here (tx) and to here (rx), by iperf3.
        peer=${PADDOCK_BENCH_PEER:-}
        [[ $peer == *:* ]] || die "PADDOCK_BENCH_PEER=ADDRESS:PORT is not set"
        address=${peer%:*} port=${peer##*:}
        # A guest's DHCP lease may come a moment after it reported ready.
        for ((i = 0; i < 60; i++)); do
            ip route get "$address" >/dev/null 2>&1 && break
            sleep 0.5
        done
        ip route get "$address" >/dev/null 2>&1 || die "no route to $address"
        for direction in tx rx; do
            flag=""
            [[ $direction == rx ]] && flag=-R
            out=$(iperf3 -c "$address" -p "$port" -t "$(size 5 60)" -f m $flag 2>&1) \
                || die "iperf3 ($direction) failed: $(echo "$out" | tail -1)"
            mbits=$(echo "$out" | awk '/receiver$/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }')
            [[ -n $mbits ]] || die "iperf3 ($direction) printed no receiver bitrate"
            result "ttcp_${direction}_mbit_s" "$mbits" Mbit/s higher
        done ;;
    *)
        die "unknown workload (one of: $("$0" list))" ;;
esac
