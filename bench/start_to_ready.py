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


def paddock_trial(d, name):
    cpu0, ccpu0 = bl.cpu_seconds(d.pid), bl.child_cpu_seconds(d.pid)
    t0 = time.monotonic()
    cp = subprocess.run([d.paddock, "--host", d.sock, "vm", "start", name, "--wait-ready"],
                        capture_output=True, text=True, timeout=300)
    t1 = time.monotonic()
    if cp.returncode != 0:
        raise RuntimeError(f"vm start failed: {cp.stderr.strip()}")
    cpu1, ccpu1 = bl.cpu_seconds(d.pid), bl.child_cpu_seconds(d.pid)
    vm = d.api.call("GET", f"/v1/vms/{name}")
    rt = vm["runtime"]
    q_cpu = bl.cpu_seconds(rt["pid"])
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
        "guest_uptime": bl.uptime_of(rt.get("ready_line")),
        "daemon_cpu": cpu1 - cpu0,
        "helper_cpu": ccpu1 - ccpu0,
        "qemu_cpu": q_cpu,
    }


def bare_trial(cleanup, argv, paths):
    t0, (q,) = bl.run_bare_group(cleanup, [(argv, paths)])
    q_cpu = bl.cpu_seconds(q.proc.pid)
    q_start = bl.proc_start_monotonic(q.proc.pid)
    res = {
        "total": q.t_ready - t0,
        "popen_to_qemu": q_start - t0,
        "qemu_to_ready": q.t_ready - q_start,
        "console_connect": q.t_connect - t0,
        "guest_uptime": bl.uptime_of(q.ready_line),
        "qemu_cpu": q_cpu,
    }
    q.stop()
    return res


STRACE_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")


def parse_strace(path):
    """Returns [(pid, epoch_s, syscall, args_text, result_text)], joining unfinished/resumed."""
    events, pending = [], {}
    with open(path, errors="replace") as f:
        for line in f:
            m = STRACE_LINE.match(line.rstrip("\n"))
            if not m:
                continue
            pid, ts, rest = int(m.group(1)), float(m.group(2)), m.group(3)
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (ts, rest[: -len("<unfinished ...>")])
                continue
            r = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
            if r and pid in pending:
                ts0, head = pending.pop(pid)
                rest, ts = head + r.group(2), ts0
            c = re.match(r"(\w+)\((.*)\)\s+=\s+(.*)$", rest)
            if c:
                events.append((pid, ts, c.group(1), c.group(2), c.group(3)))
    return events


def traced_breakdown(cleanup, paddockd, paddock, image_dir, state_dir, name, tmp):
    """One extra (untimed for the statistics) start with paddockd running under strace.

    strace -f --seccomp-bpf only stops on the traced syscalls, so paddockd and the QEMU it
    spawns run at nearly full speed. All times are epoch seconds, comparable with the CLI's
    start/exit (time.time()) and with runtime.started_at_ms / ready_at_ms.
    """
    out = os.path.join(tmp, "paddockd.strace")
    wrapper = ["strace", "-f", "--seccomp-bpf", "-ttt", "-o", out,
               "-e", "trace=connect,accept4,execve"]
    d = bl.Daemon(cleanup, paddockd, paddock, image_dir, state_dir, wrapper=wrapper).start()
    try:
        paddock_trial(d, name)  # warm-up under strace (accelerator choice etc.)
        os.truncate(out, 0)
        t0 = time.time()
        cp = subprocess.run([paddock, "--host", d.sock, "vm", "start", name, "--wait-ready"],
                            capture_output=True, text=True, timeout=300)
        t1 = time.time()
        if cp.returncode != 0:
            raise RuntimeError(cp.stderr)
        rt = d.api.call("GET", f"/v1/vms/{name}")["runtime"]
        d.cli("vm", "stop", name)
    finally:
        d.shutdown()
    ev = [e for e in parse_strace(out) if t0 <= e[1] <= t1]
    sock = d.sock

    def first(pred):
        return next((e for e in ev if pred(e)), None)

    accept = first(lambda e: e[2] == "accept4" and not e[4].startswith("-1"))
    execs = [e for e in ev if e[2] == "execve" and "qemu-system" in e[3]]
    exec_ok = next((e for e in execs if e[4].startswith("0")), None)
    qmp = [e for e in ev if e[2] == "connect" and "qmp.sock" in e[3]]
    qmp_ok = next((e for e in qmp if e[4].startswith("0")), None)
    con = [e for e in ev if e[2] == "connect" and "console.sock" in e[3]]
    con_ok = next((e for e in con if e[4].startswith("0")), None)
    helpers = [e for e in ev if e[2] == "execve" and e[4].startswith("0")
               and "qemu-system" not in e[3] and os.path.basename(paddock) not in e[3].split(",")[0]]
    helper_names = [os.path.basename(e[3].split(",")[0].strip('"')) for e in helpers]
    started, ready = rt["started_at_ms"] / 1000.0, rt["ready_at_ms"] / 1000.0
    marks = [("CLI process started (python Popen)", t0)]
    if accept:
        marks.append(("paddockd accepted the POST /actions/start", accept[1]))
    marks.append(("runtime.started_at (accel chosen, about to spawn)", started))
    if helpers:
        marks.append((f"helper processes run by paddockd: first ({len(helpers)} execs)", helpers[0][1]))
        marks.append(("helper processes: last", helpers[-1][1]))
    if execs:
        marks.append(("QEMU spawn: first execve attempt", execs[0][1]))
    if exec_ok:
        marks.append(("QEMU execve succeeded", exec_ok[1]))
    if qmp:
        marks.append((f"QMP connect: first attempt ({len(qmp)} attempts)", qmp[0][1]))
    if qmp_ok:
        marks.append(("QMP connected", qmp_ok[1]))
    if con_ok:
        marks.append((f"console connected ({len(con)} attempts)", con_ok[1]))
    marks.append(("ready line seen by paddockd (ready_at)", ready))
    marks.append(("CLI exited", t1))
    marks.sort(key=lambda m: m[1])
    rows, prev = [], t0
    for label, t in marks:
        rows.append({"event": label, "t_s": t - t0, "delta_s": t - prev})
        prev = t
    return {"events": rows, "total_s": t1 - t0, "guest_uptime": bl.uptime_of(rt.get("ready_line")),
            "helpers": helper_names, "qmp_connect_attempts": len(qmp),
            "console_connect_attempts": len(con)}


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=7)
    p.add_argument("--warmup", type=int, default=1, help="warm-up trials of each kind [%(default)s]")
    p.add_argument("--memory", type=int, default=256, help="MiB [%(default)s]")
    p.add_argument("--disk", type=int, default=64, help="root disk MiB [%(default)s]")
    p.add_argument("--trace", action="store_true",
                   help="also run one extra start with paddockd under strace (--seccomp-bpf) and "
                        "print a timeline: API accept, spawn, QMP connect, console connect, ready")
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

        d.shutdown()
        trace = None
        if args.trace:
            bl.log("traced start (paddockd under strace) ...")
            trace = traced_breakdown(cleanup, paddockd, paddock, image_dir, d.state_dir, name, tmp)

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
        if trace:
            result["trace"] = trace
        if args.json:
            print(json.dumps(result, indent=2))
            return 0

        m = bl.machine_facts(argv[0])
        print(f"start-to-ready, 1 VM (1 vCPU, {args.memory} MiB, {args.disk} MiB disk), "
              f"{args.trials} interleaved trials after {args.warmup} warm-up")
        print(f"machine: {m['nproc']} CPUs, {m['cpu']}, {m['qemu']}, accel {argv[argv.index('-accel') + 1]}; {bl.loadavg_text()} at the end")
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
            ["QEMU CPU seconds at ready", f"{result['paddock']['qemu_cpu']['median']:.2f}",
             f"{result['bare']['qemu_cpu']['median']:.2f}"],
            ["paddockd CPU time during the start", f"{result['paddock']['daemon_cpu']['median']:.2f}", "-"],
            ["CPU of helper processes paddockd ran", f"{result['paddock']['helper_cpu']['median']:.2f}", "-"],
        ]
        print(bl.fmt_table(["phase", "paddock", "bare"], rows))
        if trace:
            print()
            print(f"timeline of one extra start with paddockd under strace "
                  f"(total {trace['total_s']:.3f}s, guest uptime {trace['guest_uptime']:.2f}):")
            print(bl.fmt_table(["event", "t (s)", "+delta (s)"],
                               [[e["event"], f"{e['t_s']:.4f}", f"{e['delta_s']:.4f}"]
                                for e in trace["events"]]))
            if trace["helpers"]:
                print(f"helper programs paddockd exec'd during the start: {' '.join(trace['helpers'])}")
            print("(strace stops paddockd at each traced syscall, so the deltas above are upper "
                  "bounds; the untraced medians above are the real costs)")
        return 0
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
