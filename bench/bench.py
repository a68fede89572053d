#!/usr/bin/env python3
"""bench.py: the benchmark parts of bench/run, and the generator of bench/results.md.

Usage (bench/run sets the environment and calls this):
  bench.py part N [--quick]     run part N (1..8), write bench/out/part-N.json
  bench.py report               write bench/results.md from every bench/out/part-*.json

Environment: TRIP_RECEIVER (the trip-receiver binary), TRIP_BENCH_IMAGE (the workload image),
TRIP_BENCH_PEER (the prometheus-am-executor binary or its stand-in), TRIP_BENCH_PEER_KIND
(a sentence saying which), TRIP_BENCH_CMD (the command line, for results.md).

Everything runs on this machine: trip-receiver and the peer listen on 127.0.0.1, Docker is reached
through its Unix socket, the containers are FROM-scratch workload containers that are never
contacted over the network. Every container gets the labels trip.test=1 and
trip.bench.run=<run id> and a name starting with trip-bench-<run id>-; they are removed at the end
of each part, also on failure or Ctrl-C.
"""
import concurrent.futures
import contextlib
import datetime
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
FIRING = os.path.join(ROOT, "tests", "fixtures", "alertmanager-0.25-firing.json")
TOKEN = "bench-token"
RUN_ID = "%d%04d" % (os.getpid(), int(time.time()) % 10000)
PREFIX = "trip-bench-%s-" % RUN_ID
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------- statistics

def pct(xs, p):
    """Percentile p (0..100) of xs, linear interpolation between closest ranks."""
    s = sorted(xs)
    if not s:
        return None
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def dist(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "min": min(xs), "p50": pct(xs, 50), "p90": pct(xs, 90),
            "p95": pct(xs, 95), "p99": pct(xs, 99), "max": max(xs),
            "mean": sum(xs) / len(xs)}


# ---------------------------------------------------------------- Docker

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


_tls = threading.local()


def docker_socket():
    """The engine's Unix socket: $DOCKER_HOST (unix:// only), as the docker CLI and trip-receiver
    read it, else the host's."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host:
        raise RuntimeError("bench: DOCKER_HOST=%s: only unix:// is supported" % host)
    return "/var/run/docker.sock"


def docker_api(method, path, body=None):
    """One Docker Engine API call over the Unix socket (one keep-alive connection per thread)."""
    sock = docker_socket()
    conn = getattr(_tls, "docker", None)
    if conn is None or conn.unix_path != sock:
        if conn is not None:
            conn.close()
        conn = UnixHTTPConnection(sock)
        _tls.docker = conn
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        conn.request(method, "/v1.41" + path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        _tls.docker = None
        raise
    return r.status, (json.loads(raw) if raw and raw[:1] in b"{[" else raw)


def docker(*args, check=True):
    r = subprocess.run(["docker"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if check and r.returncode != 0:
        raise RuntimeError("docker %s: %s" % (" ".join(args[:3]), r.stderr.strip()))
    return r.stdout.strip()


def image():
    return os.environ.get("TRIP_BENCH_IMAGE", "trip-workload:test")


def run_container(name, extra=(), memory="32m", shares=512, managed=True):
    args = ["run", "-d", "--name", name, "--label", "trip.test=1",
            "--label", "trip.bench.run=" + RUN_ID, "--cpu-shares", str(shares),
            "--memory", memory]
    if managed:
        args += ["--label", "trip.enable=true"]
    args += list(extra) + [image()]
    return docker(*args)


def run_containers(names, workers=4, **kw):
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(lambda n: run_container(n, **kw), names))


def cleanup():
    """Removes every container of this run (by its run label and by name prefix)."""
    ids = set(docker("ps", "-aq", "--filter", "label=trip.bench.run=" + RUN_ID,
                     check=False).split())
    ids |= set(docker("ps", "-aq", "--filter", "name=^" + PREFIX, check=False).split())
    ids = sorted(ids)
    for i in range(0, len(ids), 50):
        docker("rm", "-f", *ids[i:i + 50], check=False)
    if ids:
        log("removed %d containers" % len(ids))


def host_pid(name):
    st, j = docker_api("GET", "/containers/%s/json" % name)
    return j["State"]["Pid"] if st == 200 else 0


class Events:
    """`docker events` for this run's containers, read on a thread; timestamps in ns."""

    def __init__(self):
        self.ev = []
        self.cond = threading.Condition()
        self.hooks = {}
        self.p = subprocess.Popen(
            ["docker", "events", "--format", "{{json .}}", "--filter", "type=container",
             "--filter", "label=trip.bench.run=" + RUN_ID],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        time.sleep(1.0)  # the stream is live once the daemon registered it

    def _read(self):
        for line in self.p.stdout:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            action = j.get("Action", j.get("status", ""))
            name = j.get("Actor", {}).get("Attributes", {}).get("name", "")
            tn = int(j.get("timeNano", 0))
            with self.cond:
                self.ev.append((tn, action, name))
                self.cond.notify_all()
            hook = self.hooks.get(action)
            if hook:
                hook(name, tn)

    def wait(self, name, action, after_ns, timeout=30.0):
        """First `action` event of container `name` at or after after_ns, or None on timeout."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for tn, a, n in self.ev:
                    if n == name and a == action and tn >= after_ns:
                        return tn
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def count(self, names, action):
        with self.cond:
            return sum(1 for _, a, n in self.ev if a == action and n in names)

    def close(self):
        self.p.terminate()
        self.p.wait()


# ---------------------------------------------------------------- processes

def free_port():
    """A port on 127.0.0.1 free a moment ago, below the kernel's ephemeral range, where outgoing
    connections and Docker's published ports cannot take it between the pick and the bind."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low <= 11000:
        low = 65536
    for _ in range(200):
        p = random.randrange(10000, low)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port found")


def http_call(port, method, path, body=None, token=TOKEN, timeout=60):
    """One HTTP request to 127.0.0.1:port. Returns (status, parsed JSON or text, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers["Content-Type"] = "application/json"
    t0 = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    raw = r.read()
    dt = time.perf_counter() - t0
    conn.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode(errors="replace")
    return r.status, parsed, dt


def pids_of(p):
    """A pid or a list of them (trip-receiver's privileged process and its HTTP process)."""
    return list(p) if isinstance(p, (list, tuple)) else [p]


def proc_children(pid):
    """The children of every thread of pid (the HTTP process is forked by whichever thread)."""
    kids = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return kids


def proc_status_kb(p, key):
    """The sum of a /proc/<pid>/status field (kB) over the pids."""
    total = 0
    for pid in pids_of(p):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
    return total


def proc_rss_kb(p):
    return proc_status_kb(p, "VmRSS")


def proc_rss_split_kb(p):
    """RssAnon and RssFile (shared libraries and the binary) from /proc/<pid>/status, PSS and
    private memory from smaps_rollup, each summed over the pids."""
    res = {}
    for pid in pids_of(p):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:", "RssShmem:", "Threads:")):
                    k, v = line.split(":")
                    res[k] = res.get(k, 0) + int(v.split()[0])
        # proportional and private memory: what the process costs beyond pages others share
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("Pss", "Pss_Anon", "Pss_File"):
                        res[k] = res.get(k, 0) + int(v.split()[0])
                    elif k in ("Private_Clean", "Private_Dirty"):
                        res["Private"] = res.get("Private", 0) + int(v.split()[0])
        except OSError:
            pass
    return res


def proc_hwm_kb(p):
    """Peak RSS, summed over the pids (an upper bound when they peaked at different times)."""
    return proc_status_kb(p, "VmHWM")


def proc_cpu_s(p, children=False):
    t = 0
    for pid in pids_of(p):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state): utime = 14, stime = 15, cutime = 16, cstime = 17
        t += int(fields[11]) + int(fields[12])
        if children:
            t += int(fields[13]) + int(fields[14])
    return t / CLK_TCK


LIVE = []  # every Receiver and Peer started, stopped by run_part whatever happens


class Receiver:
    """trip-receiver on 127.0.0.1:<free port>, logging to bench/out/<tag>.log."""

    def pids(self):
        """Its processes: the privileged one and its HTTP process (privilege separation)."""
        return [self.pid] + proc_children(self.pid)

    def __init__(self, tag, args=(), state_dir=None, binary=None):
        LIVE.append(self)
        self.tag = tag
        self.binary = binary
        self.port = free_port()
        self.state_dir = state_dir or os.path.join(OUT, "state-" + tag)
        if not state_dir:  # its own, empty: an earlier run's state would queue start-up jobs
            shutil.rmtree(self.state_dir, ignore_errors=True)
        os.makedirs(self.state_dir, exist_ok=True)
        self.log_path = os.path.join(OUT, tag + ".log")
        self.args = list(args)
        self.p = None

    def start(self, ready_timeout=60.0):
        """Starts it; returns seconds from exec to the first 200 on /readyz."""
        binary = self.binary or os.environ.get(
            "TRIP_RECEIVER", os.path.join(ROOT, "build-bench", "receiver", "trip-receiver"))
        # this run's containers only (--selector): never a user's stack or a test's beside it
        cmd = [binary, "--listen", "127.0.0.1:%d" % self.port, "--state-dir", self.state_dir,
               "--token", TOKEN, "--selector", "trip.bench.run=" + RUN_ID] + self.args
        logf = open(self.log_path, "a")
        t0 = time.perf_counter()
        self.p = subprocess.Popen(cmd, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        logf.close()
        end = time.monotonic() + ready_timeout
        while time.monotonic() < end:
            if self.p.poll() is not None:
                raise RuntimeError("trip-receiver exited (%s); see %s" % (self.p.returncode,
                                                                          self.log_path))
            try:
                st, _, _ = http_call(self.port, "GET", "/readyz", token=None, timeout=2)
                if st == 200:
                    return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.002)
        raise RuntimeError("trip-receiver not ready after %.0f s" % ready_timeout)

    @property
    def pid(self):
        return self.p.pid

    def call(self, method, path, body=None, timeout=60):
        return http_call(self.port, method, path, body, timeout=timeout)

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p = None


class Peer:
    """prometheus-am-executor (or its stand-in) on 127.0.0.1, running /bin/true per webhook."""

    def __init__(self):
        LIVE.append(self)
        self.p = None
        self.port = free_port()
        binary = os.environ.get("TRIP_BENCH_PEER", os.path.join(OUT, "amx-peer"))
        self.p = subprocess.Popen([binary, "-l", "127.0.0.1:%d" % self.port, "/bin/true"],
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(OUT, "peer.log"), "a"))
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                st, _, _ = http_call(self.port, "GET", "/_health", token=None, timeout=2)
                if st == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the peer did not answer on /_health")

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            self.p.wait()


def firing_body(name, alertname=None):
    with open(FIRING) as f:
        j = json.load(f)
    for a in j["alerts"]:
        a["labels"]["name"] = name
        if alertname:
            a["labels"]["alertname"] = alertname
    j["commonLabels"]["name"] = name
    j["groupLabels"]["name"] = name
    if alertname:
        j["commonLabels"]["alertname"] = alertname
        j["groupLabels"]["alertname"] = alertname
    return json.dumps(j)


def wrk(url, conns, seconds, names, token=""):
    threads = max(1, min(2, conns))
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--timeout", "5s",
           "-s", os.path.join(HERE, "webhook.lua"), url, "--", FIRING, ",".join(names), token]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=seconds + 60)
    m = re.search(r"^BENCHJSON (.*)$", r.stdout, re.M)
    if not m:
        raise RuntimeError("wrk printed no result:\n" + r.stdout)
    j = json.loads(m.group(1))
    j["req_s"] = j["requests"] / (j["duration_us"] / 1e6)
    j["errors"] = sum(j[k] for k in ("err_connect", "err_read", "err_write", "err_timeout"))
    j["ok_req_s"] = (j["requests"] - j["err_status"]) / (j["duration_us"] / 1e6)
    j["non2xx_pct"] = 100.0 * j["err_status"] / max(1, j["requests"])
    return j


def parse_deadline(s):
    """'2026-11-25T12:58:54.675Z' -> ns since the epoch."""
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    return int(d.timestamp() * 1000) * 1000000


def fnv_worker(name, workers):
    """The worker receiver/engine.c pinned a container to before its shared job queue (FNV-1a
    of the name); part 6 still splits its probes by it, to show the group that used to wait."""
    h = 1469598103934665603
    for ch in name.encode():
        h ^= ch
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h % workers


def log_durations(path, names):
    """duration_ms of the receiver's action log lines for the given containers, by action."""
    out = {}
    rx = re.compile(r'container=(\S+) action=(\S+) .*duration_ms=(\d+)')
    with open(path) as f:
        for line in f:
            m = rx.search(line)
            if m and m.group(1) in names:
                out.setdefault(m.group(2), []).append(int(m.group(3)))
    return out


def fsync_floor(directory, n):
    """What the write-ahead claim's save costs at least on this disk: a 4 KiB file written,
    fsync'd, renamed over the previous one and its directory fsync'd (atomic_file_write's steps),
    n times, in ms."""
    out = []
    path = os.path.join(directory, "fsync-probe.json")
    data = b"x" * 4096
    for _ in range(n):
        t0 = time.perf_counter()
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(path + ".tmp", path)
        dfd = os.open(directory, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        out.append((time.perf_counter() - t0) * 1000)
    os.unlink(path)
    return out


def metrics_hist(port, metric, label="kind"):
    """sum and count of a histogram per value of `label` from /metrics."""
    st, text, _ = http_call(port, "GET", "/metrics", token=None)
    res = {}
    for line in str(text).splitlines():
        m = re.match(r'%s_(sum|count)\{%s="([^"]+)"\} (\S+)' % (metric, label), line)
        if m:
            res.setdefault(m.group(2), {})[m.group(1)] = float(m.group(3))
    return res


# ---------------------------------------------------------------- part 1: webhook

def paced(port, path, token, names, n, rate):
    """n webhooks at `rate` per second on one keep-alive connection, as Alertmanager sends them
    (a few at a time, not a flood). Returns (latencies in ms, statuses)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    bodies = [firing_body(nm) for nm in names]
    lat, codes = [], {}
    t_next = time.perf_counter()
    for i in range(n):
        now = time.perf_counter()
        if now < t_next:
            time.sleep(t_next - now)
        t_next += 1.0 / rate
        t0 = time.perf_counter()
        conn.request("POST", path, body=bodies[i % len(bodies)], headers=headers)
        r = conn.getresponse()
        r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        codes[r.status] = codes.get(r.status, 0) + 1
    conn.close()
    return lat, codes


def part1(q):
    conns = [1, 8, 32]
    seconds = 2 if q else 5
    reps = 1 if q else 3
    names = [PREFIX + "wh-%d" % i for i in range(4)]
    run_containers(names)
    ev = Events()
    rd = Receiver("p1-dry", ["--dry-run", "--scale-duration", "1h"])
    rn = Receiver("p1-normal", ["--scale-duration", "1h"])
    rd.start()
    rn.start()
    peer = Peer()
    targets = [("trip-receiver --dry-run", "http://127.0.0.1:%d/webhook" % rd.port, TOKEN),
               ("trip-receiver (repeats deduplicated)", "http://127.0.0.1:%d/webhook" % rn.port,
                TOKEN),
               ("peer", "http://127.0.0.1:%d/" % peer.port, "")]
    rows = []
    paced_n, paced_rate = (100, 50) if q else (400, 50)
    paced_rows = []
    try:
        for tname, url, tok in targets:
            port = int(url.split(":")[2].split("/")[0])
            path = "/" + url.split("/", 3)[3]
            lat, codes = paced(port, path, tok, names, paced_n, paced_rate)
            paced_rows.append({"target": tname, "ms": dist(lat), "codes": codes})
            log("part 1: paced %d/s %-32s p50 %.3f ms p99 %.3f ms codes %s" % (
                paced_rate, tname, pct(lat, 50), pct(lat, 99), codes))
        for rep in range(reps):
            for c in conns:
                for tname, url, tok in targets:
                    j = wrk(url, c, seconds, names, tok)
                    j.update(target=tname, conns=c, rep=rep)
                    rows.append(j)
                    log("part 1: %-38s c=%-3d %6.0f req/s (%6.0f 2xx/s) p50 %6d us p99 %7d us "
                        "socket errors %d" % (tname, c, j["req_s"], j["ok_req_s"], j["p50_us"],
                                              j["p99_us"], j["errors"]))
                    time.sleep(0.5)
        updates = ev.count(set(names), "update")
        total_normal = sum(r["requests"] for r in rows if r["target"].startswith(
            "trip-receiver (repeats"))
    finally:
        rd.stop()
        rn.stop()
        peer.stop()
        ev.close()
    return {"conns": conns, "seconds": seconds, "reps": reps, "containers": len(names),
            "paced": paced_rows, "paced_n": paced_n, "paced_rate": paced_rate,
            "rows": rows, "normal_mode_webhooks": total_normal,
            "normal_mode_docker_updates": updates}


# ---------------------------------------------------------------- part 2: action latency

def part2(q):
    k = 6 if q else 25
    rounds = 1 if q else 8  # n = k x rounds samples per row
    a = [PREFIX + "act-wh-%d" % i for i in range(k)]
    b = [PREFIX + "act-api-%d" % i for i in range(k)]
    run_containers(a + b)
    ev = Events()
    r = Receiver("p2", ["--scale-duration", "1h"])
    r.start()
    time.sleep(2.5)  # one container refresh
    s = {key: [] for key in ("bare_client", "bare_event", "wh_reply", "wh_event", "api_out",
                             "api_in", "api_out_event", "api_in_event", "pair_overhead")}
    floor = fsync_floor(r.state_dir, 50 if q else 200)
    try:
        for rnd in range(rounds):
            if rnd:  # the webhook's containers back at their baseline, so the next one scales out
                for name in a:
                    st, reply, _ = r.call("POST", "/api/v1/containers/%s/scale" % name,
                                          {"resource": "cpu", "direction": "in"})
                    assert st == 200 and reply.get("result") == "ok", (st, reply)
                time.sleep(0.2)
            for i in range(k):
                for name, bare_key_c, bare_key_e in ((a[i], "bare_client", "bare_event"),):
                    t0 = time.time_ns()
                    p0 = time.perf_counter()
                    st, _ = docker_api("POST", "/containers/%s/update" % name, {"CpuShares": 512})
                    dt = time.perf_counter() - p0
                    assert st == 200, st
                    tn = ev.wait(name, "update", t0)
                    s[bare_key_c].append(dt * 1000)
                    s[bare_key_e].append((tn - t0) / 1e6)
                    bare_e = (tn - t0) / 1e6
                time.sleep(0.05)
                t0 = time.time_ns()
                st, reply, dt = r.call("POST", "/webhook", firing_body(a[i]))
                assert st == 200 and reply.get("accepted") == 1, (st, reply)
                tn = ev.wait(a[i], "update", t0)
                if tn is None:
                    raise RuntimeError("no update event after the webhook for " + a[i])
                s["wh_reply"].append(dt * 1000)
                s["wh_event"].append((tn - t0) / 1e6)
                s["pair_overhead"].append((tn - t0) / 1e6 - bare_e)
                time.sleep(0.05)
                t0 = time.time_ns()
                st, _ = docker_api("POST", "/containers/%s/update" % b[i], {"CpuShares": 512})
                tn = ev.wait(b[i], "update", t0)
                s["bare_event"].append((tn - t0) / 1e6)
                for direction in ("out", "in"):
                    time.sleep(0.05)
                    t0 = time.time_ns()
                    st, reply, dt = r.call("POST", "/api/v1/containers/%s/scale" % b[i],
                                           {"resource": "cpu", "direction": direction,
                                            "duration": "1h"})
                    assert st == 200 and reply.get("result") == "ok", (st, reply)
                    tn = ev.wait(b[i], "update", t0)
                    s["api_" + direction].append(dt * 1000)
                    s["api_%s_event" % direction].append((tn - t0) / 1e6)
        logd = log_durations(r.log_path, set(a + b))
        hist = metrics_hist(r.port, "trip_action_duration_seconds")
        phases = metrics_hist(r.port, "trip_action_phase_seconds", "phase")
    finally:
        r.stop()
        ev.close()
    res = {"k": k, "rounds": rounds, "samples": s,
           "dist": {key: dist(v) for key, v in s.items()},
           "log_duration_ms": {key: dist(v) for key, v in logd.items()},
           "metrics_hist": hist, "phases": phases, "fsync_floor_ms": dist(floor)}
    log("part 2: fsync floor (4 KiB file + rename + directory) p50 %.2f ms p99 %.2f ms" % (
        res["fsync_floor_ms"]["p50"], res["fsync_floor_ms"]["p99"]))
    for ph, v in sorted(phases.items()):
        if v.get("count"):
            log("part 2: phase %-10s mean %.2f ms (n=%d)" % (ph, 1000 * v["sum"] / v["count"],
                                                            v["count"]))
    for key in ("bare_event", "wh_event", "api_out", "pair_overhead"):
        d = res["dist"][key]
        log("part 2: %-14s p50 %7.1f ms p99 %7.1f ms (n=%d)" % (key, d["p50"], d["p99"], d["n"]))
    return res


# ---------------------------------------------------------------- part 3: heal latency

# One row per way of bringing a stopped container back. "restart" is the container's Docker
# restart policy; "how" is the way the driver stops it: "crash" (SIGKILL of its process from the
# host, so Docker sees a crash), "stop" (`docker stop`: SIGTERM, Engine API POST .../stop) or
# "kill" (`docker kill`: SIGKILL, POST .../kill). Docker's restart policy undoes only the crash
# (an operator's stop or kill sets its manually-stopped flag). "on_die" is what the driver does
# when it sees the container's `die` event (None: nothing, the healing is up to the row's
# mechanism alone). "labels" go on the row's containers; "receiver_args" are the receiver flags
# the row needs (the receiver is started once with the union of every row's flags). Event
# healing is limited to the containers labelled HEAL_EVENTS_LABEL, so the rows driven by the
# script are not healed twice; --heal-stable 1s lets every kill of a round (each container is
# killed once per round, rounds > 10 s apart) get the immediate first heal of a streak.
HEAL_EVENTS_LABEL = "trip.bench.heal=events"
# Seconds between two stops. One container start takes this machine's Docker 20.10 about 0.45 s
# alone; at 0.3 s apart (3.3 stops/s) the starts outran its two cores and queued (die -> start
# 5 s for the restart policy, 20 s for the heals on 2026-11-30): 0.6 s keeps it within reach.
HEAL_GAP_S = 0.6
_EV_ARGS = ["--heal-events=true", "--heal-stable", "1s", "--heal-label-filter", HEAL_EVENTS_LABEL]
HEAL_ROWS = [
    {"key": "docker", "label": "Docker restart policy (--restart always), crash",
     "restart": "always", "how": "crash", "on_die": None, "labels": [], "receiver_args": []},
    {"key": "events-crash", "label": "trip-receiver event healing, crash", "restart": "no",
     "how": "crash", "on_die": None, "labels": [HEAL_EVENTS_LABEL], "receiver_args": _EV_ARGS},
    {"key": "events-stop", "label": "trip-receiver event healing, `docker stop`",
     "restart": "no", "how": "stop", "on_die": None, "labels": [HEAL_EVENTS_LABEL],
     "receiver_args": _EV_ARGS},
    {"key": "events-kill", "label": "trip-receiver event healing, `docker kill`",
     "restart": "no", "how": "kill", "on_die": None, "labels": [HEAL_EVENTS_LABEL],
     "receiver_args": _EV_ARGS},
    {"key": "api", "label": "trip-receiver manual API (POST .../restart on the die event), crash",
     "restart": "no", "how": "crash", "on_die": "api", "labels": [], "receiver_args": []},
    {"key": "webhook",
     "label": "trip-receiver ContainerDown webhook (posted on the die event), crash",
     "restart": "no", "how": "crash", "on_die": "webhook", "labels": [], "receiver_args": []},
]


def deunhealth_probe():
    """Whether the Go module proxy serves qdm12/deunhealth: (served, one-line reason)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.path.exists(go) and not shutil.which(go):
        return False, "Go not found"
    try:
        r = subprocess.run([go, "mod", "download", "-json", "github.com/qdm12/deunhealth@latest"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                           cwd=OUT, env=dict(os.environ, GOFLAGS="-mod=mod"))
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, "go mod download failed: %s" % e
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    if j.get("Error") or r.returncode != 0:
        msg = (j.get("Error") or r.stderr or "exit %d" % r.returncode).strip()
        return False, " ".join(msg.split())
    return True, "served: %s %s" % (j.get("Path"), j.get("Version"))


def kill_at_once(names):
    """SIGKILLs the running containers' processes from the host in one loop, in the given order.
    Returns the time of the first kill and of the last (ns)."""
    pids = [host_pid(nm) for nm in names]
    t_kill = time.time_ns()
    for pid in pids:
        if pid > 0:  # not running: os.kill(0, ...) would hit this process group
            os.kill(pid, signal.SIGKILL)
    return t_kill, time.time_ns()


def starts_since(ev, names, t_ns, timeout):
    """Seconds from t_ns to each container's next `start` event (None: none within timeout)."""
    out = []
    for nm in names:
        tn = ev.wait(nm, "start", t_ns, timeout)
        out.append((tn - t_ns) / 1e9 if tn else None)
    return out


def heal_log_latencies(path, names):
    """latency_ms, duration_ms and their difference (die event -> the heal's first Docker call:
    event delivery, the worker queue, backoff) of the receiver's `msg=healed` lines for the given
    containers, and the count per trigger."""
    lat, dur, wait, trig = [], [], [], {}
    rx = re.compile(r'msg=healed container=(\S+) .*?trigger=(\S+).*?latency_ms=(\d+)'
                    r'(?: duration_ms=(\d+))?')
    with open(path) as f:
        for line in f:
            m = rx.search(line)
            if m and m.group(1) in names:
                trig[m.group(2)] = trig.get(m.group(2), 0) + 1
                lat.append(int(m.group(3)))
                if m.group(4):
                    dur.append(int(m.group(4)))
                    wait.append(int(m.group(3)) - int(m.group(4)))
    return lat, dur, wait, trig


def heal_metric(port):
    """trip_heal_latency_seconds from /metrics: count, sum and the cumulative buckets."""
    st, text, _ = http_call(port, "GET", "/metrics", token=None)
    res = {"buckets": {}}
    for line in str(text).splitlines():
        m = re.match(r'trip_heal_latency_seconds_(sum|count)(?:\{[^}]*\})? (\S+)', line)
        if m:
            res[m.group(1)] = res.get(m.group(1), 0) + float(m.group(2))
        m = re.match(r'trip_heal_latency_seconds_bucket\{(?:[^}]*,)?le="([^"]+)"[^}]*\} (\S+)',
                     line)
        if m:
            res["buckets"][m.group(1)] = res["buckets"].get(m.group(1), 0) + float(m.group(2))
    return res


def part3(q):
    k = 3 if q else 17  # n = k x rounds = 102 per row
    rounds = 1 if q else 6
    rows = HEAL_ROWS
    served, why = deunhealth_probe()
    log("part 3: qdm12/deunhealth from the Go module proxy: %s" % why)
    names = {row["key"]: [PREFIX + "heal-%s-%d" % (row["key"], i) for i in range(k)]
             for row in rows}
    for row in rows:
        extra = ["--restart", row["restart"]]
        for lab in row["labels"]:
            extra += ["--label", lab]
        run_containers(names[row["key"]], extra=extra)
    row_of = {n: row for row in rows for n in names[row["key"]]}
    rargs = ["--scale-duration", "1h"]
    flag_sets = []  # rows share their flag list; each distinct list is passed once
    for row in rows:
        if row["receiver_args"] and row["receiver_args"] not in flag_sets:
            flag_sets.append(row["receiver_args"])
            rargs += row["receiver_args"]
    # a fresh log and state directory: the heal figures are read back from this run's log
    for path in (os.path.join(OUT, "p3.log"), os.path.join(OUT, "state-p3")):
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)
    r = Receiver("p3", rargs)
    r.start()
    time.sleep(2.5)
    trig = {}  # name -> list of (trigger delay ms, reply ms, status)
    lock = threading.Lock()
    stop_errors = []

    def act(name, tn):
        row = row_of.get(name)
        if not row or not row["on_die"]:
            return
        seen = (time.time_ns() - tn) / 1e6
        if row["on_die"] == "api":
            st, _, dt = r.call("POST", "/api/v1/containers/%s/restart" % name)
        else:
            st, _, dt = r.call("POST", "/webhook", firing_body(name, "ContainerDown"))
        with lock:
            trig.setdefault(name, []).append((seen, dt * 1000, st))

    def stop_it(how, name):
        """Stops the container the row's way; False when it was not running or the call failed."""
        if how == "crash":
            pid = host_pid(name)
            if pid <= 0:  # not running: os.kill(0, ...) would hit this process group
                return False
            os.kill(pid, signal.SIGKILL)
            return True

        def call():
            path = "/containers/%s/%s" % (name, "stop?t=10" if how == "stop" else "kill")
            try:
                st, body = docker_api("POST", path)
            except (OSError, http.client.HTTPException) as e:
                st, body = 0, str(e)
            if st != 204:
                with lock:
                    stop_errors.append("%s %s: %s %s" % (how, name, st, body))
        threading.Thread(target=call, daemon=True).start()
        return True

    ev = Events()
    ev.hooks["die"] = lambda name, tn: threading.Thread(target=act, args=(name, tn),
                                                        daemon=True).start()
    samples = {row["key"]: [] for row in rows}
    policy_check = {}
    try:
        for rnd in range(rounds):
            kills = []
            for i in range(k):
                # rotate the order so no row always goes first after a quiet moment
                for j in range(len(rows)):
                    row = rows[(i + rnd + j) % len(rows)]
                    name = names[row["key"]][i]
                    t0 = time.time_ns()
                    if stop_it(row["how"], name):
                        kills.append((row["key"], name, t0))
                    else:
                        samples[row["key"]].append(None)
                    time.sleep(HEAL_GAP_S)
            last_start = 0
            for key, name, t0 in kills:
                die = ev.wait(name, "die", t0, 20)
                start = ev.wait(name, "start", die or t0, 30) if die else None
                samples[key].append((start - die) / 1e9 if die and start else None)
                last_start = max(last_start, start or 0)
            log("part 3: round %d: %s" % (rnd + 1, ", ".join(
                "%s p50 %.3f s" % (key, pct([x for x in v if x], 50) or -1)
                for key, v in samples.items())))
            if rnd + 1 < rounds:
                # Docker resets its restart back-off once a container ran 10 s.
                wait = 10.5 - (time.time_ns() - last_start) / 1e9
                if wait > 0:
                    time.sleep(wait)
        # Docker's restart policy and an operator's stop/kill, observed on two "docker" containers
        for how, name in (("kill", names["docker"][0]), ("stop", names["docker"][-1])):
            path = "/containers/%s/%s" % (name, "stop?t=10" if how == "stop" else "kill")
            docker_api("POST", path)
        time.sleep(5)
        for how, name in (("kill", names["docker"][0]), ("stop", names["docker"][-1])):
            _, j = docker_api("GET", "/containers/%s/json" % name)
            policy_check[how] = j["State"]["Status"]
        hmetric = heal_metric(r.port)
    finally:
        r.stop()
        ev.close()
    ev_names = set(n for row in rows if row["on_die"] is None and row["restart"] == "no"
                   for n in names[row["key"]])
    other_names = set(row_of) - ev_names
    lat, dur, wait, trig_kinds = heal_log_latencies(r.log_path, ev_names)
    stray, _, _, _ = heal_log_latencies(r.log_path, other_names)
    trig_all = [t for v in trig.values() for t in v]
    ev_keys = [row["key"] for row in rows if row["key"].startswith("events-")]
    ops = [x for key in ev_keys if key != "events-crash" for x in samples[key]]
    res = {"k": k, "rounds": rounds, "gap_s": HEAL_GAP_S,
           "rows": [{"key": row["key"], "label": row["label"], "how": row["how"],
                     "samples": samples[row["key"]],
                     "failed": sum(1 for x in samples[row["key"]] if x is None),
                     "dist": dist(samples[row["key"]])} for row in rows],
           "events_operator": {"n_failed": sum(1 for x in ops if x is None), "dist": dist(ops)},
           "receiver_args": rargs,
           "log_latency_ms": dist(lat), "log_duration_ms": dist(dur),
           "log_wait_ms": dist(wait), "log_triggers": trig_kinds,
           "stray_heals": len(stray), "heal_metric": hmetric,
           "stop_errors": stop_errors[:10], "policy_after_operator": policy_check,
           "deunhealth": {"served": served, "why": why},
           "trigger_seen_ms": dist([t[0] for t in trig_all]),
           "trigger_reply_ms": dist([t[1] for t in trig_all]),
           "trigger_status": sorted(set(t[2] for t in trig_all))}
    for row in res["rows"]:
        d = row["dist"]
        log("part 3: %-13s p50 %.3f p95 %.3f p99 %.3f s (n=%d, %d not restarted)" % (
            row["key"], d.get("p50", -1), d.get("p95", -1), d.get("p99", -1), d["n"],
            row["failed"]))
    return res


# ---------------------------------------------------------------- part 4: scale-in timer

def part4(q):
    n = 8 if q else 40
    step = 0.5 if q else 0.25
    rnames = [PREFIX + "timer-r-%d" % i for i in range(n)]
    cnames = [PREFIX + "timer-c-%d" % i for i in range(n)]
    run_containers(rnames + cnames)
    ev = Events()
    r = Receiver("p4", ["--scale-duration", "1h"])
    r.start()
    time.sleep(2.5)
    deadlines = {}
    timers = []
    ctrl_deadlines = {}
    sent = {}

    def ctrl_fire(name):
        docker_api("POST", "/containers/%s/update" % name, {"CpuShares": 512})

    try:
        base = time.time()
        for i in range(n):
            dur_ms = int(2000 + i * step * 1000)
            sent[rnames[i]] = time.time_ns()
            st, reply, _ = r.call("POST", "/api/v1/containers/%s/scale" % rnames[i],
                                  {"resource": "cpu", "direction": "out",
                                   "duration": "%dms" % dur_ms})
            assert st == 200 and reply.get("result") == "ok", (st, reply)
            deadlines[rnames[i]] = parse_deadline(reply["state"]["cpu"]["deadline"])
            # the reference: this script's own timer doing the same Docker call at a deadline
            dl = base + 2.0 + i * step + 0.5
            ctrl_deadlines[cnames[i]] = int(dl * 1e9)
            t = threading.Timer(max(0.0, dl - time.time()), ctrl_fire, args=(cnames[i],))
            t.start()
            timers.append(t)
        errs, cerrs = [], []
        for name, dl in deadlines.items():
            # the first update after the request is the scale-out, the next one the scale-in
            out_tn = ev.wait(name, "update", sent[name], 30)
            tn = None
            if out_tn:
                tn = ev.wait(name, "update", out_tn + 1, max(5, dl / 1e9 - time.time() + 30))
            errs.append((tn - dl) / 1e6 if tn else None)
        for name, dl in ctrl_deadlines.items():
            tn = ev.wait(name, "update", dl - 10**9, 30)
            cerrs.append((tn - dl) / 1e6 if tn else None)
    finally:
        for t in timers:
            t.cancel()
        r.stop()
        ev.close()
    res = {"n": n, "durations": "2 s + i x %.2f s" % step, "receiver_ms": errs,
           "reference_ms": cerrs, "receiver": dist(errs), "reference": dist(cerrs),
           "missing": sum(1 for e in errs if e is None),
           "within_1s": sum(1 for e in errs if e is not None and abs(e) <= 1000)}
    log("part 4: receiver p50 %+.0f ms p99 %+.0f ms; reference p50 %+.0f ms p99 %+.0f ms" %
        (res["receiver"]["p50"], res["receiver"]["p99"], res["reference"]["p50"],
         res["reference"]["p99"]))
    return res


# ---------------------------------------------------------------- part 5: footprint

def sample_rss(pid, stop, out):
    while not stop.is_set():
        try:
            out.append(proc_rss_kb(pid))
        except OSError:
            return
        time.sleep(0.1)


def part5(q):
    idle_s = 10 if q else 60
    load_s = 3 if q else 10
    names = [PREFIX + "fp-%d" % i for i in range(4)]
    run_containers(names)
    # "receiver": the binary the image ships (static, musl; tests/support/static-receiver);
    # "receiver_dynamic": the build linked against Debian's shared libraries (the host package's)
    static = os.environ.get("TRIP_RECEIVER_STATIC")
    r = Receiver("p5", ["--scale-duration", "1h"], binary=static)
    r.start()
    rd = None
    if static:
        rd = Receiver("p5d", ["--scale-duration", "1h"])
        rd.start()
    peer = Peer()
    res = {"idle_seconds": idle_s, "load_seconds": load_s, "receiver_static": bool(static)}
    try:
        time.sleep(3)
        # trip-receiver is two processes (privilege separation): the privileged one and its
        # HTTP process, which parses every request; both count
        procs = {"receiver": r.pids(), "peer": peer.pid}
        if rd:
            procs["receiver_dynamic"] = rd.pids()
        res["receiver_processes"] = len(procs["receiver"])
        rss = {k: [] for k in procs}
        c0 = {k: proc_cpu_s(p, True) for k, p in procs.items()}
        t0 = time.monotonic()
        while time.monotonic() - t0 < idle_s:
            for k, p in procs.items():
                rss[k].append(proc_rss_kb(p))
            time.sleep(1)
        el = time.monotonic() - t0
        c1 = {k: proc_cpu_s(p, True) for k, p in procs.items()}
        for k in procs:
            res[k] = {"idle_rss_kb": dist(rss[k]), "idle_split_kb": proc_rss_split_kb(procs[k]),
                      "idle_cpu_pct": 100 * (c1[k] - c0[k]) / el}
        urls = {"receiver": ("http://127.0.0.1:%d/webhook" % r.port, TOKEN),
                "peer": ("http://127.0.0.1:%d/" % peer.port, "")}
        if rd:
            urls["receiver_dynamic"] = ("http://127.0.0.1:%d/webhook" % rd.port, TOKEN)
        for k, p in procs.items():
            stop = threading.Event()
            samples = []
            th = threading.Thread(target=sample_rss, args=(p, stop, samples))
            cs0 = proc_cpu_s(p, False)
            ca0 = proc_cpu_s(p, True)
            th.start()
            j = wrk(urls[k][0], 16, load_s, names, urls[k][1])
            stop.set()
            th.join()
            cs1 = proc_cpu_s(p, False)
            ca1 = proc_cpu_s(p, True)
            time.sleep(3)
            res[k].update({
                "load_rss_kb": dist(samples), "hwm_kb": proc_hwm_kb(p),
                "after_load_rss_kb": proc_rss_kb(p), "load_requests": j["requests"],
                "load_req_s": j["req_s"], "load_errors": j["errors"],
                "cpu_ms_per_1000_req_self": 1000 * 1000 * (cs1 - cs0) / max(1, j["requests"]),
                "cpu_ms_per_1000_req_with_children":
                    1000 * 1000 * (ca1 - ca0) / max(1, j["requests"])})
            log("part 5: %s idle RSS %d kB, idle CPU %.3f %%, RSS under load max %d kB" %
                (k, res[k]["idle_rss_kb"]["p50"], res[k]["idle_cpu_pct"],
                 res[k]["load_rss_kb"]["max"]))
    finally:
        r.stop()
        if rd:
            rd.stop()
        peer.stop()
    return res


# ---------------------------------------------------------------- part 6: scale

def part6(q):
    n = int(os.environ.get("BENCH_SCALE_N", "30" if q else "1000"))
    probe = 10 if q else 30
    storm = min(n, int(os.environ.get("BENCH_STORM_N", "10" if q else "200")))
    idle_s = 10 if q else 30
    workers = 4
    res = {"n": n, "workers": workers}
    # 0. the receiver with none of this run's containers
    r0 = Receiver("p6-empty", ["--scale-duration", "1h"])
    r0.start()
    time.sleep(3)
    res["rss_kb_before"] = proc_rss_kb(r0.pids())
    _, text, _ = http_call(r0.port, "GET", "/metrics", token=None)
    m = re.search(r"^trip_managed_containers (\S+)", str(text), re.M)
    res["managed_by_others"] = float(m.group(1)) if m else None
    r0.stop()
    # 1. the containers, plus one whose stop takes 10 s: the workload is PID 1 with no handler
    #    for SIGUSR2, so the kernel drops the stop signal and Docker kills it after --stop-timeout
    names = [PREFIX + "scale-%d" % i for i in range(n)]
    slow = PREFIX + "scale-slow"
    t0 = time.monotonic()
    # no network: a Linux bridge takes at most 1024 ports, so 1000 of them plus the heal storm's
    # peers on docker0 fail ("exchange full"); the sleepers need none
    run_containers(names, workers=4, memory="16m", extra=["--network", "none"])
    run_container(slow, extra=["--network", "none", "--stop-signal", "SIGUSR2",
                               "--stop-timeout", "10"], memory="16m")
    res["create_seconds"] = time.monotonic() - t0
    log("part 6: %d containers created in %.0f s" % (n + 1, res["create_seconds"]))
    state_full = os.path.join(OUT, "state-p6-full")
    shutil.rmtree(state_full, ignore_errors=True)
    r1 = Receiver("p6-full", ["--scale-duration", "1h", "--request-timeout", "60s"],
                  state_dir=state_full)
    res["start_untracked_s"] = [r1.start()]
    time.sleep(3)
    res["rss_kb_managed_untracked"] = proc_rss_kb(r1.pids())
    # 2. every container scaled out (tracked in the state table)
    lat = []

    cur = {"r": r1}

    def scale(name, direction="out"):
        st, reply, dt = cur["r"].call("POST", "/api/v1/containers/%s/scale" % name,
                                {"resource": "cpu", "direction": direction, "duration": "1h"})
        return st, (reply.get("result") if isinstance(reply, dict) else reply), dt

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        for st, result, dt in ex.map(scale, names):
            lat.append(dt * 1000 if st == 200 and result == "ok" else None)
    res["scale_out_all_ms"] = dist(lat)
    res["scale_out_failed"] = sum(1 for x in lat if x is None)
    time.sleep(1)
    res["rss_kb_tracked"] = proc_rss_kb(r1.pids())
    res["state_json_bytes"] = os.path.getsize(os.path.join(state_full, "state.json"))
    r1.stop()
    # 3. start-up with the N tracked containers against an empty state, alternated
    res["start_tracked_s"] = []
    for i in range(3):
        r = Receiver("p6-full", ["--scale-duration", "1h"], state_dir=state_full)
        res["start_tracked_s"].append(r.start())
        if i == 0:
            time.sleep(3)
            res["rss_kb_tracked_after_restart"] = proc_rss_kb(r.pids())
        r.stop()
        e = Receiver("p6-empty2", ["--scale-duration", "1h"])
        shutil.rmtree(e.state_dir, ignore_errors=True)
        os.makedirs(e.state_dir)
        res["start_untracked_s"].append(e.start())
        e.stop()
    log("part 6: start-up with %d tracked: %s s; with none tracked: %s s" % (
        n, ["%.3f" % x for x in res["start_tracked_s"]],
        ["%.3f" % x for x in res["start_untracked_s"]]))
    # 4. a slow action on one container versus actions on the others
    r = Receiver("p6-full", ["--scale-duration", "1h", "--request-timeout", "60s"],
                 state_dir=state_full)
    r.start()
    cur["r"] = r
    time.sleep(2.5)
    others = names[:2 * probe]
    base = [scale(nm, "in")[2] * 1000 for nm in others[:probe]]
    slow_done = {}

    def slow_restart():
        st, reply, dt = r.call("POST", "/api/v1/containers/%s/restart" % slow, {"force": True},
                               timeout=90)
        slow_done.update(status=st, seconds=dt,
                         result=reply.get("result") if isinstance(reply, dict) else reply,
                         end=time.monotonic())

    th = threading.Thread(target=slow_restart)
    th.start()
    time.sleep(0.3)
    # one thread per request, started 100 ms apart, so a request stuck behind the slow action
    # does not hold back the ones after it; all are sent while the slow action runs
    during = []
    dlock = threading.Lock()

    def probe_one(nm):
        sent_while = "end" not in slow_done
        st, result, dt = scale(nm, "in")
        with dlock:
            during.append({"name": nm, "ms": dt * 1000, "status": st, "result": result,
                           "same_worker": fnv_worker(nm, 4) == fnv_worker(slow, 4),
                           "while_slow_running": sent_while})

    probes = []
    for nm in others[probe:]:
        t = threading.Thread(target=probe_one, args=(nm,))
        t.start()
        probes.append(t)
        time.sleep(0.1)
    for t in probes:
        t.join()
    th.join()
    r.stop()
    diff = [d["ms"] for d in during if not d["same_worker"]]
    same = [d["ms"] for d in during if d["same_worker"]]
    res.update({"probe": probe, "baseline_ms": dist(base), "during_other_worker_ms": dist(diff),
                "during_same_worker_ms": dist(same), "slow": slow_done,
                "during_all_while_slow_running": all(d["while_slow_running"] for d in during),
                "during": during})
    log("part 6: slow restart %.1f s; others on other workers p50 %.0f ms max %.0f ms; "
        "on the slow one's worker: n=%d max %s ms" % (
            slow_done.get("seconds", -1), res["during_other_worker_ms"].get("p50", -1),
            res["during_other_worker_ms"].get("max", -1), len(same),
            "%.0f" % max(same) if same else "-"))
    r = Receiver("p6-full", ["--scale-duration", "1h"], state_dir=state_full)
    r.start()
    cur["r"] = r
    try:
        res.update(part6_idle_webhook_storm(r, names, storm, idle_s))
    finally:
        r.stop()
    t0 = time.monotonic()
    cleanup()
    res["remove_seconds"] = time.monotonic() - t0
    return res


def many_alerts_body(names):
    """One Alertmanager webhook naming every container of `names` (one firing alert each)."""
    with open(FIRING) as f:
        j = json.load(f)
    tpl = j["alerts"][0]
    alerts = []
    for i, name in enumerate(names):
        a = json.loads(json.dumps(tpl))
        a["labels"]["name"] = name
        a["labels"]["alertname"] = "ContainerHighCpu"
        a["fingerprint"] = "%016x" % (i + 1)
        alerts.append(a)
    j["alerts"] = alerts
    j["groupLabels"] = {"alertname": "ContainerHighCpu"}
    j["commonLabels"] = {"alertname": "ContainerHighCpu"}
    return json.dumps(j, separators=(",", ":"))


def actions_total(r):
    """The sum of trip_actions_total on the receiver's /metrics."""
    st, text, _ = r.call("GET", "/metrics")
    if st != 200:
        return None
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in str(text).splitlines()
               if line.startswith("trip_actions_total"))


def wait_actions_quiet(r, still_s=2.0, limit_s=180.0):
    """Waits until the receiver's action count has not moved for still_s; returns the wait (s)."""
    t0 = time.monotonic()
    last, since = actions_total(r), time.monotonic()
    while time.monotonic() - t0 < limit_s:
        time.sleep(0.25)
        now = actions_total(r)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= still_s:
            break
    return time.monotonic() - t0


def part6_idle_webhook_storm(r, names, storm, idle_s):
    """With every container managed (and tracked): the receiver's idle CPU, a webhook naming all
    of them, and a heal storm (`storm` of them SIGKILLed at once) beside as many unmanaged
    containers with Docker's --restart always killed in the same moment."""
    res = {}
    time.sleep(3)
    c0, t0 = proc_cpu_s(r.pids()), time.monotonic()
    time.sleep(idle_s)
    res["idle_cpu_pct"] = 100.0 * (proc_cpu_s(r.pids()) - c0) / (time.monotonic() - t0)
    res["idle_seconds"] = idle_s
    res["idle_rss_kb"] = proc_rss_kb(r.pids())
    log("part 6: idle with %d managed: %.2f %% of a core over %d s, RSS %d kB" % (
        len(names), res["idle_cpu_pct"], idle_s, res["idle_rss_kb"]))
    # a webhook naming every container: answered from the cache, before any Docker call. The
    # first queues 1000 scale-outs; each next one is posted once the previous one's actions are
    # done (Docker's CPU then is the receiver's own again), as Alertmanager re-sends a firing group
    # every group_interval; they find the scale-outs done and extend the deadlines.
    body = many_alerts_body(names[:1000])
    lat, quiet = [], []
    for _ in range(6):
        quiet.append(wait_actions_quiet(r))
        st, reply, dt = r.call("POST", "/webhook", body)
        lat.append(dt * 1000 if st == 200 else None)
    quiet.append(wait_actions_quiet(r))
    res["webhook_alerts"] = min(len(names), 1000)
    res["webhook_bytes"] = len(body)
    res["webhook_ms_each"] = lat
    res["webhook_quiet_s"] = quiet
    res["webhook_ms"] = dist(lat)
    log("part 6: webhook naming %d alerts (%d bytes): p50 %.1f ms, max %.1f ms" % (
        res["webhook_alerts"], len(body), res["webhook_ms"].get("p50", -1),
        res["webhook_ms"].get("max", -1)))
    # the heal storm, beside Docker's restart policy on as many unmanaged containers
    res["storm"] = storm
    if storm <= 0:  # BENCH_STORM_N=0: not run (see report.py)
        return res
    peers = [PREFIX + "storm-policy-%d" % i for i in range(storm)]
    run_containers(peers, memory="16m", managed=False,
                   extra=["--network", "none", "--restart", "always"])
    healed = names[:storm]
    ev = Events()
    try:
        t_kill, t_last = kill_at_once([nm for pair in zip(healed, peers) for nm in pair])
        mine = starts_since(ev, healed, t_kill, 120)
        theirs = starts_since(ev, peers, t_kill, 120)
    finally:
        ev.close()
    res.update({"storm": storm, "storm_kill_spread_ms": (t_last - t_kill) / 1e6,
                "storm_receiver_s": dist(mine), "storm_policy_s": dist(theirs),
                "storm_receiver_missing": sum(1 for x in mine if x is None),
                "storm_policy_missing": sum(1 for x in theirs if x is None)})
    log("part 6: heal storm of %d (+%d with --restart always), kills spread over %.0f ms: "
        "receiver last %.2f s (p50 %.2f), policy last %.2f s (p50 %.2f); missing %d / %d" % (
            storm, storm, res["storm_kill_spread_ms"], res["storm_receiver_s"].get("max", -1),
            res["storm_receiver_s"].get("p50", -1), res["storm_policy_s"].get("max", -1),
            res["storm_policy_s"].get("p50", -1), res["storm_receiver_missing"],
            res["storm_policy_missing"]))
    return res


# ---------------------------------------------------------------- part 7: heal lead, two engines

# Part 3 interleaves six rows' stops 0.6 s apart, so Docker starts one or two containers at once
# and a heal's die -> start is mostly the wait for those (0.69 s p50 there). Part 7 crashes one
# container at a time and waits for it to run again before the next, on the host's engine and on
# Docker 29 (tests/engines/engine, its own socket, data root and bridge): the rows are Docker's
# --restart always, trip-receiver's event heal, and a bare start call made by this script on a
# container that crashed 0.5 s before (its clean-up long done): the floor for any healer.
# The -none rows repeat policy and events on containers without a network (--network none): the
# engine's clean-up then has no network sandbox to tear down.
LEAD_ROWS = ("policy", "events", "bare", "policy-none", "events-none")


def engine_ctl(cmd, name):
    """tests/engines/engine up|down NAME; `up` returns its variables (DOCKER_HOST, ...)."""
    r = subprocess.run([os.path.join(ROOT, "tests", "engines", "engine"), cmd, name],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=1200)
    if r.returncode != 0:
        raise RuntimeError("engine %s %s: %s" % (cmd, name, r.stderr.strip()[-400:]))
    return dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)


@contextlib.contextmanager
def on_engine(name):
    """Runs the block against test engine NAME (tests/engines/engine up): $DOCKER_HOST names it
    for the driver, the docker CLI and trip-receiver. Afterwards this run's containers on it are
    removed, $DOCKER_HOST is put back and the engine is stopped, also on failure."""
    host_env = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine_ctl("up", name)["DOCKER_HOST"]
    try:
        yield
    finally:
        cleanup()
        if host_env is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = host_env
        engine_ctl("down", name)


def engine_version():
    st, j = docker_api("GET", "/version")
    return "%s (API %s)" % (j.get("Version"), j.get("ApiVersion")) if st == 200 else "?"


def heal_lead(tag, k, rounds):
    """One engine (the one $DOCKER_HOST names): k containers per row, `rounds` crashes of each,
    one at a time. Returns the rows' die -> start samples and the receiver's own view."""
    names = {row: [PREFIX + "lead-%s-%s-%d" % (tag, row, i) for i in range(k)]
             for row in LEAD_ROWS}
    run_containers(names["policy"], managed=False, extra=["--restart", "always"])
    run_containers(names["events"], extra=["--label", HEAL_EVENTS_LABEL])
    run_containers(names["bare"], managed=False)
    run_containers(names["policy-none"], managed=False,
                   extra=["--restart", "always", "--network", "none"])
    run_containers(names["events-none"], extra=["--label", HEAL_EVENTS_LABEL, "--network", "none"])
    created = time.monotonic()
    r = Receiver("p7-" + tag, ["--scale-duration", "1h"] + _EV_ARGS)
    r.start()
    ev = Events()
    samples = {row: [] for row in LEAD_ROWS}
    bare_call_ms, kill_die_ms = [], {}
    last_start = {}  # policy container -> monotonic time of its last start (back-off reset)
    # Docker's back-off starts from 100 ms again once a container ran 10 s
    time.sleep(max(0.0, 10.5 - (time.monotonic() - created)))
    try:
        for rnd in range(rounds):
            for i in range(k):
                for j in range(len(LEAD_ROWS)):
                    row = LEAD_ROWS[(i + rnd + j) % len(LEAD_ROWS)]
                    name = names[row][i]
                    if row.startswith("policy") and name in last_start:
                        time.sleep(max(0.0, 10.5 - (time.monotonic() - last_start[name])))
                    pid = host_pid(name)
                    if pid <= 0:
                        samples[row].append(None)
                        continue
                    t0 = time.time_ns()
                    os.kill(pid, signal.SIGKILL)
                    die = ev.wait(name, "die", t0, 20)
                    if die is None:
                        samples[row].append(None)
                        continue
                    kill_die_ms.setdefault(row, []).append((die - t0) / 1e6)
                    if row == "bare":
                        time.sleep(0.5)
                        ts = time.time_ns()
                        st, _ = docker_api("POST", "/containers/%s/start" % name)
                        bare_call_ms.append((time.time_ns() - ts) / 1e6 if st == 204 else None)
                        start = ev.wait(name, "start", ts, 30)
                        samples[row].append((start - ts) / 1e9 if start else None)
                    else:
                        start = ev.wait(name, "start", die, 30)
                        samples[row].append((start - die) / 1e9 if start else None)
                    if row.startswith("policy"):
                        last_start[name] = time.monotonic()
                    time.sleep(0.2)
            log("part 7 %s: round %d: %s" % (tag, rnd + 1, ", ".join(
                "%s p50 %.3f s" % (row, pct([x for x in v if x], 50) or -1)
                for row, v in samples.items())))
    finally:
        r.stop()
        ev.close()
    lat, dur, wait, trig = heal_log_latencies(r.log_path, set(names["events"]))
    _, dur_none, wait_none, _ = heal_log_latencies(r.log_path, set(names["events-none"]))
    return {"engine": engine_version(), "k": k, "rounds": rounds,
            "rows": {row: {"samples": v, "failed": sum(1 for x in v if x is None),
                           "dist": dist(v)} for row, v in samples.items()},
            "bare_call_ms": dist(bare_call_ms),
            "kill_die_ms": {row: dist(v) for row, v in kill_die_ms.items()},
            "log_latency_ms": dist(lat), "log_duration_ms": dist(dur), "log_wait_ms": dist(wait),
            "log_duration_none_ms": dist(dur_none), "log_wait_none_ms": dist(wait_none),
            "log_triggers": trig}


def heal_storm(tag, storm):
    """`storm` managed containers (event healing) and as many with Docker's --restart always. Three
    storms on the same containers, each once all of them ran 10.5 s (Docker's back-off back at
    100 ms): the receiver's alone, the policy's alone, then both interleaved in one loop, as a
    host-wide crash would. Seconds from the first kill to each one's next `start` event."""
    healed = [PREFIX + "storm-%s-heal-%d" % (tag, i) for i in range(storm)]
    peers = [PREFIX + "storm-%s-policy-%d" % (tag, i) for i in range(storm)]
    t0 = time.monotonic()
    run_containers(healed, memory="16m", extra=["--network", "none", "--label", HEAL_EVENTS_LABEL])
    run_containers(peers, memory="16m", managed=False,
                   extra=["--network", "none", "--restart", "always"])
    res = {"storm": storm, "created_s": time.monotonic() - t0, "runs": []}
    r = Receiver("p8-storm-" + tag, ["--scale-duration", "1h"] + _EV_ARGS)
    r.start()
    ev = Events()
    ready = time.monotonic()
    try:
        for kind in ("receiver", "policy", "both"):
            time.sleep(max(0.0, 10.5 - (time.monotonic() - ready)))
            groups = {"receiver": [healed], "policy": [peers],
                      "both": [healed, peers]}[kind]
            t_kill, t_last = kill_at_once([nm for pair in zip(*groups) for nm in pair])
            run = {"kind": kind, "kill_spread_ms": (t_last - t_kill) / 1e6}
            if kind != "policy":
                mine = starts_since(ev, healed, t_kill, 300)
                run.update({"receiver_s": dist(mine),
                            "receiver_missing": sum(1 for x in mine if x is None)})
            if kind != "receiver":
                theirs = starts_since(ev, peers, t_kill, 300)
                run.update({"policy_s": dist(theirs),
                            "policy_missing": sum(1 for x in theirs if x is None)})
            ready = time.monotonic()
            res["runs"].append(run)
            log("part 8 %s: storm (%s) of %d: %s" % (tag, kind, storm, "; ".join(
                "%s last %.2f s, p50 %.2f s, %d missing" % (
                    who, run[who + "_s"].get("max", -1), run[who + "_s"].get("p50", -1),
                    run[who + "_missing"]) for who in ("receiver", "policy")
                if who + "_s" in run)))
    finally:
        r.stop()
        ev.close()
    _, dur, wait, _ = heal_log_latencies(r.log_path, set(healed))
    res.update({"log_duration_ms": dist(dur), "log_wait_ms": dist(wait)})
    return res


def part7(q):
    k = 5 if q else 20  # n = k x rounds = 100 per row
    rounds = 2 if q else 5
    res = {"engines": {}}
    res["engines"]["host"] = heal_lead("host", k, rounds)
    cleanup()
    with on_engine("docker29"):
        res["engines"]["docker29"] = heal_lead("e29", k, rounds)
    for tag, e in res["engines"].items():
        log("part 7 %s (%s): %s" % (tag, e["engine"], ", ".join(
            "%s p50 %.3f p99 %.3f s (n=%d, %d failed)" % (
                row, v["dist"].get("p50", -1), v["dist"].get("p99", -1), v["dist"]["n"],
                v["failed"]) for row, v in e["rows"].items())))
    return res


def part8(q):
    storm = int(os.environ.get("BENCH_STORM8_N", "20" if q else "200"))
    with on_engine("docker29"):
        res = heal_storm("e29", storm)
        res["engine"] = engine_version()
    return res


# ---------------------------------------------------------------- driver

PARTS = {1: part1, 2: part2, 3: part3, 4: part4, 5: part5, 6: part6, 7: part7, 8: part8}
TITLES = {1: "Webhook throughput and latency", 2: "Action latency",
          3: "Heal latency", 4: "Scale-in timer accuracy", 5: "Footprint", 6: "Scale",
          7: "Heal ahead of Docker's restart policy, one crash at a time, two engines",
          8: "Heal storm on Docker 29"}


def run_part(n, quick):
    os.makedirs(OUT, exist_ok=True)
    res = {"part": n, "title": TITLES[n], "quick": quick,
           "started": datetime.datetime.now(datetime.timezone.utc).strftime(
               "%Y-%m-%d %H:%M:%S UTC"),
           "load_before": loadavg(), "run_id": RUN_ID,
           "command": os.environ.get("TRIP_BENCH_CMD", "bench/bench.py part %d" % n),
           "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True).stdout.strip()}

    def on_signal(sig, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    for f in os.listdir(OUT):
        if f.startswith("p%d-" % n) and f.endswith(".log"):
            os.unlink(os.path.join(OUT, f))
    t0 = time.monotonic()
    try:
        res["result"] = PARTS[n](quick)
    finally:
        for proc in LIVE:
            proc.stop()
        cleanup()
    res["seconds"] = time.monotonic() - t0
    res["load_after"] = loadavg()
    with open(os.path.join(OUT, "part-%d.json" % n), "w") as f:
        json.dump(res, f, indent=1)
    log("part %d done in %.0f s (load %s -> %s)" % (n, res["seconds"], res["load_before"],
                                                  res["load_after"]))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "part":
        run_part(int(sys.argv[2]), "--quick" in sys.argv[3:])
    elif len(sys.argv) == 2 and sys.argv[1] == "report":
        import report
        report.write()
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
