"""Shared helpers for the Paddock benchmarks (stdlib only).

Everything a benchmark starts (paddockd, QEMU processes it launches by hand) is
registered in a Cleanup object and torn down in `finally`, on Ctrl-C and on
SIGTERM/SIGHUP. Processes are only ever killed by the pid we got when we
started them (or, for QEMUs paddockd started, by the pid paddockd reported
and only after checking that its cmdline points into our private state dir).
"""

import argparse
import http.client
import json
import os
import re
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

READY_MARKER = b"PADDOCK-READY"
DEFAULT_BUILD = "/work/main/build"


# --------------------------------------------------------------------------- CLI options

def uptime_of(line):
    """The guest's uptime from its readiness line "PADDOCK-READY hostname=X uptime=S"."""
    m = re.search(r"uptime=([0-9.]+)", line or "")
    return float(m.group(1)) if m else float("nan")


def base_parser(description, trials):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--build-dir", default=DEFAULT_BUILD,
                   help="Paddock build tree (src/paddockd, src/paddock, test-images) [%(default)s]")
    p.add_argument("--image-dir", default=None,
                   help="guest image dir [BUILD/test-images]")
    p.add_argument("--trials", type=int, default=trials, help="measured trials [%(default)s]")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--keep-temp", action="store_true", help="do not delete the temp dir (debugging)")
    return p


def binaries(args):
    paddockd = os.path.join(args.build_dir, "src", "paddockd")
    paddock = os.path.join(args.build_dir, "src", "paddock")
    image_dir = args.image_dir or os.path.join(args.build_dir, "test-images")
    for f in (paddockd, paddock):
        if not os.access(f, os.X_OK):
            sys.exit(f"missing {f}: build first (cmake --build {args.build_dir} -j2)")
    if not os.path.isdir(os.path.join(image_dir, "tiny")):
        sys.exit(f"missing tiny image in {image_dir}")
    return paddockd, paddock, image_dir


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- statistics

def pct(values, p):
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summary(values):
    return {
        "n": len(values),
        "median": statistics.median(values) if values else float("nan"),
        "min": min(values) if values else float("nan"),
        "max": max(values) if values else float("nan"),
        "p99": pct(values, 99),
        "values": values,
    }


def fmt_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w)
                     for i, (h, w) in enumerate(zip(headers, widths)))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def machine_facts(qemu="qemu-system-x86_64"):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        qv = subprocess.run([qemu, "--version"], capture_output=True, text=True,
                            timeout=10).stdout.splitlines()[0]
    except Exception:  # noqa: BLE001
        qv = "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "qemu": qv, "kernel": os.uname().release,
            "loadavg": os.getloadavg()}


def loadavg_text():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


# --------------------------------------------------------------------------- cleanup

class Interrupted(Exception):
    pass


def _raise_interrupted(signum, _frame):
    raise Interrupted(f"signal {signum}")


def install_signal_handlers():
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _raise_interrupted)


def _proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def _pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


class Cleanup:
    """Tracks temp dirs and processes we own; tears everything down in reverse order."""

    def __init__(self, keep_temp=False):
        self.keep_temp = keep_temp
        self.popens = []      # subprocess.Popen objects we started (bare QEMUs, paddockd)
        self.tmpdirs = []
        self.daemons = []

    def tmpdir(self, prefix):
        d = tempfile.mkdtemp(prefix=prefix)
        self.tmpdirs.append(d)
        return d

    def add(self, popen):
        self.popens.append(popen)
        return popen

    def kill_popen(self, p):
        if p.poll() is None:
            try:
                p.kill()
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if p in self.popens:
            self.popens.remove(p)

    def run(self):
        # Ignore further Ctrl-C while tearing down, so the teardown itself completes.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            daemon_procs = [d.proc for d in self.daemons]
            for p in list(self.popens):
                if p not in daemon_procs:
                    self.kill_popen(p)
            for d in reversed(self.daemons):
                try:
                    d.shutdown()
                except Exception as e:  # noqa: BLE001
                    log(f"cleanup: {e}")
            for p in list(self.popens):
                self.kill_popen(p)
            if not self.keep_temp:
                for d in self.tmpdirs:
                    shutil.rmtree(d, ignore_errors=True)
            else:
                log(f"kept temp dirs: {self.tmpdirs}")
        finally:
            signal.signal(signal.SIGINT, old)


# --------------------------------------------------------------------------- HTTP over AF_UNIX

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=300):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Api:
    def __init__(self, sock_path):
        self.sock_path = sock_path

    def raw(self, method, path, body=None, timeout=300):
        """One request on a fresh connection (like the CLI). Returns (status, bytes)."""
        conn = UnixHTTPConnection(self.sock_path, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def call(self, method, path, body=None, ok=(200, 201, 202, 204), timeout=300):
        status, data = self.raw(method, path, body, timeout)
        if status not in ok:
            raise RuntimeError(f"{method} {path} -> {status}: {data[:300]!r}")
        return json.loads(data) if data else {}

    def wait_operation(self, op_id, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            op = self.call("GET", f"/v1/operations/{op_id}?wait=5")
            st = op.get("status")
            if st == "succeeded":
                return op.get("result", {})
            if st in ("failed", "cancelled"):
                raise RuntimeError(f"operation {op_id} {st}: {op.get('error')}")
        raise RuntimeError(f"operation {op_id} timed out")


# --------------------------------------------------------------------------- paddockd

class Daemon:
    def __init__(self, cleanup, paddockd, paddock, image_dir, state_dir, log_level="info",
                 wrapper=None, extra_args=None):
        self.cleanup = cleanup
        self.extra_args = list(extra_args or [])  # more paddockd options, e.g. --stats-interval
        self.wrapper = list(wrapper or [])  # e.g. ["strace", "-f", ...]: paddockd runs under it
        self.real_pid = None
        self.paddockd, self.paddock, self.image_dir = paddockd, paddock, image_dir
        self.state_dir = state_dir
        self.sock = os.path.join(state_dir, "paddockd.sock")
        self.api = Api(self.sock)
        self.log_path = os.path.join(os.path.dirname(state_dir.rstrip("/")),
                                     os.path.basename(state_dir.rstrip("/")) + ".paddockd.log")
        self.proc = None
        self.log_level = log_level

    def start(self, timeout=30):
        self.logf = open(self.log_path, "ab")
        self.proc = self.cleanup.add(subprocess.Popen(
            self.wrapper + [self.paddockd, "--state-dir", self.state_dir,
                            "--image-dir", self.image_dir, "--log-level", self.log_level,
                            *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
            start_new_session=True))
        if not self.wrapper:
            self.real_pid = self.proc.pid
        self.cleanup.daemons.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"paddockd exited ({self.proc.returncode}); see {self.log_path}")
            try:
                self.api.raw("GET", "/v1/host", timeout=5)
            except OSError:
                time.sleep(0.02)
                continue
            self.real_pid = self.proc.pid if not self.wrapper else self._find_child()
            return self
        raise RuntimeError("paddockd did not come up")

    def _find_child(self):
        for ent in os.listdir("/proc"):
            if not ent.isdigit():
                continue
            try:
                with open(f"/proc/{ent}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(rest[1]) == self.proc.pid and (_proc_cmdline(int(ent)) or [""])[0] == self.paddockd:
                return int(ent)
        raise RuntimeError("cannot find paddockd under its wrapper")

    @property
    def pid(self):
        return self.real_pid

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def cli(self, *args, check=True, timeout=600):
        """Runs the CLI; returns (wall seconds, CompletedProcess)."""
        argv = [self.paddock, "--host", self.sock, *args]
        t0 = time.monotonic()
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        dt = time.monotonic() - t0
        if check and cp.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({cp.returncode}): {cp.stderr.strip()}")
        return dt, cp

    def our_qemu(self, pid):
        """True if pid is a live QEMU whose argv points into our state dir."""
        argv = _proc_cmdline(pid)
        return bool(argv) and "qemu-system" in argv[0] and any(
            self.state_dir in a for a in argv) and _pid_alive(pid)

    def running_qemu_pids(self):
        pids = []
        run = os.path.join(self.state_dir, "run")
        if os.path.isdir(run):
            for name in os.listdir(run):
                try:
                    with open(os.path.join(run, name, "qemu.pid")) as f:
                        pid = int(f.read().strip())
                except (OSError, ValueError):
                    continue
                if self.our_qemu(pid):
                    pids.append(pid)
        return pids

    def shutdown(self):
        """Force off + delete every VM, SIGTERM paddockd, kill leftover QEMUs of ours."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                vms = self.api.call("GET", "/v1/vms", timeout=30).get("vms", [])
                for vm in vms:
                    if vm.get("runtime", {}).get("pid") or vm.get("state") not in ("stopped", "crashed"):
                        try:
                            r = self.api.call("POST", f"/v1/vms/{vm['name']}/actions/stop", {},
                                              timeout=30)
                            if r.get("id") and r.get("status") == "running":
                                self.api.wait_operation(r["id"], timeout=30)
                        except Exception:  # noqa: BLE001
                            pass
            except Exception as e:  # noqa: BLE001
                log(f"cleanup: could not list VMs: {e}")
        leftovers = self.running_qemu_pids()
        if self.proc.poll() is None and self.wrapper and not self.real_pid:
            try:
                self.real_pid = self._find_child()
            except RuntimeError:
                pass
        if self.proc.poll() is None:
            if self.real_pid and _pid_alive(self.real_pid) and \
                    (_proc_cmdline(self.real_pid) or [""])[0] == self.paddockd:
                os.kill(self.real_pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in leftovers + self.running_qemu_pids():
            if self.our_qemu(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.cleanup.popens = [p for p in self.cleanup.popens if p is not self.proc]
        if self in self.cleanup.daemons:
            self.cleanup.daemons.remove(self)
        self.proc = None


def define_vm(daemon, name, memory_mib=256, disk_mib=64, vcpus=1):
    daemon.api.call("POST", "/v1/vms", {"name": name, "memory_mib": memory_mib, "vcpus": vcpus,
                                        "image": "tiny",
                                        "disks": [{"name": "root", "size_mib": disk_mib}]})


# --------------------------------------------------------------------------- bare QEMU

class Qmp:
    """A QMP connection to a QEMU we drive by hand."""

    def __init__(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        self.f = self.s.makefile("rwb")
        self.f.readline()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg).encode() + b"\n")
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError(f"QMP closed during {name}")
            reply = json.loads(line)
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise RuntimeError(f"QMP {name}: {reply['error']}")

    def close(self):
        self.s.close()



def capture_argv(daemon, name):
    """Starts NAME through paddock (not timed), reads QEMU's exact argv, stops it again."""
    daemon.cli("vm", "start", name, "--wait-ready")
    vm = daemon.api.call("GET", f"/v1/vms/{name}")
    pid = vm["runtime"]["pid"]
    argv = _proc_cmdline(pid)
    if not argv or "qemu-system" not in argv[0]:
        raise RuntimeError(f"pid {pid} is not QEMU: {argv}")
    daemon.cli("vm", "stop", name)
    return argv


def rewrite_argv(argv, state_dir, name, private_dir):
    """Points every path under paddock's state dir (run dir, disks) at private_dir.

    STATE/run/NAME/x -> PRIVATE/x ; STATE/disks/NAME/d.qcow2 -> PRIVATE/d.qcow2 (copied).
    Returns (new argv, paths dict).
    """
    run_dir = os.path.join(state_dir, "run", name)
    disk_dir = os.path.join(state_dir, "disks", name)
    os.makedirs(private_dir, mode=0o700, exist_ok=True)
    # A VM on shared storage has no disk folder here: its argv keeps pointing at the shared files.
    for f in os.listdir(disk_dir) if os.path.isdir(disk_dir) else []:
        shutil.copy2(os.path.join(disk_dir, f), os.path.join(private_dir, f))
    out = []
    for a in argv:
        a = a.replace(run_dir + "/", private_dir + "/").replace(disk_dir + "/", private_dir + "/")
        out.append(a)
    leaked = [a for a in out if state_dir in a]
    if leaked:
        raise RuntimeError(f"argv still points into the paddock state dir: {leaked}")
    m = re.search(r"path=([^,]+)", next(a for a in out if a.startswith("socket,id=console0")))
    paths = {
        "console": m.group(1),
        "qmp": os.path.join(private_dir, "qmp.sock"),
        "pidfile": os.path.join(private_dir, "qemu.pid"),
        "log": os.path.join(private_dir, "qemu.log"),
        "dir": private_dir,
    }
    return out, paths


class BareQemu:
    """A QEMU we launch ourselves and whose console we read until the readiness line."""

    def __init__(self, cleanup, argv, paths):
        self.cleanup, self.argv, self.paths = cleanup, argv, paths
        self.proc = None
        self.sock = None
        self.buf = b""
        self.t0 = self.t_connect = self.t_ready = None
        self.ready_line = None

    def launch(self):
        for k in ("console", "qmp", "pidfile"):
            try:
                os.unlink(self.paths[k])
            except FileNotFoundError:
                pass
        logf = open(self.paths["log"], "ab")
        self.t0 = time.monotonic()
        # Same as paddockd's spawnDetached: stdin /dev/null, stdout+stderr to a log, new session.
        self.proc = self.cleanup.add(subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True))
        logf.close()

    def try_connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.paths["console"])
        except OSError:
            s.close()
            if self.proc.poll() is not None:
                raise RuntimeError(f"bare QEMU exited {self.proc.returncode}; see {self.paths['log']}")
            return False
        s.setblocking(False)
        self.sock = s
        self.t_connect = time.monotonic()
        return True

    def on_readable(self):
        """Returns True once the readiness line is complete."""
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return False
        if not chunk:
            raise RuntimeError("bare QEMU console closed before the readiness line")
        self.buf += chunk
        i = self.buf.find(READY_MARKER)
        if i >= 0:
            j = self.buf.find(b"\n", i)
            if j >= 0:
                self.t_ready = time.monotonic()
                self.ready_line = self.buf[i:j].decode(errors="replace").strip()
                return True
        if len(self.buf) > 1 << 20:
            self.buf = self.buf[-4096:]
        return False

    def stop(self):
        if self.sock:
            self.sock.close()
            self.sock = None
        if self.proc:
            self.cleanup.kill_popen(self.proc)
            self.proc = None


def run_bare_group(cleanup, specs, timeout=180, poll_s=0.005):
    """Launches one BareQemu per (argv, paths) back to back; returns them when all are ready."""
    qs = [BareQemu(cleanup, a, p) for a, p in specs]
    t_start = time.monotonic()
    for q in qs:
        q.launch()
    sel = selectors.DefaultSelector()
    pending_connect = list(qs)
    not_ready = set(range(len(qs)))
    deadline = t_start + timeout
    try:
        while not_ready:
            if time.monotonic() > deadline:
                raise RuntimeError("bare QEMU(s) did not print the readiness line in time")
            for q in list(pending_connect):
                if q.try_connect():
                    pending_connect.remove(q)
                    sel.register(q.sock, selectors.EVENT_READ, qs.index(q))
            for key, _ in sel.select(timeout=poll_s if pending_connect else 1.0):
                i = key.data
                if qs[i].on_readable():
                    not_ready.discard(i)
                    sel.unregister(qs[i].sock)
    finally:
        sel.close()
    return t_start, qs


def proc_start_monotonic(pid):
    """When pid was exec'd/forked, on time.monotonic()'s scale (10 ms resolution).

    /proc/PID/stat starttime counts CLOCK_BOOTTIME ticks; convert via the current offset.
    """
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[19])
    start_boot = ticks / os.sysconf("SC_CLK_TCK")
    return time.monotonic() - (time.clock_gettime(time.CLOCK_BOOTTIME) - start_boot)


def cpu_seconds(pid):
    """utime + stime of a whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_cpu_seconds(pid):
    """cutime + cstime: CPU of pid's children it has already reaped (helper processes)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def wall_to_mono(ms):
    """Converts an epoch-ms timestamp (paddockd's *_at_ms) to time.monotonic() scale."""
    return ms / 1000.0 - (time.time() - time.monotonic())


def stop_vms(daemon, names, timeout=60):
    """Forces VMs off through the API (all requests first, then waits for the operations)."""
    ops = []
    for n in names:
        r = daemon.api.call("POST", f"/v1/vms/{n}/actions/stop", {}, timeout=timeout)
        if r.get("id") and r.get("status") == "running":
            ops.append(r["id"])
    for op in ops:
        daemon.api.wait_operation(op, timeout=timeout)


def vm_runtime(daemon, name):
    return daemon.api.call("GET", f"/v1/vms/{name}")["runtime"]
