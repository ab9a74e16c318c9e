#!/usr/bin/env python3
"""What monitoring costs: paddockd's CPU with N running VMs sampled every second vs not sampled.

N tiny VMs (1 vCPU, 128 MiB, 64 MiB disk, no NIC) run throughout. Each round restarts paddockd
twice over the same state dir (the VMs keep running; paddockd re-adopts them):
  A (baseline): --stats-interval 3600s, so the collector samples once at start and then sleeps;
  B (1 s):      --stats-interval 1s.
After a settle time, paddockd's CPU time (utime+stime of all its threads plus the helper processes
it reaped, /proc) is read over a
window of W seconds in each. Cost of sampling = (B - A) / W, in percent of one core, and per VM.
The order alternates per round (A B, B A, ...). Goal (issue 4): 100 VMs cost <= 1 % of one core,
i.e. <= 0.01 % per VM. Also reported: the size of one
VM's history at 1 s sampling once full (rows bound by retention x measured bytes per row).
"""

import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def cpu(pid):
    return bl.cpu_seconds(pid) + bl.child_cpu_seconds(pid)


def phase(cleanup, paddockd, paddock, image_dir, state, interval, settle, window):
    d = bl.Daemon(cleanup, paddockd, paddock, image_dir, state,
                  extra_args=["--stats-interval", interval]).start()
    try:
        time.sleep(settle)
        # paddockd's own threads and the helper processes it has reaped (`ip`, ...).
        c0, t0 = cpu(d.pid), time.monotonic()
        time.sleep(window)
        c1, t1 = cpu(d.pid), time.monotonic()
        live = d.api.call("GET", "/v1/stats/live")
        sampled = sum(1 for v in live.get("vms", {}).values() if "cpu_percent" in v)
    finally:
        # SIGTERM only: the VMs keep running for the next phase.
        d.proc.terminate()
        d.proc.wait(timeout=30)
        cleanup.popens = [p for p in cleanup.popens if p is not d.proc]
        if d in cleanup.daemons:
            cleanup.daemons.remove(d)
    # paddockd has closed the store, so the WAL is checkpointed into metrics.db.
    size, rows, series = os.path.getsize(os.path.join(state, "metrics.db")), 0, 0
    with sqlite3.connect(os.path.join(state, "metrics.db")) as db:
        rows = db.execute("SELECT count(*) FROM points").fetchone()[0]
        series = db.execute("SELECT count(*) FROM series WHERE object LIKE 'vm/%'").fetchone()[0]
    return {"cpu_s": c1 - c0, "seconds": t1 - t0, "vms_sampled": sampled,
            "bytes_per_row": size / max(rows, 1), "vm_series": series}


def main():
    p = bl.base_parser(__doc__.split("\n")[0], trials=3)
    p.add_argument("--vms", type=int, default=20, help="running VMs [%(default)s]")
    p.add_argument("--window", type=float, default=30, help="measured seconds per phase [%(default)s]")
    p.add_argument("--settle", type=float, default=5, help="seconds after each start [%(default)s]")
    args = p.parse_args()
    bl.install_signal_handlers()
    paddockd, paddock, image_dir = bl.binaries(args)
    cleanup = bl.Cleanup(args.keep_temp)
    state = None
    try:
        tmp = cleanup.tmpdir("paddock-bench-collector.")
        state = os.path.join(tmp, "state")
        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, state,
                      extra_args=["--stats-interval", "3600s"]).start()
        names = [f"m{i}" for i in range(1, args.vms + 1)]
        for n in names:
            bl.define_vm(d, n, memory_mib=128, disk_mib=64)
        for i in range(0, len(names), 10):
            bl.log(f"starting VMs {i + 1}-{min(i + 10, len(names))} of {len(names)}")
            d.cli("vm", "start", "--wait-ready", *names[i:i + 10])
        d.proc.terminate()
        d.proc.wait(timeout=30)
        cleanup.popens = [q for q in cleanup.popens if q is not d.proc]
        cleanup.daemons.remove(d)

        A, B = [], []
        for r in range(args.trials):
            order = ("3600s", "1s") if r % 2 == 0 else ("1s", "3600s")
            for interval in order:
                res = phase(cleanup, paddockd, paddock, image_dir, state, interval, args.settle,
                            args.window)
                (A if interval == "3600s" else B).append(res)
                bl.log(f"round {r + 1}/{args.trials} interval {interval}: paddockd "
                       f"{100 * res['cpu_s'] / res['seconds']:.3f} % of a core, "
                       f"{res['vms_sampled']} VMs sampled")

        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, state).start()
        for n in names:
            d.api.call("DELETE", f"/v1/vms/{n}?force=true")
        d.shutdown()
        state = None  # nothing of ours runs any more

        a = [100 * x["cpu_s"] / x["seconds"] for x in A]
        b = [100 * x["cpu_s"] / x["seconds"] for x in B]
        cost = [y - x for x, y in zip(a, b)]
        # The most rows one VM's series hold at 1 s sampling: raw for 1 h, then the rollups.
        rows_per_series = 3600 + 288 + 720 + 365
        series_per_vm = B[-1]["vm_series"] / args.vms
        bound = [rows_per_series * series_per_vm * x["bytes_per_row"] for x in B]
        result = {
            "benchmark": "collector_cost",
            "machine": bl.machine_facts(),
            "config": {"vms": args.vms, "window_s": args.window, "trials": args.trials},
            "baseline_percent_core": bl.summary(a),
            "sampling_1s_percent_core": bl.summary(b),
            "cost_percent_core": bl.summary(cost),
            "cost_percent_core_per_vm": bl.summary([c / args.vms for c in cost]),
            "series_per_vm": series_per_vm,
            "db_bytes_per_vm_bound_at_1s": bl.summary(bound),
        }
        per100 = result["cost_percent_core_per_vm"]["median"] * 100
        result["projected_100_vms_percent_core"] = per100
        result["meets_goal"] = per100 <= 1.0
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        m = result["machine"]
        print(f"collector cost with {args.vms} running VMs, {args.trials} rounds of "
              f"{args.window:.0f} s per phase")
        print(f"machine: {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}; {bl.loadavg_text()} at the end")
        print()
        rows = []
        for label, s in (("paddockd, not sampling (baseline)", result["baseline_percent_core"]),
                         ("paddockd, sampling every 1 s", result["sampling_1s_percent_core"]),
                         ("cost of sampling", result["cost_percent_core"]),
                         ("cost per VM", result["cost_percent_core_per_vm"])):
            rows.append([label, f"{s['median']:.4f}", f"{s['min']:.4f}", f"{s['max']:.4f}"])
        print(bl.fmt_table(["% of one core", "median", "min", "max"], rows))
        print()
        print(f"paddockd CPU, sampling/baseline: {result['sampling_1s_percent_core']['median']:.3f} % "
              f"vs {result['baseline_percent_core']['median']:.3f} % of one core")
        print(f"projected cost of 100 VMs at 1 s: {per100:.2f} % of one core   goal <= 1 %: "
              f"{'MET' if result['meets_goal'] else 'NOT MET'}")
        g = result["db_bytes_per_vm_bound_at_1s"]["median"]
        print(f"metrics.db per VM at 1 s sampling, at most: {g / 1048576:.1f} MiB "
              f"({series_per_vm:.0f} series x {rows_per_series} rows, "
              f"{B[-1]['bytes_per_row']:.0f} bytes per row measured)")
        return 0
    except bl.Interrupted:
        return 130
    finally:
        # Interrupted between phases, the VMs run without a daemon: one more daemon stops them.
        if state and not cleanup.daemons and os.path.isdir(state):
            try:
                bl.Daemon(cleanup, paddockd, paddock, image_dir, state).start()
            except Exception as e:  # noqa: BLE001
                bl.log(f"cleanup: {e}")
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
