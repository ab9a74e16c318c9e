#!/usr/bin/env python3
"""100 NICs on one paddock network: VM create latency, `network show`, DHCP reservations, TAPs.

Everything runs in one network namespace this script creates (see net_common.py); paddockd and
its bridge, TAPs and dnsmasq live in it. No traffic leaves the machine.

  Baseline (1 NIC): on a fresh internal network 10.92.0.0/24, --trials times: POST /v1/vms of
    one VM with 1 NIC (fixed IP), then delete it (untimed). Then, with that one VM defined:
    GET /v1/networks/lan and `paddock network show lan` latency (--show-trials each), and the
    number of DHCP reservations (lines of the dhcp-hostsfile paddock writes) and how often
    dnsmasq has re-read that file (its log line on each SIGHUP).
  Full (--vms x --nics-per-vm NICs, default 100 x 1): define the VMs (not started) one by one
    with POST /v1/vms, each NIC with a fixed IP; each create validates MACs/IPs against all NICs
    defined so far and rewrites dnsmasq's reservations. Reported: create latency p50/p99 of the
    creates holding the first 10 NICs vs the last 10 NICs; the same show latencies and
    reservation counts.
  Start (--start VMs, default 4) of the last VMs with --wait-ready: count TAP links
    (paddock's prefix, kind tun) in the namespace and their bridge master, wait for each
    guest's DHCP line with its reserved IP, stop them (`vm stop`, waiting for the operations),
    and check the TAPs are removed (counted when the stop operations return, then polled for
    up to 15 s).
Ratios: full / baseline (latency, lower is better).
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import net_common as nc  # noqa: E402

NET = "lan"


def vm_body(name, ips, disk_mib):
    return {"name": name, "memory_mib": 128, "vcpus": 1, "image": "tiny",
            "disks": [{"name": "root", "size_mib": disk_mib}],
            "nics": [{"network": NET, "ip": ip} for ip in ips]}


def timed_create(d, body):
    t0 = time.monotonic()
    status, resp = d.api.raw("POST", "/v1/vms", body)
    t = time.monotonic() - t0
    if status != 201:
        raise RuntimeError(f"POST /v1/vms {body['name']} -> {status}: {resp[:300]!r}")
    return t


def measure_show(d, trials, expect_nics):
    api, cli = [], []
    for _ in range(trials):
        t0 = time.monotonic()
        status, body = d.api.raw("GET", f"/v1/networks/{NET}")
        api.append(time.monotonic() - t0)
        if status != 200:
            raise RuntimeError(f"GET /v1/networks/{NET} -> {status}")
    n = len(json.loads(body)["nics"])
    if n != expect_nics:
        raise RuntimeError(f"network show lists {n} NICs, expected {expect_nics}")
    for _ in range(trials):
        t, _ = d.cli("network", "show", NET)
        cli.append(t)
    return {"api": bl.summary(api), "cli": bl.summary(cli), "nics": n, "bytes": len(body)}


def reservations(d, expect, timeout=10):
    """(reservation lines in paddock's dhcp-hostsfile, times dnsmasq has (re-)read that file).

    dnsmasq logs "read DIR/hosts" at start and on every SIGHUP paddock sends after rewriting
    the file; it does not log a count for dhcp-hostsfile, so the count comes from the file.
    """
    ndir = os.path.join(d.state_dir, "networks", NET)
    deadline = time.monotonic() + timeout
    while True:
        with open(os.path.join(ndir, "hosts")) as f:
            lines = sum(1 for line in f if line.strip())
        if lines == expect or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # let a pending SIGHUP be handled
    try:
        with open(os.path.join(ndir, "dnsmasq.log")) as f:
            reads = len(re.findall(r"dnsmasq-dhcp\[\d+\]: read \S*/hosts\s*$", f.read(), re.M))
    except OSError:
        reads = None
    return lines, reads


def taps(ns, prefix):
    """{tap: master} for paddock's TAP links (kind tun) in the namespace."""
    out = nc.sh(["ip", "-n", ns.name, "-d", "-j", "link", "show"]).stdout
    res = {}
    for link in json.loads(out):
        name = link.get("ifname", "")
        kind = link.get("linkinfo", {}).get("info_kind", "")
        if name.startswith(prefix + "t") and kind == "tun":
            res[name] = link.get("master", "")
    return res


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=20)
    p.add_argument("--vms", type=int, default=100, help="VMs to define [%(default)s]")
    p.add_argument("--nics-per-vm", type=int, default=1, help="NICs per VM [%(default)s]")
    p.add_argument("--show-trials", type=int, default=20,
                   help="network show calls (API and CLI each) [%(default)s]")
    p.add_argument("--start", type=int, default=4, help="VMs to start at the end [%(default)s]")
    p.add_argument("--disk", type=int, default=64, help="root disk MiB [%(default)s]")
    args = p.parse_args()
    total = args.vms * args.nics_per_vm
    if total > 240 or total < 20:
        sys.exit("need 20..240 NICs in total (one /24, fixed IPs from .11)")
    if args.start > args.vms:
        sys.exit("--start > --vms")
    paddockd, paddock, image_dir = bl.binaries(args)
    nb = nc.NetBench(args.keep_temp)
    t_begin = time.monotonic()
    try:
        ns = nb.netns("pd")
        tmp = nb.cleanup.tmpdir("paddock-bench-nm.")
        d = nb.daemon(ns, paddockd, paddock, image_dir, tmp)
        d.cli("network", "create", NET, "--subnet", "10.92.0.0/24")
        net = d.api.call("GET", f"/v1/networks/{NET}")
        prefix = net["bridge"][:6]  # "pdXXXX", the daemon's tag
        ip_of = lambda i: f"10.92.0.{11 + i}"  # noqa: E731

        # Warm-up: a few creates/deletes without timing.
        for w in range(3):
            timed_create(d, vm_body(f"warm{w}", [ip_of(0)], args.disk))
            d.api.call("DELETE", f"/v1/vms/warm{w}")

        bl.log(f"baseline: {args.trials} creates of a 1-NIC VM on an empty network ...")
        base_create = []
        for t in range(args.trials):
            base_create.append(timed_create(d, vm_body("base", [ip_of(0)], args.disk)))
            if t < args.trials - 1:
                d.api.call("DELETE", f"/v1/vms/base")
        base_show = measure_show(d, args.show_trials, 1)
        base_res = reservations(d, 1)
        d.api.call("DELETE", "/v1/vms/base")

        bl.log(f"defining {args.vms} VMs x {args.nics_per_vm} NIC(s) ...")
        create_t = []
        names = []
        for v in range(args.vms):
            name = f"vm{v:03d}"
            ips = [ip_of(v * args.nics_per_vm + j) for j in range(args.nics_per_vm)]
            create_t.append(timed_create(d, vm_body(name, ips, args.disk)))
            names.append(name)
        k10 = -(-10 // args.nics_per_vm)  # creates that hold the first/last 10 NICs
        first, last = create_t[:k10], create_t[-k10:]
        full_show = measure_show(d, args.show_trials, total)
        full_res = reservations(d, total)
        hosts_lines = open(os.path.join(d.state_dir, "networks", NET, "hosts")).read().split()
        bl.log(f"{total} NICs: {full_res[0]} reservations; dnsmasq has read the file "
               f"{full_res[1]} times")

        start_names = names[-args.start:] if args.start else []
        start_info = {}
        if start_names:
            bl.log(f"starting {', '.join(start_names)} ...")
            t_start, _ = d.cli("vm", "start", *start_names, "--wait-ready", timeout=900)
            tp = taps(ns, prefix)
            want = args.start * args.nics_per_vm
            on_bridge = sum(1 for m in tp.values() if m == net["bridge"])
            dhcp_ok = 0
            for n in start_names:
                v = names.index(n)
                for j in range(args.nics_per_vm):
                    ip = ip_of(v * args.nics_per_vm + j)
                    d.wait_console(n, rf"PADDOCK-NET eth{j} ip={re.escape(ip)}/24 via=dhcp",
                                   timeout=120)
                    dhcp_ok += 1
            leases = d.api.call("GET", f"/v1/networks/{NET}/leases")["leases"]
            bl.stop_vms(d, start_names)
            t_stopped = time.monotonic()
            tp_at_stop = taps(ns, prefix)  # right when the stop operations have succeeded
            tp_after = tp_at_stop
            while tp_after and time.monotonic() - t_stopped < 15:
                time.sleep(0.1)
                tp_after = taps(ns, prefix)
            gone_s = time.monotonic() - t_stopped if not tp_after else None
            start_info = {"vms": start_names, "start_wall_s": t_start, "taps_expected": want,
                          "taps": len(tp), "taps_on_bridge": on_bridge,
                          "dhcp_reserved_ip_bound": dhcp_ok, "leases": len(leases),
                          "taps_when_stop_returned": len(tp_at_stop),
                          "taps_gone_after_s": gone_s, "taps_after_stop": len(tp_after)}
            bl.log(f"start: {start_info}")
            if len(tp) != want or on_bridge != want or tp_after:
                raise RuntimeError(f"TAP check failed: {start_info}")

        p50 = lambda v: bl.summary(v)["median"]  # noqa: E731
        out = {
            "benchmark": "net_many_nics", "machine": bl.machine_facts(),
            "params": {"vms": args.vms, "nics_per_vm": args.nics_per_vm, "nics": total,
                       "trials": args.trials, "show_trials": args.show_trials},
            "baseline_1_nic": {"create_s": bl.summary(base_create), "show": base_show,
                               "reservations_file": base_res[0],
                               "dnsmasq_hosts_reads": base_res[1]},
            "full": {"create_first10_s": bl.summary(first), "create_last10_s": bl.summary(last),
                     "create_all_s": bl.summary(create_t), "show": full_show,
                     "reservations_file": full_res[0], "dnsmasq_hosts_reads": full_res[1],
                     "hosts_file_bytes": sum(len(x) + 1 for x in hosts_lines)},
            "start": start_info,
            "ratios": {"create_last10_over_1nic": p50(last) / p50(base_create),
                       "create_last10_over_first10": p50(last) / p50(first),
                       "show_api": full_show["api"]["median"] / base_show["api"]["median"],
                       "show_cli": full_show["cli"]["median"] / base_show["cli"]["median"]},
            "wall_s": time.monotonic() - t_begin,
        }
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            ms = lambda v: f"{v * 1000:.1f}"  # noqa: E731
            s_b, s_f, s_l = bl.summary(base_create), bl.summary(first), bl.summary(last)
            row = lambda lab, s, r="": [lab, ms(s["median"]), ms(s["p99"]), ms(s["min"]),  # noqa
                                        ms(s["max"]), s["n"], r]
            rows = [
                row("create, 1 NIC on the network (baseline)", s_b),
                row(f"create, first 10 NICs ({k10} VMs)", s_f,
                    f"{p50(first) / p50(base_create):.2f}"),
                row(f"create, last 10 NICs ({k10} VMs)", s_l,
                    f"{p50(last) / p50(base_create):.2f}"),
                row("GET /v1/networks/lan, 1 NIC", base_show["api"]),
                row(f"GET /v1/networks/lan, {total} NICs", full_show["api"],
                    f"{out['ratios']['show_api']:.2f}"),
                row("paddock network show, 1 NIC", base_show["cli"]),
                row(f"paddock network show, {total} NICs", full_show["cli"],
                    f"{out['ratios']['show_cli']:.2f}"),
            ]
            print(f"{total} NICs on one network ({args.vms} VMs x {args.nics_per_vm}), ms "
                  "(RATIO vs the 1-NIC baseline)")
            print(bl.fmt_table(["what", "p50", "p99", "min", "max", "n", "RATIO"], rows))
            print(f"\nlast 10 / first 10 NICs (p50): "
                  f"{out['ratios']['create_last10_over_first10']:.2f}")
            print(f"DHCP reservations (dhcp-hostsfile lines): 1-NIC baseline {base_res[0]}, at "
                  f"{total} NICs {full_res[0]}; dnsmasq (re-)reads of the file so far: "
                  f"{base_res[1]} / {full_res[1]}")
            if start_info:
                print(f"started {len(start_names)} VMs ({start_info['start_wall_s']:.1f} s): "
                      f"TAPs {start_info['taps']}/{start_info['taps_expected']}, on the bridge "
                      f"{start_info['taps_on_bridge']}, reserved IP bound by DHCP "
                      f"{start_info['dhcp_reserved_ip_bound']}, leases {start_info['leases']}, "
                      f"TAPs left when the stop operations returned "
                      f"{start_info['taps_when_stop_returned']}, after 15 s "
                      f"{start_info['taps_after_stop']}" + (
                          f" (all gone {gone_s:.1f} s after the stop)" if gone_s else ""))
            print(f"{bl.loadavg_text()}; wall {out['wall_s']:.0f} s")
    finally:
        problems = nb.teardown()
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
