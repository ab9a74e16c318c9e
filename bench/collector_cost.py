#!/usr/bin/env python3
"""What monitoring costs: paddockd's CPU with N running VMs sampled every second vs not sampled.

N tiny VMs (1 vCPU, 128 MiB, 64 MiB disk, no NIC) run. Each round restarts paddockd twice over
the same state dir (the VMs keep running; paddockd re-adopts them):
  A (baseline): --stats-interval 3600s, so the collector samples once at start and then sleeps;
  B (1 s):      --stats-interval 1s.
After a settle time, paddockd's CPU time (utime+stime of all its threads plus the helper processes
it reaped, /proc) is read over a window of W seconds in each. Cost of sampling = B - A, in percent
of one core. The order alternates per round (A B, B A, ...). Then all but --fewer VMs are stopped
and the rounds are repeated: the slope between the two counts is the cost per VM, and what is left
at 0 VMs the fixed cost of sampling the host. Projected for 100 VMs: fixed + 100 x per VM; goal
(issue 4): <= 1 % of one core. Also reported: the size of one
VM's history at 1 s sampling once full: 3600 raw points per series (1 h) at the bytes per raw
point measured in the run's metrics.db, plus 288 + 720 + 365 rollup rows per series at the bytes
per row measured on a scratch copy of the rollup table filled that full.
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
    with sqlite3.connect(os.path.join(state, "metrics.db")) as db:
        series = db.execute("SELECT count(*) FROM series WHERE object LIKE 'vm/%'").fetchone()[0]
        raw_points = db.execute("SELECT coalesce(sum(length(data)), 0) / 12 FROM raw").fetchone()[0]
        raw_bytes = table_bytes(db, "raw")
        rollup_sql = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'points'").fetchone()[0]
    return {"cpu_s": c1 - c0, "seconds": t1 - t0, "vms_sampled": sampled,
            "bytes_per_raw_point": raw_bytes / max(raw_points, 1), "vm_series": series,
            "rollup_sql": rollup_sql}


def table_bytes(db, name):
    """Bytes of the pages a table (and its automatic indexes) takes up in the file."""
    return db.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ? OR name LIKE ?",
                      (name, f"sqlite_autoindex_{name}_%")).fetchone()[0]


ROLLUPS = ((300, 288), (3600, 720), (86400, 365))  # step s, rows kept (1 day, 30 days, 1 year)


def rollup_bytes_per_row(create_sql, series):
    """Bytes per row of the rollup table when `series` series hold all their rollups."""
    db = sqlite3.connect(":memory:")
    db.execute(create_sql)
    now = 1_800_000_000_000
    rows = ((s, step * 1000, now - i * step * 1000, 1234.5678 + i * 0.37)
            for s in range(1, series + 1) for step, keep in ROLLUPS for i in range(keep))
    db.executemany("INSERT INTO points(series, step, ts, value) VALUES (?, ?, ?, ?)", rows)
    db.commit()
    count = db.execute("SELECT count(*) FROM points").fetchone()[0]
    return table_bytes(db, "points") / count


def main():
    p = bl.base_parser(__doc__.split("\n")[0], trials=3)
    p.add_argument("--vms", type=int, default=20, help="running VMs [%(default)s]")
    p.add_argument("--fewer", type=int, default=-1,
                   help="then measure again with this many still running, to tell the cost per VM "
                        "from the fixed cost (0: do not) [--vms / 2]")
    p.add_argument("--window", type=float, default=30, help="measured seconds per phase [%(default)s]")
    p.add_argument("--settle", type=float, default=5, help="seconds after each start [%(default)s]")
    args = p.parse_args()
    fewer = args.vms // 2 if args.fewer < 0 else args.fewer
    if not 0 <= fewer < args.vms:
        p.error("--fewer must be less than --vms")
    counts = [args.vms, fewer] if fewer else [args.vms]
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

        rounds = {}  # VM count -> (baseline results, 1 s results)
        for count in counts:
            if count < len(names):
                d = bl.Daemon(cleanup, paddockd, paddock, image_dir, state,
                              extra_args=["--stats-interval", "3600s"]).start()
                bl.log(f"stopping VMs {count + 1}-{len(names)}")
                for n in names[count:]:
                    d.cli("vm", "stop", n)
                d.proc.terminate()
                d.proc.wait(timeout=30)
                cleanup.popens = [q for q in cleanup.popens if q is not d.proc]
                cleanup.daemons.remove(d)
            A, B = [], []
            for r in range(args.trials):
                order = ("3600s", "1s") if r % 2 == 0 else ("1s", "3600s")
                for interval in order:
                    res = phase(cleanup, paddockd, paddock, image_dir, state, interval,
                                args.settle, args.window)
                    (A if interval == "3600s" else B).append(res)
                    bl.log(f"{count} VMs, round {r + 1}/{args.trials} interval "
                           f"{interval}: paddockd {100 * res['cpu_s'] / res['seconds']:.3f} % "
                           f"of a core, {res['vms_sampled']} VMs sampled")
            rounds[count] = (A, B)

        d = bl.Daemon(cleanup, paddockd, paddock, image_dir, state).start()
        for n in names:
            d.api.call("DELETE", f"/v1/vms/{n}?force=true")
        d.shutdown()
        state = None  # nothing of ours runs any more

        def percent(results):
            return [100 * x["cpu_s"] / x["seconds"] for x in results]

        per_count = {}
        for count, (A, B) in rounds.items():
            a, b = percent(A), percent(B)
            cost = [y - x for x, y in zip(a, b)]
            per_count[count] = {"baseline_percent_core": bl.summary(a),
                                "sampling_1s_percent_core": bl.summary(b),
                                "cost_percent_core": bl.summary(cost)}
        median_cost = {n: r["cost_percent_core"]["median"] for n, r in per_count.items()}
        if len(counts) == 2:
            # Two VM counts separate what each VM adds from what sampling the host costs anyway.
            many, few = counts
            per_vm = (median_cost[many] - median_cost[few]) / (many - few)
            fixed = median_cost[many] - many * per_vm
        else:
            per_vm, fixed = median_cost[counts[0]] / counts[0], 0.0
        per100 = fixed + 100 * per_vm
        # The most one VM's series hold at 1 s sampling: raw points for 1 h, then the rollups.
        B = rounds[counts[0]][1]
        rollup_rows = sum(keep for _, keep in ROLLUPS)
        series_per_vm = B[-1]["vm_series"] / args.vms
        per_row = rollup_bytes_per_row(B[-1]["rollup_sql"], B[-1]["vm_series"])
        bound = [series_per_vm * (3600 * x["bytes_per_raw_point"] + rollup_rows * per_row)
                 for x in B]
        result = {
            "benchmark": "collector_cost",
            "machine": bl.machine_facts(),
            "config": {"vms": counts, "window_s": args.window, "trials": args.trials},
            "by_vm_count": {str(n): r for n, r in per_count.items()},
            "cost_percent_core_per_vm": per_vm,
            "cost_percent_core_fixed": fixed,
            "projected_100_vms_percent_core": per100,
            "meets_goal": per100 <= 1.0,
            "series_per_vm": series_per_vm,
            "bytes_per_raw_point": bl.summary([x["bytes_per_raw_point"] for x in B]),
            "bytes_per_rollup_row": per_row,
            "db_bytes_per_vm_bound_at_1s": bl.summary(bound),
        }
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        m = result["machine"]
        print(f"collector cost with {' and '.join(map(str, counts))} running VMs, {args.trials} "
              f"rounds of {args.window:.0f} s per phase")
        print(f"machine: {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}; {bl.loadavg_text()} at the end")
        print()
        rows = []
        for count, r in per_count.items():
            for label, key in (("paddockd, not sampling (baseline)", "baseline_percent_core"),
                               ("paddockd, sampling every 1 s", "sampling_1s_percent_core"),
                               ("cost of sampling", "cost_percent_core")):
                s = r[key]
                rows.append([str(count), label, f"{s['median']:.4f}", f"{s['min']:.4f}",
                             f"{s['max']:.4f}"])
        print(bl.fmt_table(["VMs", "% of one core", "median", "min", "max"], rows))
        print()
        if len(counts) == 2:
            print(f"cost per VM (slope between {counts[1]} and {counts[0]} VMs): {per_vm:.4f} % "
                  f"of one core; without VMs: {fixed:.3f} %")
        else:
            print(f"cost per VM (cost / {counts[0]}, host sampling included): {per_vm:.4f} % of one core")
        print(f"projected cost of 100 VMs at 1 s: {per100:.2f} % of one core   goal <= 1 %: "
              f"{'MET' if result['meets_goal'] else 'NOT MET'}")
        g = result["db_bytes_per_vm_bound_at_1s"]["median"]
        print(f"metrics.db per VM at 1 s sampling, at most: {g / 1048576:.1f} MiB "
              f"({series_per_vm:.0f} series x (3600 raw points x "
              f"{result['bytes_per_raw_point']['median']:.1f} B + {rollup_rows} rollup rows x "
              f"{per_row:.1f} B), bytes measured)")
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
