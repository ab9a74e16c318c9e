#!/usr/bin/env python3
"""Guest-to-guest TCP throughput on one internal paddock network vs native veth, same tool.

Everything runs in network namespaces this script creates (see net_common.py); no traffic
leaves the machine.

  A (paddock): two tiny VMs (1 vCPU, 256 MiB) on an internal network (a Linux bridge and two
    TAPs inside paddockd's namespace). Guest `a` sends, guest `b` receives:
        a:  dd if=/dev/zero bs=64k count=N | nc -l -p PORT &
        b:  time nc A_IP PORT </tmp/f >/dev/null       (/tmp/f: a FIFO held open by a sleep)
    The receiver connects, the sender's nc relays dd's output, exits at EOF and closes the
    connection, so the receiver's busybox `time` (10 ms resolution) spans connect -> last byte.
    The receiver must not read EOF on its stdin (busybox nc quits on stdin EOF), hence the FIFO.
  B (native): the same busybox 1.35 dd + nc commands run by the host in two namespaces joined
    by a veth pair (`ip netns exec`), timed the same way (busybox `time` around the receiver).
    Both guests are paused (`vm pause`) meanwhile, so their idle TCG load does not slow it.
  C (context, --no-guest-lo disables it): the same transfer over `lo` inside guest `a` (both
    ends share the guest's one vCPU): what the guest CPU alone allows under TCG.

Each trial checks that the receiver's interface counted at least the payload in received bytes
(paddock's nic_stats for the guest, `ip -s` on the veth natively).
Trials are interleaved A B C, A B C, ... after --warmup rounds.
RATIO = median(A) / median(B) (throughput, higher is better, so < 1 means slower than native).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import net_common as nc  # noqa: E402

SUBNET, IP_A, IP_B = "10.90.0.0/24", "10.90.0.11", "10.90.0.12"
VETH_A, VETH_B = "10.99.0.1", "10.99.0.2"
MIB = 1 << 20


def parse_real(text):
    """busybox time: 'real\\t0m 5.41s' or 'real\\t1h 2m 3.04s'."""
    m = re.search(r"real\s+(?:(\d+)h\s*)?(\d+)m\s*([\d.]+)s", text)
    if not m:
        raise RuntimeError(f"no 'real' line in: {text!r}")
    return int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def nic_rx_bytes(d, vm):
    return d.api.call("GET", f"/v1/vms/{vm}")["nic_stats"][0]["rx_bytes"]


def guest_trial(d, i, mib, tok):
    port = 5100 + i
    count = mib * MIB // 65536
    rx0 = nic_rx_bytes(d, "b")
    d.console_send("a", f"dd if=/dev/zero bs=64k count={count} 2>/dev/null | nc -l -p {port} &\n")
    rc, out = d.guest_run(
        "b", f"sleep 100000 >/tmp/f & sp=$!; time nc {IP_A} {port} </tmp/f >/dev/null; "
             "kill $sp", f"{tok}G{i}", timeout=900)
    secs = parse_real(out)
    rx = nic_rx_bytes(d, "b") - rx0
    if rx < count * 65536:
        raise RuntimeError(f"guest trial {i}: b received {rx} bytes < payload {count * 65536}")
    return count * 65536 / MIB / secs, secs


def guest_lo_trial(d, i, mib, tok):
    port = 5600 + i
    count = mib * MIB // 65536
    rc, out = d.guest_run(
        "a", f"sleep 100000 >/tmp/f & sp=$!; "
             f"dd if=/dev/zero bs=64k count={count} 2>/dev/null | nc -l -p {port} & sleep 1; "
             f"time nc 127.0.0.1 {port} </tmp/f >/dev/null; kill $sp", f"{tok}L{i}",
        timeout=900)
    secs = parse_real(out)
    return count * 65536 / MIB / secs, secs


def veth_rx_bytes(ns, dev):
    j = json.loads(nc.sh(["ip", "-n", ns.name, "-s", "-j", "link", "show", dev]).stdout)
    return j[0]["stats64"]["rx"]["bytes"]


def vm_action(d, names, verb):
    for n in names:
        r = d.api.call("POST", f"/v1/vms/{n}/actions/{verb}", {}, timeout=60)
        if r.get("id") and r.get("status") == "running":
            d.api.wait_operation(r["id"], timeout=60)


def native_trial(nsa, nsb, i, mib):
    port = 5100 + i
    count = mib * MIB // 65536
    rx0 = veth_rx_bytes(nsb, "vb")
    sender = subprocess.Popen(nsa.exec_argv(
        ["busybox", "sh", "-c",
         f"busybox dd if=/dev/zero bs=64k count={count} 2>/dev/null | busybox nc -l -p {port}"]),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while f":{port} " not in nsa.run(["ss", "-Hltn"], check=False).stdout:
            if time.monotonic() > deadline or sender.poll() is not None:
                raise RuntimeError("native nc listener did not come up")
            time.sleep(0.01)
        with tempfile.TemporaryFile() as err:
            recv = subprocess.Popen(nsb.exec_argv(
                ["busybox", "time", "busybox", "nc", VETH_A, str(port)]),
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
            try:
                recv.wait(timeout=600)  # stdin stays open (never EOF) until nc is done
            finally:
                recv.stdin.close()
                if recv.poll() is None:
                    recv.kill()
                    recv.wait()
            err.seek(0)
            secs = parse_real(err.read().decode(errors="replace"))
        sender.wait(timeout=30)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
    rx = veth_rx_bytes(nsb, "vb") - rx0
    if rx < count * 65536:
        raise RuntimeError(f"native trial {i}: received {rx} bytes < payload {count * 65536}")
    return count * 65536 / MIB / secs, secs


def main():
    p = bl.base_parser(__doc__.splitlines()[0], trials=5)
    p.add_argument("--guest-mib", type=int, default=16,
                   help="MiB sent guest to guest per trial [%(default)s]")
    p.add_argument("--native-mib", type=int, default=256,
                   help="MiB sent natively per trial (more, so that the 10 ms resolution of "
                        "busybox time does not matter) [%(default)s]")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first [%(default)s]")
    p.add_argument("--no-pause", action="store_true",
                   help="keep the (idle) guests running during the native trials; by default "
                        "they are paused so that their idle TCG load does not slow the baseline")
    p.add_argument("--no-guest-lo", action="store_true", help="skip the in-guest loopback runs")
    args = p.parse_args()
    paddockd, paddock, image_dir = bl.binaries(args)
    nb = nc.NetBench(args.keep_temp)
    t_begin = time.monotonic()
    try:
        tok = nb.tag.upper()
        ns = nb.netns("pd")
        nsa, nsb = nb.netns("a"), nb.netns("b")
        # veth pair created inside namespace a, peer created directly in namespace b.
        nsa.ip("link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", nsb.name)
        nsa.ip("addr", "add", f"{VETH_A}/24", "dev", "va")
        nsb.ip("addr", "add", f"{VETH_B}/24", "dev", "vb")
        nsa.ip("link", "set", "va", "up")
        nsb.ip("link", "set", "vb", "up")

        tmp = nb.cleanup.tmpdir("paddock-bench-nt.")
        d = nb.daemon(ns, paddockd, paddock, image_dir, tmp)
        d.cli("network", "create", "lan", "--subnet", SUBNET)
        for name, ip in (("a", IP_A), ("b", IP_B)):
            d.cli("vm", "create", name, "--memory", "256M", "--nic", f"network=lan,ip={ip}")
        bl.log("starting guests a and b ...")
        d.cli("vm", "start", "a", "b", "--wait-ready")
        for name, ip in (("a", IP_A), ("b", IP_B)):
            d.wait_console(name, rf"PADDOCK-NET eth0 ip={re.escape(ip)}/24 via=dhcp")
        for name in ("a", "b"):
            rc, out = d.guest_run(name, "mkfifo /tmp/f", f"{tok}F{name}")
            if rc != 0:
                raise RuntimeError(f"mkfifo in {name}: {out}")
        bl.log(f"guests up with DHCP addresses; {bl.loadavg_text()}")

        res = {"guest": [], "native": [], "guest_lo": []}
        secs = {"guest": [], "native": [], "guest_lo": []}
        for i in range(args.warmup + args.trials):
            warm = i < args.warmup
            r = {"guest": guest_trial(d, i, args.guest_mib, tok)}
            if not args.no_pause:
                vm_action(d, ["a", "b"], "pause")
            try:
                r["native"] = native_trial(nsa, nsb, i, args.native_mib)
            finally:
                if not args.no_pause:
                    vm_action(d, ["a", "b"], "resume")
            if not args.no_guest_lo:
                r["guest_lo"] = guest_lo_trial(d, i, args.guest_mib, tok)
            bl.log(("warm-up " if warm else f"trial {i - args.warmup + 1}: ") + ", ".join(
                f"{k} {v[0]:.2f} MiB/s ({v[1]:.2f} s)" for k, v in r.items()))
            if not warm:
                for k, v in r.items():
                    res[k].append(v[0])
                    secs[k].append(v[1])

        gs, ns_ = bl.summary(res["guest"]), bl.summary(res["native"])
        ratio = gs["median"] / ns_["median"]
        out = {
            "benchmark": "net_throughput",
            "machine": bl.machine_facts(),
            "params": {"trials": args.trials, "warmup": args.warmup,
                       "paused_guests_during_native": not args.no_pause,
                       "guest_mib": args.guest_mib, "native_mib": args.native_mib},
            "guest_mib_s": gs, "native_mib_s": ns_,
            "guest_lo_mib_s": bl.summary(res["guest_lo"]) if res["guest_lo"] else None,
            "seconds": {k: bl.summary(v) for k, v in secs.items() if v},
            "ratio_guest_over_native": ratio,
            "wall_s": time.monotonic() - t_begin,
        }
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            rows = [nc.stats_row(f"guest a -> b, paddock network ({args.guest_mib} MiB)",
                                 res["guest"], lambda v: f"{v:.2f}"),
                    nc.stats_row(f"native ns -> ns, veth ({args.native_mib} MiB)",
                                 res["native"], lambda v: f"{v:.1f}")]
            if res["guest_lo"]:
                rows.append(nc.stats_row(f"context: inside guest a, lo ({args.guest_mib} MiB)",
                                         res["guest_lo"], lambda v: f"{v:.2f}"))
            print("TCP throughput, busybox dd | nc, MiB/s (higher is better)")
            print(bl.fmt_table(["path", "median", "min", "max", "n"], rows))
            print(f"\nRATIO guest/native = {ratio:.4f}  (1/{1 / ratio:.0f})")
            if res["guest_lo"]:
                print(f"guest network path vs in-guest loopback: "
                      f"{gs['median'] / bl.summary(res['guest_lo'])['median']:.2f}")
            print(f"{bl.loadavg_text()}; wall {out['wall_s']:.0f} s")
    finally:
        problems = nb.teardown()
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
