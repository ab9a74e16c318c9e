#!/usr/bin/env python3
"""Start-to-ready of one VM: `paddock vm start NAME --wait-ready` vs the same QEMU run by hand.

A (paddock): wall time of the CLI process `paddock vm start NAME --wait-ready`, then `vm stop`.
B (bare):    the exact argv paddockd used (read from /proc/PID/cmdline), with its run-dir and
             disk paths moved to a private temp dir, launched with subprocess.Popen; time from
             Popen until the console socket delivered the full `PADDOCK-READY ...` line.
Trials are interleaved A B A B ... after one warm-up of each. Goal: median A / median B <= 1.05.

For every paddock trial a breakdown is derived from timestamps that cost nothing to collect:
CLI start -> runtime.started_at_ms (CLI exec, API request, operation thread, accel choice),
started_at -> QEMU process creation (/proc/PID/stat starttime, 10 ms resolution),
QEMU creation -> runtime.ready_at_ms (QEMU + guest boot as seen by paddockd's console reader),
ready_at -> CLI exit (wake-up of the long-poll, response, CLI exit). Bare trials report the same
Popen -> QEMU creation and creation -> ready split. The guest's own `uptime=` from the ready line
shows whether the guest itself booted slower (CPU contention) or the host side added time.
"""

import json
import os
import re
import subprocess
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def uptime_of(line):
    m = re.search(r"uptime=([0-9.]+)", line or "")
    return float(m.group(1)) if m else float("nan")


def paddock_trial(d, name):
    cpu0 = cpu_seconds(d.pid)
    t0 = time.monotonic()
    cp = subprocess.run([d.paddock, "--host", d.sock, "vm", "start", name, "--wait-ready"],
                        capture_output=True, text=True, timeout=300)
    t1 = time.monotonic()
    if cp.returncode != 0:
        raise RuntimeError(f"vm start failed: {cp.stderr.strip()}")
    cpu1 = cpu_seconds(d.pid)
    vm = d.api.call("GET", f"/v1/vms/{name}")
    rt = vm["runtime"]
    q_start = bl.proc_start_monotonic(rt["pid"])
    started = bl.wall_to_mono(rt["started_at_ms"])
    ready = bl.wall_to_mono(rt["ready_at_ms"])
    d.cli("vm", "stop", name)
    return {
        "total": t1 - t0,
        "cli_to_started": started - t0,
        "started_to_qemu": q_start - started,
        "qemu_to_ready": ready - q_start,
        "ready_to_cli_exit": t1 - ready,
        "guest_uptime": uptime_of(rt.get("ready_line")),
        "daemon_cpu": cpu1 - cpu0,
    }


def bare_trial(cleanup, argv, paths):
    t0, (q,) = bl.run_bare_group(cleanup, [(argv, paths)])
    q_start = bl.proc_start_monotonic(q.proc.pid)
    res = {
        "total": q.t_ready - t0,
        "popen_to_qemu": q_start - t0,
        "qemu_to_ready": q.t_ready - q_start,
        "console_connect": q.t_connect - t0,
        "guest_uptime": uptime_of(q.ready_line),
    }
    q.stop()
    return res


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=7)
    p.add_argument("--warmup", type=int, default=1, help="warm-up trials of each kind [%(default)s]")
    p.add_argument("--memory", type=int, default=256, help="MiB [%(default)s]")
    p.add_argument("--disk", type=int, default=64, help="root disk MiB [%(default)s]")
    args = p.parse_args()
    paddockd, paddock, image_dir = bl.binaries(args)
    bl.install_signal_handlers()
    cleanup = bl.Cleanup(args.keep_temp)
    name = "bench1"
    try:
        tmp = cleanup.tmpdir("paddock-bench-str.")
        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, os.path.join(tmp, "state")).start()
        bl.define_vm(d, name, memory_mib=args.memory, disk_mib=args.disk)
        bl.log("capturing QEMU argv from a paddock start ...")
        argv = bl.capture_argv(d, name)
        bare_argv, paths = bl.rewrite_argv(argv, d.state_dir, name, os.path.join(tmp, "bare"))

        A, B = [], []
        for i in range(args.warmup + args.trials):
            warm = i < args.warmup
            a = paddock_trial(d, name)
            b = bare_trial(cleanup, bare_argv, paths)
            tag = "warm-up" if warm else f"trial {i - args.warmup + 1}/{args.trials}"
            bl.log(f"{tag}: paddock {a['total']:.3f}s (guest uptime {a['guest_uptime']:.2f})  "
                   f"bare {b['total']:.3f}s (guest uptime {b['guest_uptime']:.2f})  "
                   f"ratio {a['total'] / b['total']:.3f}")
            if not warm:
                A.append(a)
                B.append(b)

        d.cli("vm", "delete", name, "--force")
        d.shutdown()

        def col(rows, k):
            return [r[k] for r in rows]

        pair_ratios = [a["total"] / b["total"] for a, b in zip(A, B)]
        sa, sb = bl.summary(col(A, "total")), bl.summary(col(B, "total"))
        result = {
            "benchmark": "start_to_ready",
            "machine": bl.machine_facts(argv[0]),
            "config": {"trials": args.trials, "warmup": args.warmup, "memory_mib": args.memory,
                       "disk_mib": args.disk, "vcpus": 1, "order": "A B A B (interleaved)"},
            "qemu_argv": argv,
            "paddock": {k: bl.summary(col(A, k)) for k in A[0]},
            "bare": {k: bl.summary(col(B, k)) for k in B[0]},
            "pair_ratio": bl.summary(pair_ratios),
            "ratio_of_medians": sa["median"] / sb["median"],
            "goal": 1.05,
        }
        result["meets_goal"] = result["ratio_of_medians"] <= 1.05
        if args.json:
            print(json.dumps(result, indent=2))
            return 0

        m = bl.machine_facts(argv[0])
        print(f"start-to-ready, 1 VM (1 vCPU, {args.memory} MiB, {args.disk} MiB disk), "
              f"{args.trials} interleaved trials after {args.warmup} warm-up")
        print(f"machine: {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}, accel {argv[argv.index('-accel') + 1]}")
        print()
        rows = []
        for label, s in (("paddock vm start --wait-ready", sa), ("bare QEMU (baseline)", sb)):
            rows.append([label, f"{s['median']:.3f}", f"{s['min']:.3f}", f"{s['max']:.3f}"])
        pr = result["pair_ratio"]
        rows.append(["ratio per pair (paddock/bare)", f"{pr['median']:.3f}", f"{pr['min']:.3f}",
                     f"{pr['max']:.3f}"])
        print(bl.fmt_table(["seconds", "median", "min", "max"], rows))
        print()
        print(f"RATIO paddock/bare (median/median): {result['ratio_of_medians']:.3f}   "
              f"goal <= 1.05: {'MET' if result['meets_goal'] else 'NOT MET'}")
        print()
        print("where the time goes (medians, seconds):")
        rows = [
            ["CLI start -> started_at (CLI, API, op thread)", f"{result['paddock']['cli_to_started']['median']:.3f}", "-"],
            ["started_at / Popen -> QEMU process exists", f"{result['paddock']['started_to_qemu']['median']:.3f}",
             f"{result['bare']['popen_to_qemu']['median']:.3f}"],
            ["QEMU process -> ready line seen", f"{result['paddock']['qemu_to_ready']['median']:.3f}",
             f"{result['bare']['qemu_to_ready']['median']:.3f}"],
            ["ready line -> CLI exit", f"{result['paddock']['ready_to_cli_exit']['median']:.3f}", "-"],
            ["guest uptime= in the ready line", f"{result['paddock']['guest_uptime']['median']:.2f}",
             f"{result['bare']['guest_uptime']['median']:.2f}"],
            ["paddockd CPU time during the start", f"{result['paddock']['daemon_cpu']['median']:.2f}", "-"],
        ]
        print(bl.fmt_table(["phase", "paddock", "bare"], rows))
        return 0
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
