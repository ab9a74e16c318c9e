#!/usr/bin/env python3
"""Concurrent start of 10 VMs: `paddock vm start --wait-ready v1 ... v10` vs 10 bare QEMUs.

A (paddock): wall time of ONE CLI process `paddock vm start --wait-ready v1 ... v10` (10 VMs,
             1 vCPU, 128 MiB, 64 MiB disk each), i.e. until all ten printed their ready line.
B (bare):    the ten exact QEMU argvs paddockd used (read from /proc/PID/cmdline), run-dir and
             disk paths moved to private temp dirs, launched back to back with Popen; time from
             the first Popen until all ten consoles delivered the `PADDOCK-READY` line.
For context the same invocation also measures single-VM start-to-ready (v1 alone, paddock vs
bare). Each round runs both 10-VM groups, alternating which goes first (A B, B A, ...; see
--order), then the single-VM pair a b; one warm-up round first. Goal: ratio <= 1.05.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def paddock_group(d, names):
    cpu0, ccpu0 = bl.cpu_seconds(d.pid), bl.child_cpu_seconds(d.pid)
    t0 = time.monotonic()
    cp = subprocess.run([d.paddock, "--host", d.sock, "vm", "start", "--wait-ready", *names],
                        capture_output=True, text=True, timeout=600)
    t1 = time.monotonic()
    if cp.returncode != 0:
        raise RuntimeError(f"vm start failed: {cp.stderr.strip()}")
    cpu1, ccpu1 = bl.cpu_seconds(d.pid), bl.child_cpu_seconds(d.pid)
    rts = [bl.vm_runtime(d, n) for n in names]
    qemu_cpu = sum(bl.cpu_seconds(rt["pid"]) for rt in rts)
    spawn = [bl.proc_start_monotonic(rt["pid"]) - t0 for rt in rts]
    ready = [bl.wall_to_mono(rt["ready_at_ms"]) - t0 for rt in rts]
    bl.stop_vms(d, names)
    return {
        "total": t1 - t0,
        "last_spawn": max(spawn),
        "first_ready": min(ready),
        "last_ready": max(ready),
        "last_ready_to_exit": (t1 - t0) - max(ready),
        "mean_guest_uptime": sum(bl.uptime_of(rt.get("ready_line")) for rt in rts) / len(rts),
        "qemu_cpu_per_vm": qemu_cpu / len(rts),
        "paddockd_cpu": cpu1 - cpu0,
        "helper_cpu": ccpu1 - ccpu0,
    }


def bare_group(cleanup, specs):
    t0, qs = bl.run_bare_group(cleanup, specs, timeout=300)
    qemu_cpu = sum(bl.cpu_seconds(q.proc.pid) for q in qs)
    spawn = [bl.proc_start_monotonic(q.proc.pid) - t0 for q in qs]
    ready = [q.t_ready - t0 for q in qs]
    res = {
        "total": max(ready),
        "last_spawn": max(spawn),
        "first_ready": min(ready),
        "last_ready": max(ready),
        "mean_guest_uptime": sum(bl.uptime_of(q.ready_line) for q in qs) / len(qs),
        "qemu_cpu_per_vm": qemu_cpu / len(qs),
    }
    for q in qs:
        q.stop()
    return res


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=3)
    p.add_argument("--warmup", type=int, default=1, help="warm-up rounds [%(default)s]")
    p.add_argument("--vms", type=int, default=10, help="VMs started concurrently [%(default)s]")
    p.add_argument("--memory", type=int, default=128, help="MiB per VM [%(default)s]")
    p.add_argument("--disk", type=int, default=64, help="root disk MiB per VM [%(default)s]")
    p.add_argument("--no-single", action="store_true", help="skip the single-VM context runs")
    p.add_argument("--order", choices=["alternate", "ab", "ba"], default="alternate",
                   help="paddock (a) / bare (b) order within a round; alternate = AB, BA, AB, ... "
                        "to cancel order effects [%(default)s]")
    args = p.parse_args()
    paddockd, paddock, image_dir = bl.binaries(args)
    bl.install_signal_handlers()
    cleanup = bl.Cleanup(args.keep_temp)
    names = [f"v{i}" for i in range(1, args.vms + 1)]
    try:
        tmp = cleanup.tmpdir("paddock-bench-sm.")
        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, os.path.join(tmp, "state")).start()
        for n in names:
            bl.define_vm(d, n, memory_mib=args.memory, disk_mib=args.disk)
        bl.log(f"capturing the QEMU argvs from a paddock start of {args.vms} VMs ...")
        d.cli("vm", "start", "--wait-ready", *names, timeout=600)
        specs = []
        for n in names:
            argv = bl._proc_cmdline(bl.vm_runtime(d, n)["pid"])
            if not argv or "qemu-system" not in argv[0]:
                raise RuntimeError(f"cannot read QEMU argv of {n}")
            specs.append(argv)
        bl.stop_vms(d, names)
        specs = [bl.rewrite_argv(a, d.state_dir, n, os.path.join(tmp, "bare", n))
                 for a, n in zip(specs, names)]

        A, B, a1, b1 = [], [], [], []
        for i in range(args.warmup + args.trials):
            warm = i < args.warmup
            tag = "warm-up" if warm else f"round {i - args.warmup + 1}/{args.trials}"
            bare_first = args.order == "ba" or (args.order == "alternate" and (i - args.warmup) % 2 == 1)
            if bare_first:
                gb = bare_group(cleanup, specs)
                ga = paddock_group(d, names)
            else:
                ga = paddock_group(d, names)
                gb = bare_group(cleanup, specs)
            msg = (f"{tag}: {args.vms} VMs paddock {ga['total']:.2f}s  bare {gb['total']:.2f}s  "
                   f"ratio {ga['total'] / gb['total']:.3f}")
            if not warm:
                A.append(ga)
                B.append(gb)
                if not args.no_single:
                    sa = paddock_group(d, names[:1])
                    sb = bare_group(cleanup, specs[:1])
                    a1.append(sa)
                    b1.append(sb)
                    msg += (f" | 1 VM paddock {sa['total']:.2f}s bare {sb['total']:.2f}s")
            bl.log(msg)

        for n in names:
            d.api.call("DELETE", f"/v1/vms/{n}?force=true")
        d.shutdown()

        def summ(rows):
            return {k: bl.summary([r[k] for r in rows]) for k in rows[0]} if rows else {}

        result = {
            "benchmark": "start_many",
            "machine": bl.machine_facts(specs[0][0][0]),
            "config": {"vms": args.vms, "memory_mib": args.memory, "disk_mib": args.disk,
                       "trials": args.trials, "warmup": args.warmup,
                       "order": args.order + " (10-VM groups), then a(1) b(1) per round"},
            "paddock_10": summ(A), "bare_10": summ(B),
            "pair_ratio_10": bl.summary([x["total"] / y["total"] for x, y in zip(A, B)]),
            "goal": 1.05,
        }
        result["ratio_10"] = result["paddock_10"]["total"]["median"] / result["bare_10"]["total"]["median"]
        result["meets_goal"] = result["ratio_10"] <= 1.05
        if a1:
            result["paddock_1"] = summ(a1)
            result["bare_1"] = summ(b1)
            result["pair_ratio_1"] = bl.summary([x["total"] / y["total"] for x, y in zip(a1, b1)])
            result["ratio_1"] = result["paddock_1"]["total"]["median"] / result["bare_1"]["total"]["median"]
        if args.json:
            print(json.dumps(result, indent=2))
            return 0

        m = result["machine"]
        print(f"concurrent start of {args.vms} VMs (1 vCPU, {args.memory} MiB, {args.disk} MiB disk "
              f"each), {args.trials} rounds after {args.warmup} warm-up")
        print(f"machine: {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}; {bl.loadavg_text()} at the end")
        print()
        rows = []

        def row(label, s):
            rows.append([label, f"{s['median']:.3f}", f"{s['min']:.3f}", f"{s['max']:.3f}"])

        row(f"paddock vm start --wait-ready ({args.vms} VMs)", result["paddock_10"]["total"])
        row(f"bare QEMU x{args.vms} (baseline)", result["bare_10"]["total"])
        row("ratio per round (paddock/bare)", result["pair_ratio_10"])
        if a1:
            row("context: paddock, 1 VM", result["paddock_1"]["total"])
            row("context: bare QEMU, 1 VM", result["bare_1"]["total"])
            row("context: ratio per round, 1 VM", result["pair_ratio_1"])
        print(bl.fmt_table(["seconds", "median", "min", "max"], rows))
        print()
        print(f"RATIO paddock/bare, {args.vms} VMs (median/median): {result['ratio_10']:.3f}   "
              f"goal <= 1.05: {'MET' if result['meets_goal'] else 'NOT MET'}")
        if a1:
            print(f"RATIO paddock/bare, 1 VM (median/median): {result['ratio_1']:.3f}")
        print()
        P, Bm = result["paddock_10"], result["bare_10"]
        rows = [
            ["last QEMU process created", f"{P['last_spawn']['median']:.3f}", f"{Bm['last_spawn']['median']:.3f}"],
            ["first VM ready", f"{P['first_ready']['median']:.3f}", f"{Bm['first_ready']['median']:.3f}"],
            ["last VM ready", f"{P['last_ready']['median']:.3f}", f"{Bm['last_ready']['median']:.3f}"],
            ["last ready -> CLI exit", f"{P['last_ready_to_exit']['median']:.3f}", "-"],
            ["QEMU CPU seconds per VM (at all-ready)", f"{P['qemu_cpu_per_vm']['median']:.2f}",
             f"{Bm['qemu_cpu_per_vm']['median']:.2f}"],
            ["paddockd CPU seconds during the start", f"{P['paddockd_cpu']['median']:.2f}", "-"],
            ["CPU of helper processes paddockd ran", f"{P['helper_cpu']['median']:.2f}", "-"],
            ["mean guest uptime= at ready", f"{P['mean_guest_uptime']['median']:.2f}",
             f"{Bm['mean_guest_uptime']['median']:.2f}"],
        ]
        print(f"where the time goes, {args.vms} VMs (medians, seconds since the CLI / first Popen):")
        print(bl.fmt_table(["phase", "paddock", "bare"], rows))
        return 0
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
