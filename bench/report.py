"""report.py: bench/results.md and the headline table of bench/README.md from bench/out/part-*.json.

Called by `bench.py report` (bench/run does it after the parts). Only formats: every number comes
from the JSON files the parts wrote in this run or an earlier one (each section says when and
under which load it was measured).
"""
import json
import os
import platform
import re
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")


def sh(*cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def load_parts():
    parts = {}
    for n in range(1, 9):
        p = os.path.join(OUT, "part-%d.json" % n)
        if os.path.exists(p):
            with open(p) as f:
                parts[n] = json.load(f)
    return parts


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
        cpu = m.group(1) if m else platform.machine()
    with open("/proc/meminfo") as f:
        mem_kb = int(re.search(r"MemTotal:\s*(\d+)", f.read()).group(1))
    info = sh("docker", "info", "--format",
              "{{.ServerVersion}}|{{.Driver}}|{{.CgroupVersion}}|{{.CgroupDriver}}|"
              "{{.KernelVersion}}|{{.OperatingSystem}}")
    dv, drv, cgv, cgd, kern, osname = (info.split("|") + [""] * 6)[:6]
    api = sh("docker", "version", "--format", "{{.Server.APIVersion}}")
    wrk = sh("sh", "-c", "wrk -v 2>&1 | head -1")
    return [
        ("CPU", "%s, %d cores online" % (cpu, os.cpu_count())),
        ("memory", "%.1f GiB" % (mem_kb / 1048576)),
        ("kernel", platform.release()),
        ("OS", sh("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME")),
        ("Docker", "%s (API %s), storage %s, cgroup v%s (%s), daemon host %s" % (
            dv, api, drv, cgv, cgd, osname)),
        ("wrk", wrk.split(" [")[0] if wrk else "not found"),
        ("trip-receiver", "commit %s%s when this file was written (a part measured earlier "
         "may predate it: see its date, and its commit where recorded), %s" % (
            sh("git", "-C", ROOT, "rev-parse", "--short", "HEAD"),
            " (+ uncommitted changes)" if sh("git", "-C", ROOT, "status", "--porcelain",
                                            "--", "receiver", "docker-client") else "",
            os.environ.get("TRIP_BENCH_BUILD", "RelWithDebInfo build (-O2 -g)"))),
        ("peer", os.environ.get("TRIP_BENCH_PEER_KIND", "see bench/README.md")),
        ("load average now", open("/proc/loadavg").read().split(" ", 3)[:3] and
         " ".join(open("/proc/loadavg").read().split()[:3])),
    ]


def f(x, digits=1, unit=""):
    if x is None:
        return "–"
    return ("%." + str(digits) + "f%s") % (x, unit)


def d3(d, key, digits=1, scale=1.0):
    v = d.get(key) if d else None
    return f(v * scale if v is not None else None, digits)


def ratio(a, b, digits=1):
    if a is None or b is None or b == 0:
        return "–"
    return ("%." + str(digits) + "f×") % (a / b)


def median(xs):
    s = sorted(x for x in xs if x is not None)
    if not s:
        return None
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def pctl(xs, p):
    """Percentile p (0..100) of xs, interpolated as bench.py's pct()."""
    s = sorted(xs)
    if not s:
        return None
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def span(xs, digits=0):
    s = [x for x in xs if x is not None]
    if not s:
        return "–"
    if len(s) == 1:
        return f(s[0], digits)
    return "%s (%s–%s)" % (f(median(s), digits), f(min(s), digits), f(max(s), digits))


def verdict(ok):
    return "meets" if ok else "**misses**"


def part_header(p):
    return ("_Measured %s by `%s`%s, %.0f s, load average %s before and %s after%s._\n" % (
        p["started"], p.get("command", "bench/run"),
        " at commit %s" % p["commit"] if p.get("commit") else "", p["seconds"], p["load_before"],
        p["load_after"],
        "; **--quick** (fewer samples)" if p.get("quick") else ""))


# ---------------------------------------------------------------- sections

def p1_summary(r):
    groups = {}
    for row in r["rows"]:
        groups.setdefault((row["target"], row["conns"]), []).append(row)
    return groups


def sec1(p, head):
    r = p["result"]
    g = p1_summary(r)
    targets = []
    for row in r["rows"]:
        if row["target"] not in targets:
            targets.append(row["target"])
    out = ["## 1. Webhook throughput and latency\n", part_header(p)]
    out.append(
        "wrk with keep-alive posts `tests/fixtures/alertmanager-0.25-firing.json` with the "
        "container name replaced round-robin by %d managed containers, %d s per run, %d "
        "repeat(s), connection counts %s (wrk threads: min(2, connections)); the three targets "
        "take turns in the same run. trip-receiver runs with its bearer token checked and its "
        "info log written to a file; the peer runs `/bin/true` per webhook and waits for it, as "
        "prometheus-am-executor does. Requests/s are the median over repeats (min–max in "
        "brackets); 2xx/s counts only successful answers (trip-receiver answers 503 \"engine "
        "queue full; retry later\" when its one engine queue, 1024 jobs per worker, is full; a "
        "webhook alert identical in effect to one still queued for the same container is merged "
        "into it rather than queued again); latency "
        "percentiles are wrk's (all answers), median over repeats. Ratios compare with the peer "
        "at the same connection count.\n" % (r["containers"], r["seconds"], r["reps"],
                                            ", ".join(str(c) for c in r["conns"])))
    if r.get("paced"):
        out.append("**At Alertmanager's pace.** First, %d webhooks at %d per second on one "
                   "keep-alive connection from this script (Python `http.client`; its own "
                   "overhead is in both rows), round trip in ms:\n" % (r["paced_n"],
                                                                     r["paced_rate"]))
        out += DIST_HEAD
        peer_p = next((x for x in r["paced"] if x["target"] == "peer"), None)
        for x in r["paced"]:
            out.append(dist_row("%s (statuses %s)" % (x["target"], ", ".join(
                "%s×%s" % (v, k) for k, v in sorted(x["codes"].items()))), x["ms"], digits=3))
        out.append("\nRatio of p99 to the peer's: " + "; ".join(
            "%s %s" % (x["target"], ratio(x["ms"]["p99"], peer_p["ms"]["p99"], 2))
            for x in r["paced"] if x is not peer_p) + ".\n")
        out.append("**Flood.** Then wrk as fast as it can:\n")
    out.append("| target | connections | requests/s | 2xx/s | non-2xx | p50 ms | p99 ms | "
               "2xx/s vs peer | p99 vs peer |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in r["conns"]:
        peer = g.get(("peer", c), [])
        peer_ok = median([x["ok_req_s"] for x in peer])
        peer_p99 = median([x["p99_us"] for x in peer])
        for t in targets:
            rows = g.get((t, c), [])
            ok = median([x["ok_req_s"] for x in rows])
            p99 = median([x["p99_us"] for x in rows])
            out.append("| %s | %d | %s | %s | %s %% | %s | %s | %s | %s |" % (
                t, c, span([x["req_s"] for x in rows]), span([x["ok_req_s"] for x in rows]),
                f(median([x["non2xx_pct"] for x in rows]), 1),
                f(median([x["p50_us"] for x in rows]) / 1000, 3),
                f(p99 / 1000, 2), "–" if t == "peer" else ratio(ok, peer_ok),
                "–" if t == "peer" else ratio(p99, peer_p99, 2)))
    dedup = r["normal_mode_docker_updates"] == r["containers"]
    out.append("\nSocket errors (connect/read/write/timeout) over all runs: %d. In normal mode "
               "%d webhooks reached trip-receiver and Docker saw %d `update` events on the %d "
               "containers: %s.\n" % (
                   sum(x["errors"] for x in r["rows"]), r["normal_mode_webhooks"],
                   r["normal_mode_docker_updates"], r["containers"],
                   "repeats were deduplicated (one scale-out per container)" if dedup else
                   "not one scale-out per container"))
    # headline
    if r.get("paced"):
        pp = {x["target"]: x["ms"] for x in r["paced"]}
        nm = [t for t in pp if t.startswith("trip-receiver (")][0]
        head.append(("webhook p99 < 2 ms at %d webhooks/s (normal mode)" % r["paced_rate"],
                     "%s ms p99 (p50 %s)" % (f(pp[nm]["p99"], 2), f(pp[nm]["p50"], 2)),
                     "%s ms p99" % f(pp["peer"]["p99"], 2),
                     ratio(pp[nm]["p99"], pp["peer"]["p99"], 2), verdict(pp[nm]["p99"] < 2)))
    dry = [x for x in r["rows"] if x["target"].startswith("trip-receiver --dry")]
    p99s = {c: median([x["p99_us"] for x in dry if x["conns"] == c]) for c in r["conns"]}
    c1 = r["conns"][0]
    head.append(("webhook p99 < 2 ms under a wrk flood (--dry-run, %d connection)" % c1,
                 "%s ms" % f(p99s[c1] / 1000, 2),
                 "%s ms" % f(median([x["p99_us"] for x in g.get(("peer", c1), [])]) / 1000, 2),
                 ratio(p99s[c1], median([x["p99_us"] for x in g.get(("peer", c1), [])]), 2),
                 verdict(p99s[c1] < 2000)))
    rats = []
    for c in r["conns"]:
        a = median([x["ok_req_s"] for x in g.get((targets[1], c), [])])
        b = median([x["ok_req_s"] for x in g.get(("peer", c), [])])
        rats.append(a / b if a and b else None)
    worst = min(x for x in rats if x is not None)
    head.append(("≥ 2× peer throughput (2xx/s, normal mode, worst of %s connections)" %
                 "/".join(str(c) for c in r["conns"]),
                 "%s 2xx/s" % f(median([x["ok_req_s"] for x in g.get(
                     (targets[1], r["conns"][rats.index(worst)]), [])]), 0),
                 "%s 2xx/s" % f(median([x["ok_req_s"] for x in g.get(
                     ("peer", r["conns"][rats.index(worst)]), [])]), 0),
                 "%.1f×" % worst, verdict(worst >= 2)))
    return out


def dist_row(label, d, scale=1.0, digits=1):
    return "| %s | %d | %s | %s | %s | %s | %s |" % (
        label, d.get("n", 0), d3(d, "min", digits, scale), d3(d, "p50", digits, scale),
        d3(d, "p95", digits, scale), d3(d, "p99", digits, scale), d3(d, "max", digits, scale))


DIST_HEAD = ["| measure | n | min | p50 | p95 | p99 | max |", "|---|---:|---:|---:|---:|---:|---:|"]


def sec2(p, head):
    r = p["result"]
    d = r["dist"]
    out = ["## 2. Action latency\n", part_header(p)]
    out.append(
        "On %d pairs of fresh managed containers (CpuShares 512), in one loop: the bare Docker "
        "call `POST /containers/{id}/update {\"CpuShares\":512}` over the Unix socket from this "
        "script (keep-alive), then a firing webhook for the same container to trip-receiver, "
        "then the manual API (`POST /api/v1/containers/{name}/scale`, which answers when the "
        "update returned) out and in on the second container. \"→ update event\" is the "
        "`timeNano` of Docker's `update` event (emitted when the update is done) minus the "
        "client's clock just before sending: the same measure for the bare call and for "
        "trip-receiver. The overhead row is, per container, webhook → update event minus the "
        "bare call → update event on the same container a moment before. All times in ms.%s\n" %
        (r["k"], (" %d rounds over the same containers (the webhook's ones scaled back in through "
                  "the manual API between rounds): n = %d per row." % (
                      r["rounds"], r["k"] * r["rounds"])) if r.get("rounds", 1) > 1 else ""))
    out += DIST_HEAD
    out.append(dist_row("bare Docker update, client round trip", d["bare_client"]))
    out.append(dist_row("bare Docker update → update event", d["bare_event"]))
    out.append(dist_row("webhook → update event (trip-receiver)", d["wh_event"]))
    out.append(dist_row("webhook reply (answered before acting)", d["wh_reply"], digits=2))
    out.append(dist_row("manual API scale out, client round trip", d["api_out"]))
    out.append(dist_row("manual API scale in, client round trip", d["api_in"]))
    out.append(dist_row("overhead: webhook → event minus bare → event", d["pair_overhead"]))
    out.append("\nRatios (trip-receiver / bare Docker call): webhook → update event p50 %s, p99 "
               "%s; manual API scale-out round trip p50 %s of the bare round trip.\n" % (
                   ratio(d["wh_event"]["p50"], d["bare_event"]["p50"], 2),
                   ratio(d["wh_event"]["p99"], d["bare_event"]["p99"], 2),
                   ratio(d["api_out"]["p50"], d["bare_client"]["p50"], 2)))
    if r.get("log_duration_ms"):
        out.append("trip-receiver's own `duration_ms` (log lines; inspect + update per action):\n")
        out += DIST_HEAD
        for k, v in sorted(r["log_duration_ms"].items()):
            out.append(dist_row("log duration_ms, " + k, v, digits=0))
        hist = r.get("metrics_hist", {})
        if hist:
            out.append("\n`trip_action_duration_seconds` mean per kind (sum / count, this "
                       "receiver): " + ", ".join(
                           "%s %.1f ms (n=%d)" % (k, 1000 * v["sum"] / v["count"], v["count"])
                           for k, v in sorted(hist.items()) if v.get("count")) + ".\n")
    phases = r.get("phases", {})
    if phases:
        order = ["queue", "inspect", "claim_save", "docker", "final_save"]
        out.append("\nWhere the receiver's time goes, `trip_action_phase_seconds{phase}` mean "
                   "(sum / count, every action of this receiver): " + ", ".join(
                       "%s %.2f ms (n=%d)" % (k, 1000 * phases[k]["sum"] / phases[k]["count"],
                                             phases[k]["count"])
                       for k in order + sorted(set(phases) - set(order))
                       if phases.get(k, {}).get("count")) + ".")
    fl = r.get("fsync_floor_ms")
    if fl and fl.get("n"):
        out.append("\nThe floor under the write-ahead claim's save, on the state directory's disk "
                   "in the same run (a 4 KiB file written and fsync'd, renamed, its directory "
                   "fsync'd): p50 %s ms, p99 %s ms (n=%d).\n" % (
                       f(fl["p50"], 2), f(fl["p99"], 2), fl["n"]))
    head.append(("webhook → update event ≤ 1.2× the bare call → event, p50 and p99",
                 "p50 %s ms, p99 %s ms (n=%d)" % (f(d["wh_event"]["p50"]), f(d["wh_event"]["p99"]),
                                                 d["wh_event"]["n"]),
                 "bare p50 %s ms, p99 %s ms" % (f(d["bare_event"]["p50"]),
                                               f(d["bare_event"]["p99"])),
                 "%s / %s" % (ratio(d["wh_event"]["p50"], d["bare_event"]["p50"], 2),
                              ratio(d["wh_event"]["p99"], d["bare_event"]["p99"], 2)),
                 verdict(d["wh_event"]["p50"] <= 1.2 * d["bare_event"]["p50"] and
                         d["wh_event"]["p99"] <= 1.2 * d["bare_event"]["p99"])))
    head.append(("receiver overhead over the bare Docker call ≤ 50 ms p99",
                 "%s ms p99 overhead (webhook → update p99 %s ms)" % (
                     f(d["pair_overhead"]["p99"]), f(d["wh_event"]["p99"])),
                 "bare update → event p99 %s ms" % f(d["bare_event"]["p99"]),
                 ratio(d["wh_event"]["p99"], d["bare_event"]["p99"], 2),
                 verdict(d["pair_overhead"]["p99"] <= 50)))
    return out


def sec3(p, head):
    r = p["result"]
    out = ["## 3. Heal latency\n", part_header(p)]
    rows = {x["key"]: x for x in r["rows"]}
    out.append(
        "What is measured: Docker's `die` event → the container's next `start` event (`timeNano` "
        "of both, from the driver's `docker events` stream, so no client clock is involved). "
        "%d containers per row, %d rounds, each container stopped once per round; the rows' "
        "stops interleaved %s s apart in a rotating order, rounds 10.5 s after the last start "
        "so Docker's restart back-off starts from 100 ms again. How a row's container is "
        "stopped: *crash* = SIGKILL of its process from the host; *`docker stop`* = Engine API "
        "`POST /containers/{id}/stop` (SIGTERM, the workload exits at once); *`docker kill`* = "
        "`POST /containers/{id}/kill` (SIGKILL). Docker's `--restart always` undoes only the "
        "crash: after an operator's stop or kill it leaves the container stopped (checked at the "
        "end of this run on two of its containers: after `docker kill` %s, after `docker stop` "
        "%s, 5 s later), so it is compared with the event heal on the crash, killed the same way. "
        "Event healing: one trip-receiver started with `%s`; the label filter limits it to the "
        "event rows' containers, so the script-driven rows (manual restart API or a "
        "ContainerDown webhook posted when the script sees `die`, %s ms after it, p50) are not "
        "healed twice (heals logged for other rows' containers: %d). Times in seconds.\n" % (
            r["k"], r["rounds"], f(r.get("gap_s", 0.3), 1),
            r["policy_after_operator"].get("kill", "–"),
            r["policy_after_operator"].get("stop", "–"), " ".join(r["receiver_args"]),
            f(r["trigger_seen_ms"].get("p50"), 1), r.get("stray_heals", 0)))
    out += DIST_HEAD
    docker = rows.get("docker")
    for row in r["rows"]:
        out.append(dist_row(row["label"] + (" (%d not restarted)" % row["failed"]
                                            if row["failed"] else ""), row["dist"], digits=3))
    op = r["events_operator"]
    out.append(dist_row("trip-receiver event healing, `docker stop` + `docker kill` together" +
                        (" (%d not restarted)" % op["n_failed"] if op["n_failed"] else ""),
                        op["dist"], digits=3))
    out.append("")
    if docker:
        out.append("Ratios to Docker's restart policy after a crash (p50 / p99): " + "; ".join(
            "%s %s / %s" % (row["key"], ratio(row["dist"].get("p50"), docker["dist"].get("p50"),
                                              2),
                            ratio(row["dist"].get("p99"), docker["dist"].get("p99"), 2))
            for row in r["rows"] if row is not docker) + ".\n")
    hm = r.get("heal_metric") or {}
    b = hm.get("buckets", {})
    out.append(
        "trip-receiver's own view of the event heals: log `latency_ms` (die event → start "
        "returned) p50 %s, p95 %s, p99 %s, max %s ms (n=%d, triggers %s); of which `duration_ms` "
        "(the heal's inspect + start calls) p50 %s, p95 %s, p99 %s ms, and the rest (die event → "
        "the heal's first Docker call: event delivery, the engine queue, back-off) "
        "p50 %s, p95 %s, p99 %s ms; `trip_heal_latency_seconds`: %d heals, mean %s s, %s ≤ "
        "0.5 s, %s ≤ 1 s.\n" % (
            f(r["log_latency_ms"].get("p50"), 0), f(r["log_latency_ms"].get("p95"), 0),
            f(r["log_latency_ms"].get("p99"), 0), f(r["log_latency_ms"].get("max"), 0),
            r["log_latency_ms"].get("n", 0),
            ", ".join("%s %d" % kv for kv in sorted(r["log_triggers"].items())) or "–",
            f(r["log_duration_ms"].get("p50"), 0), f(r["log_duration_ms"].get("p95"), 0),
            f(r["log_duration_ms"].get("p99"), 0),
            f(r.get("log_wait_ms", {}).get("p50"), 0), f(r.get("log_wait_ms", {}).get("p95"), 0),
            f(r.get("log_wait_ms", {}).get("p99"), 0),
            int(hm.get("count", 0)),
            f(hm["sum"] / hm["count"], 3) if hm.get("count") else "–",
            "%d" % b["0.5"] if "0.5" in b else "–", "%d" % b["1"] if "1" in b else "–"))
    du = r.get("deunhealth", {})
    out.append(
        "qdm12/deunhealth (an event-driven Go healer) is %s. It would not be a like-for-like "
        "peer anyway: it restarts running containers that turn `unhealthy` and does not start "
        "stopped ones.\n" % (
            "served by the Go module proxy but not measured here (%s)" % du.get("why")
            if du.get("served") else
            "not measured: the Go module proxy refused it (`go mod download -json "
            "github.com/qdm12/deunhealth@latest`: %s)" % du.get("why", "not tried")))
    if r.get("stop_errors"):
        out.append("Stop/kill calls that failed: %s.\n" % "; ".join(r["stop_errors"]))
    out.append("The requests the script sent for the API and webhook rows: answered in %s ms "
               "p50, %s ms max (the API answers once the start returned; the webhook at once), "
               "statuses %s.\n" % (
                   f(r["trigger_reply_ms"].get("p50")), f(r["trigger_reply_ms"].get("max")),
                   ", ".join(str(s) for s in r["trigger_status"])))
    ev_crash = rows.get("events-crash")
    if docker and op["dist"].get("n"):
        d = op["dist"]
        head.append(("heal p50 ≤ 0.5 s, p99 ≤ 1 s (die → start; event healing, `docker stop` + "
                     "`docker kill`)",
                     "%s s p50, %s s p95, %s s p99 (n=%d%s)" % (
                         f(d["p50"], 3), f(d["p95"], 3), f(d["p99"], 3), d["n"],
                         ", %d not restarted" % op["n_failed"] if op["n_failed"] else ""),
                     "Docker --restart always: leaves them stopped; after a crash %s s p50, "
                     "%s s p99" % (f(docker["dist"].get("p50"), 3),
                                   f(docker["dist"].get("p99"), 3)),
                     ratio(d["p50"], docker["dist"].get("p50"), 2),
                     verdict(d["p50"] <= 0.5 and d["p99"] <= 1.0 and not op["n_failed"])))
    if docker and ev_crash and ev_crash["dist"].get("n"):
        d = ev_crash["dist"]
        head.append(("heal after a crash, same kill as the peer (event healing)",
                     "%s s p50, %s s p99 (n=%d)" % (f(d["p50"], 3), f(d["p99"], 3), d["n"]),
                     "Docker --restart always %s s p50, %s s p99 (n=%d)" % (
                         f(docker["dist"].get("p50"), 3), f(docker["dist"].get("p99"), 3),
                         docker["dist"].get("n", 0)),
                     ratio(d["p50"], docker["dist"].get("p50"), 2),
                     verdict(d["p50"] <= 0.5 and d["p99"] <= 1.0 and not ev_crash["failed"])))
    return out


def sec4(p, head):
    r = p["result"]
    out = ["## 4. Scale-in timer accuracy\n", part_header(p)]
    out.append(
        "%d managed containers scaled out through the manual API (CPU) with durations %s, so "
        "the deadlines are staggered; no alert fires for them, so each scales in at its "
        "deadline. Error = `timeNano` of the scale-in's Docker `update` event minus the "
        "deadline the API returned (ms precision). Reference in the same run: %d other "
        "containers updated by this script's own timer (Python `threading.Timer`, then the "
        "same Docker call) at deadlines on the same schedule: what a timer plus one Docker "
        "update achieves on this machine. Times in ms (positive = late).\n" % (
            r["n"], r["durations"], r["n"]))
    out += DIST_HEAD
    out.append(dist_row("trip-receiver scale-in − deadline", r["receiver"], digits=0))
    out.append(dist_row("reference timer + update − deadline", r["reference"], digits=0))
    out.append("\n%d of %d scale-ins within ±1 s of the deadline; %d missing. Ratio of p99 "
               "errors (trip-receiver / reference): %s.\n" % (
                   r["within_1s"], r["n"], r["missing"],
                   ratio(r["receiver"].get("p99"), r["reference"].get("p99"), 2)))
    rv = r["receiver"]
    head.append(("scale-in within ±1 s of its deadline",
                 "%d/%d within; error p50 %s ms, p99 %s ms, max %s ms" % (
                     r["within_1s"], r["n"], f(rv.get("p50"), 0), f(rv.get("p99"), 0),
                     f(rv.get("max"), 0)),
                 "reference timer p99 %s ms" % f(r["reference"].get("p99"), 0),
                 ratio(rv.get("p99"), r["reference"].get("p99"), 2),
                 verdict(r["within_1s"] == r["n"])))
    return out


def sec5_rows(a, b, r):
    """Part 5's rows: (label, trip-receiver's figure, the peer's, digits)."""
    return [
        ("idle RSS p50, kB", a["idle_rss_kb"]["p50"], b["idle_rss_kb"]["p50"], 0),
        ("idle RSS max, kB", a["idle_rss_kb"]["max"], b["idle_rss_kb"]["max"], 0),
        ("idle RssAnon (heap, stacks), kB", a.get("idle_split_kb", {}).get("RssAnon"),
         b.get("idle_split_kb", {}).get("RssAnon"), 0),
        ("idle RssFile (binary and shared libraries), kB",
         a.get("idle_split_kb", {}).get("RssFile"), b.get("idle_split_kb", {}).get("RssFile"), 0),
        ("idle PSS (shared pages divided among their users), kB",
         a.get("idle_split_kb", {}).get("Pss"), b.get("idle_split_kb", {}).get("Pss"), 0),
        ("idle private memory (smaps_rollup Private_Clean + Private_Dirty), kB",
         a.get("idle_split_kb", {}).get("Private"), b.get("idle_split_kb", {}).get("Private"), 0),
        ("threads", a.get("idle_split_kb", {}).get("Threads"),
         b.get("idle_split_kb", {}).get("Threads"), 0),
        ("idle CPU over %d s, %% of one core" % r["idle_seconds"], a["idle_cpu_pct"],
         b["idle_cpu_pct"], 3),
        ("RSS under load p50, kB", a["load_rss_kb"].get("p50"), b["load_rss_kb"].get("p50"), 0),
        ("RSS under load max, kB", a["load_rss_kb"].get("max"), b["load_rss_kb"].get("max"), 0),
        ("peak RSS (VmHWM), kB", a["hwm_kb"], b["hwm_kb"], 0),
        ("RSS 3 s after load, kB", a["after_load_rss_kb"], b["after_load_rss_kb"], 0),
        ("requests/s during the load (all answers)", a["load_req_s"], b["load_req_s"], 0),
        ("CPU ms per 1000 requests, process", a["cpu_ms_per_1000_req_self"],
         b["cpu_ms_per_1000_req_self"], 1),
        ("CPU ms per 1000 requests, with children", a["cpu_ms_per_1000_req_with_children"],
         b["cpu_ms_per_1000_req_with_children"], 1),
    ]


def sec5(p, head):
    r = p["result"]
    a, b = r["receiver"], r["peer"]
    out = ["## 5. Footprint\n", part_header(p)]
    out.append(
        "trip-receiver (normal mode, 4 managed containers) and the peer, both started, then "
        "left idle together for %d s: RSS (`VmRSS`) sampled every second, CPU from "
        "`/proc/<pid>/stat` (utime + stime, plus reaped children). Then each under load alone: "
        "wrk, 16 connections, %d s, RSS sampled every 100 ms; CPU per 1000 requests. The "
        "peer's figures under load include the `/bin/true` it forks per request only in the "
        "\"with children\" column (its RSS is the Go process alone).%s\n" % (
            r["idle_seconds"], r["load_seconds"],
            " trip-receiver's figures are the sum of its %d processes (the privileged one and "
            "its HTTP process, privilege separation)." % r["receiver_processes"]
            if r.get("receiver_processes") else
            " trip-receiver's figures are its privileged process alone: its HTTP process "
            "(privilege separation) is not counted in this run."))
    rows = sec5_rows(a, b, r)
    d = r.get("receiver_dynamic")
    if d:
        # the same rows for the build on Debian's shared libraries, in a column beside
        drows = {label: x for label, x, _, _ in sec5_rows(d, d, r)}
        out.append("| measure | trip-receiver, static (the image's) | trip-receiver, Debian's "
                   "shared libraries | peer | ratio static/peer |")
        out.append("|---|---:|---:|---:|---:|")
        for label, x, y, dg in rows:
            out.append("| %s | %s | %s | %s | %s |" % (label, f(x, dg), f(drows[label], dg),
                                                     f(y, dg), ratio(x, y, 2)))
    else:
        out.append("| measure | trip-receiver | peer | ratio |")
        out.append("|---|---:|---:|---:|")
        for label, x, y, dg in rows:
            out.append("| %s | %s | %s | %s |" % (label, f(x, dg), f(y, dg), ratio(x, y, 2)))
    out.append("")
    if d:
        out.insert(-1 - len(rows) - 2, "The static trip-receiver is the binary the image ships "
                   "(receiver/Dockerfile: musl, libcurl without TLS, libmicrohttpd, jansson and "
                   "libseccomp from Debian's sources, FROM scratch), copied out of the image by "
                   "`tests/support/static-receiver`; the other is the build on Debian's shared "
                   "libraries (the host package's). Both ran side by side with the same flags.\n")
    head.append(("idle RSS ≤ 5 MB", "%s MiB p50%s" % (
                     f(a["idle_rss_kb"]["p50"] / 1024, 1),
                     (" (both processes, the image's static binary; on Debian's shared "
                      "libraries %s MiB)" % f(d["idle_rss_kb"]["p50"] / 1024, 1)) if d else
                     " (both processes)" if r.get("receiver_processes") else
                     " (privileged process only; its HTTP process not counted in this run)"),
                 "%s MiB" % f(b["idle_rss_kb"]["p50"] / 1024, 1),
                 ratio(a["idle_rss_kb"]["p50"], b["idle_rss_kb"]["p50"], 2),
                 verdict(a["idle_rss_kb"]["p50"] <= 5 * 1024)))
    return out


def sec6(p, head):
    r = p["result"]
    n = r["n"]
    out = ["## 6. Scale\n", part_header(p)]
    per = None
    if r.get("rss_kb_tracked") and r.get("rss_kb_managed_untracked"):
        per = (r["rss_kb_tracked"] - r["rss_kb_managed_untracked"]) * 1024 / n
    per_restart = None
    if r.get("rss_kb_tracked_after_restart") and r.get("rss_kb_managed_untracked"):
        per_restart = (r["rss_kb_tracked_after_restart"] - r["rss_kb_managed_untracked"]) * 1024 / n
    per_managed = None
    if r.get("rss_kb_managed_untracked") and r.get("rss_kb_before"):
        per_managed = (r["rss_kb_managed_untracked"] - r["rss_kb_before"]) * 1024 / (n + 1)
    out.append(
        "%d FROM-scratch workload containers (16 MiB memory limit each, opted in with "
        "`trip.enable=true`) plus one slow container, created 4 at a time in %.0f s and removed "
        "in %.0f s. Other projects' managed containers on this machine at the time: %s.\n" % (
            n, r["create_seconds"], r.get("remove_seconds", 0),
            f(r.get("managed_by_others"), 0)))
    out.append("| measure | value |")
    out.append("|---|---|")
    out.append("| start-up to first 200 on /readyz, %d containers tracked in state.json "
               "(reconcile) | %s s |" % (n, span(r["start_tracked_s"], 3)))
    out.append("| the same with an empty state directory (peer: no tracked state) | %s s |" %
               span(r["start_untracked_s"], 3))
    out.append("| ratio of medians (tracked / empty) | %s |" % ratio(
        median(r["start_tracked_s"]), median(r["start_untracked_s"]), 2))
    out.append("| RSS with none of these containers | %s kB |" % f(r.get("rss_kb_before"), 0))
    out.append("| RSS with %d more managed, none tracked | %s kB |" % (
        n + 1, f(r.get("rss_kb_managed_untracked"), 0)))
    out.append("| RSS with %d tracked (scaled out) | %s kB |" % (n, f(r.get("rss_kb_tracked"),
                                                                    0)))
    out.append("| RSS after a restart with %d tracked | %s kB |" % (
        n, f(r.get("rss_kb_tracked_after_restart"), 0)))
    out.append("| memory per tracked container (RSS difference / %d) | %s bytes |" % (n,
                                                                                 f(per, 0)))
    out.append("| the same, from the RSS after a restart (no request-time heap growth) | %s bytes |"
               % f(per_restart, 0))
    out.append("| memory per managed, untracked container | %s bytes |" % f(per_managed, 0))
    out.append("| state.json with %d tracked | %s bytes |" % (n, r.get("state_json_bytes")))
    out.append("| %d scale-outs through the API, 4 clients at once, round trip | p50 %s ms, "
               "p99 %s ms, max %s ms, %d failed |" % (
                   n, f(r["scale_out_all_ms"].get("p50")), f(r["scale_out_all_ms"].get("p99")),
                   f(r["scale_out_all_ms"].get("max")), r["scale_out_failed"]))
    out.append("")
    s = r.get("slow", {})
    same = r["during_same_worker_ms"]
    other = r["during_other_worker_ms"]
    out.append(
        "**A slow action next to fast ones.** The slow container has `--stop-signal SIGUSR2 "
        "--stop-timeout 10`: the workload runs as PID 1 without a SIGUSR2 handler, so the "
        "kernel drops the signal and Docker kills it after 10 s. A forced restart of it through "
        "the manual API took %s s (status %s). Scale-ins of other containers, round trip in ms: "
        "before it (baseline, one after another) and after it started (%d requests, each on its "
        "own connection, started 100 ms apart; all sent while it ran: %s, %d of them). "
        "trip-receiver runs %d engine workers serving one job queue: a free worker takes the "
        "oldest job whose container has no action running, so the slow restart holds one worker "
        "and the others serve every other container. Earlier versions pinned each container to "
        "one worker (FNV-1a of its name), so the containers hashed with the slow one waited for "
        "it (up to 10 s); the rows still split the probed containers by that hash, the last row "
        "being the group that used to wait.\n" % (
            f(s.get("seconds"), 1), s.get("status"), r["probe"],
            "yes" if r.get("during_all_while_slow_running") else "no",
            sum(1 for d in r.get("during", []) if d.get("while_slow_running")),
            r.get("workers", 4)))
    out += DIST_HEAD
    out.append(dist_row("baseline, no slow action", r["baseline_ms"]))
    allg = [d["ms"] for d in r.get("during", [])]
    if allg:
        out.append(dist_row("during it, all of them", {
            "n": len(allg), "min": min(allg), "p50": pctl(allg, 50), "p95": pctl(allg, 95),
            "p99": pctl(allg, 99), "max": max(allg)}))
    out.append(dist_row("during it, the containers the old hash put on other workers", other))
    out.append(dist_row("during it, the containers the old hash put on the slow one's worker",
                        same))
    out.append("")
    late = [g for g in (other, same) if g.get("n") and g.get("max", 0) >= 1000]
    if not late:
        out.append("Neither group waits for the %s s action: p99 %s of the baseline p99 for "
                   "the containers the old hash put on other workers, %s for those it put with "
                   "the slow container (max %s ms, n=%d; before the shared queue they waited up "
                   "to 10 s).\n" % (f(s.get("seconds"), 1),
                                    ratio(other.get("p99"), r["baseline_ms"].get("p99"), 2),
                                    ratio(same.get("p99"), r["baseline_ms"].get("p99"), 2),
                                    f(same.get("max"), 0), same.get("n", 0)))
    else:
        out.append("Some containers wait for the slow action: max %s ms for the containers the "
                   "old hash put on other workers, %s ms for those it put with the slow one "
                   "(n=%d).\n" % (f(other.get("max"), 0), f(same.get("max"), 0),
                                  same.get("n", 0)))
    isolated = not late
    if r.get("webhook_ms"):
        w, sr, sp = r["webhook_ms"], r.get("storm_receiver_s", {}), r.get("storm_policy_s", {})
        out.append(
            "**Idle, a big webhook, a heal storm** (the same receiver, every container managed and "
            "tracked, default `--refresh-interval`): idle CPU over %d s from `/proc/<pid>/stat`; "
            "one Alertmanager webhook naming %d firing alerts (%d bytes, one per container; the "
            "receiver's limit is 1 000), posted %d times, each once the receiver's actions had "
            "stopped for 2 s (the first queues the 1000 scale-outs, the next ones find them done "
            "and extend the deadlines, as Alertmanager's re-sends of a firing group do), answered "
            "from the container cache; then "
            "%d of the managed containers and %d unmanaged ones with Docker's `--restart always` "
            "(16 MiB, same image) SIGKILLed from the host in one loop, interleaved (%s ms from the "
            "first kill to the last): seconds from the first kill to each container's next "
            "`start` event.\n" % (
                r["idle_seconds"], r["webhook_alerts"], r["webhook_bytes"], w.get("n", 5),
                r["storm"], r["storm"], f(r.get("storm_kill_spread_ms"), 0)))
        out.append("| measure | value |")
        out.append("|---|---|")
        out.append("| idle CPU with %d managed, %% of one core | %s %% (RSS %s kB) |" % (
            n, f(r["idle_cpu_pct"], 2), f(r.get("idle_rss_kb"), 0)))
        out.append("| webhook naming %d alerts, answer time | p50 %s ms, max %s ms (n=%d) |" % (
            r["webhook_alerts"], f(w.get("p50")), f(w.get("max")), w.get("n", 0)))
        each = r.get("webhook_ms_each")
        if each:
            out.append("| the same, each post in order (ms; the first queued the scale-outs) | "
                       "%s |" % ", ".join(f(x) for x in each))
            out.append("| wait for the actions to stop before each post, and after the last (s) "
                       "| %s |" % ", ".join(f(x, 1) for x in r.get("webhook_quiet_s", [])))
        stormed = r.get("storm", 0) > 0
        if stormed:
            out.append("| heal storm, trip-receiver: %d killed, running again | p50 %s s, last %s "
                       "s, %d not restarted within 120 s |" % (
                           r["storm"], f(sr.get("p50"), 2), f(sr.get("max"), 2),
                           r.get("storm_receiver_missing", 0)))
            out.append("| heal storm, Docker --restart always: %d killed, running again | p50 %s "
                       "s, last %s s, %d not restarted within 120 s |" % (
                           r["storm"], f(sp.get("p50"), 2), f(sp.get("max"), 2),
                           r.get("storm_policy_missing", 0)))
        out.append("")
        if not stormed:
            out.append("The heal storm was not run this time (`BENCH_STORM_N=0`): on this host's "
                       "Docker 20.10, storms of 200 and 100 wedged libnetwork (goroutines waiting "
                       "on its controller), and so did a storm of 20 followed by the removal of "
                       "this part's 1021 containers (2026-11-30 01:59 UTC); the daemon had to be "
                       "restarted each time. Part 8 measures the storm on Docker 29 instead "
                       "(section 6b). On "
                       "2026-11-30 the removal wedged the daemon once more without a storm "
                       "(02:10 UTC, sandbox deletes waiting since its restart): the removal time "
                       "above includes that and the daemon's restart.\n")
        head.append(("a webhook naming %d alerts answered < 50 ms" % r["webhook_alerts"],
                     "%s ms max (p50 %s%s)" % (
                         f(w.get("max")), f(w.get("p50")),
                         "; the first, which queued the 1000 scale-outs, %s" % f(each[0])
                         if each else ""), "–", "–",
                     verdict(w.get("max") is not None and w["max"] < 50)))
        if stormed:
            head.append(("heal storm: %d killed at once, time to the last one running" % r["storm"],
                         "%s s (p50 %s)" % (f(sr.get("max"), 2), f(sr.get("p50"), 2)),
                         "Docker --restart always %s s (p50 %s)" % (f(sp.get("max"), 2),
                                                                    f(sp.get("p50"), 2)),
                         ratio(sr.get("max"), sp.get("max"), 2), "measured"))
        head.append(("idle CPU with %d managed containers" % n,
                     "%s %% of a core" % f(r["idle_cpu_pct"], 2), "–", "–", "measured"))
    head.append(("scale: %d managed containers" % n,
                 "start-up %s s tracked vs %s s empty; %s–%s bytes per tracked container" % (
                     f(median(r["start_tracked_s"]), 3), f(median(r["start_untracked_s"]), 3),
                     f(per_restart, 0), f(per, 0)),
                 "–", ratio(median(r["start_tracked_s"]), median(r["start_untracked_s"]), 2),
                 "measured"))
    head.append(("a 10 s action on one container does not delay others",
                 "others p99 %s ms, max %s ms (n=%d); of them, the old hash's same-worker group "
                 "max %s ms (n=%d)" % (
                     f(pctl(allg, 99), 0) if allg else "–", f(max(allg), 0) if allg else "–",
                     len(allg), f(same.get("max"), 0), same.get("n", 0)),
                 "baseline p99 %s ms" % f(r["baseline_ms"].get("p99"), 0),
                 ratio(pctl(allg, 99) if allg else None, r["baseline_ms"].get("p99"), 2),
                 verdict(isolated)))
    return out


ENGINE_NAMES = {"host": "the host's Docker Engine", "docker29": "Docker Engine 29 (tests/engines)"}
# Where each engine sends `die`, read off moby's daemon/monitor.go handleContainerExit (v20.10.24
# and v2.0.0-beta of github.com/moby/moby/v2, which is Docker 29): both start the restart policy's
# 100 ms timer (restartmanager.ShouldRestart) before they clean the container up (daemon.Cleanup:
# network sandbox, mounts), holding the container's lock until the end; a start call waits for it.
DIE_ORDER = {
    "host": "20.10 sends `die` *before* its clean-up, still holding the container's lock: a start "
            "called on `die` waits for the clean-up",
    "docker29": "29 sends `die` *after* its clean-up, just before it lets go of the lock: a start "
                "called on `die` runs at once",
}


def sec7(p, head):
    r = p["result"]
    out = ["## 3b. Heal ahead of Docker's restart policy: one crash at a time, two engines "
           "(part 7)\n",
           part_header(p)]
    first = next(iter(r["engines"].values()))
    out.append(
        "Part 3 interleaves its rows' stops, so Docker is often starting more than one container "
        "at once and a heal's time is mostly the wait for those. Here one container is crashed at a "
        "time (SIGKILL of its process from the host) and the next only once it runs again: %d "
        "containers per row, %d rounds, the rows in a rotating order, a Docker-policy container "
        "killed again only after it ran 10.5 s (Docker's back-off is back at 100 ms). Rows: "
        "Docker's `--restart always`; trip-receiver's event heal (`--heal-events=true "
        "--heal-stable 1s`, label-filtered to its row); a *bare start*: this script's own "
        "`POST /containers/{id}/start` on a container that crashed 0.5 s before (its clean-up "
        "done), from the call to the `start` event: the floor for any healer. Heal rows: `die` "
        "event → next `start` event (`timeNano`). Bridge network (Docker's default), the same "
        "image and limits in every row. Times in seconds.\n" % (first["k"], first["rounds"]))
    for tag, e in r["engines"].items():
        rows = e["rows"]
        kd = e["kill_die_ms"]
        out.append("**%s: %s.** %s. Kill → `die` p50: %s ms on the bridge, %s ms without a "
                   "network.\n" % (
                       ENGINE_NAMES.get(tag, tag), e["engine"], DIE_ORDER.get(tag, ""),
                       f(kd.get("events", {}).get("p50"), 1),
                       f(kd.get("events-none", {}).get("p50"), 1)))
        out += DIST_HEAD
        for key, label in (("policy", "Docker --restart always, crash: die → start"),
                           ("events", "trip-receiver event heal, crash: die → start"),
                           ("bare", "bare start call on a crashed container: call → start"),
                           ("policy-none", "no network: Docker --restart always, die → start"),
                           ("events-none", "no network: trip-receiver event heal, die → start")):
            if key not in rows:
                continue
            v = rows[key]
            out.append(dist_row(label + (" (%d failed)" % v["failed"] if v["failed"] else ""),
                                v["dist"], digits=3))
        out.append("")
        pol, evs, bare = rows["policy"]["dist"], rows["events"]["dist"], rows["bare"]["dist"]
        lead = (pol["p50"] - evs["p50"]) * 1000 if pol.get("p50") and evs.get("p50") else None
        poln = rows.get("policy-none", {}).get("dist", {})
        evsn = rows.get("events-none", {}).get("dist", {})
        lead_none = ((poln["p50"] - evsn["p50"]) * 1000 if poln.get("p50") and evsn.get("p50")
                     else None)
        out.append(
            "trip-receiver %s ms ahead of the restart policy at p50 (%s at p99) on the bridge, "
            "%s ms (%s at p99) without a network; %s / %s the bare start at p50 / p99. Its log: "
            "die event → its start call p50 %s ms, p99 %s ms (event delivery and queue); the "
            "start call p50 %s ms, p99 %s ms (n=%d; without a network %s ms p50). The bare start "
            "call returned in %s ms p50.\n" % (
                f(lead, 0), f((pol["p99"] - evs["p99"]) * 1000 if pol.get("p99") and
                              evs.get("p99") else None, 0),
                f(lead_none, 0), f((poln["p99"] - evsn["p99"]) * 1000 if poln.get("p99") and
                                   evsn.get("p99") else None, 0),
                ratio(evs.get("p50"), bare.get("p50"), 2),
                ratio(evs.get("p99"), bare.get("p99"), 2),
                f(e["log_wait_ms"].get("p50"), 0), f(e["log_wait_ms"].get("p99"), 0),
                f(e["log_duration_ms"].get("p50"), 0), f(e["log_duration_ms"].get("p99"), 0),
                e["log_duration_ms"].get("n", 0),
                f(e.get("log_duration_none_ms", {}).get("p50"), 0),
                f(e["bare_call_ms"].get("p50"), 1)))
        name = ENGINE_NAMES.get(tag, tag)
        failed = rows["events"]["failed"] + rows["policy"]["failed"]
        head.append(("heal after a crash ≥ 80 ms ahead of Docker's --restart always (p50, n ≥ 100; "
                     "one crash at a time, %s)" % name,
                     "%s ms ahead on a bridge network (%s s p50, n=%d); %s ms without a network" % (
                         f(lead, 0), f(evs.get("p50"), 3), evs.get("n", 0), f(lead_none, 0)),
                     "Docker --restart always %s s p50 (n=%d)" % (f(pol.get("p50"), 3),
                                                                  pol.get("n", 0)),
                     ratio(evs.get("p50"), pol.get("p50"), 2),
                     verdict(lead is not None and lead >= 80 and evs.get("n", 0) >= 100 and
                             not failed)))
        ok = (evs.get("p50") and bare.get("p50") and evs["p50"] <= 1.1 * bare["p50"] and
              evs["p99"] <= 1.1 * bare["p99"])
        head.append(("heal after a crash within 1.1× of a bare start call (p50, p99; %s)" % name,
                     "%s s p50, %s s p99" % (f(evs.get("p50"), 3), f(evs.get("p99"), 3)),
                     "bare start %s s p50, %s s p99" % (f(bare.get("p50"), 3),
                                                        f(bare.get("p99"), 3)),
                     "%s / %s" % (ratio(evs.get("p50"), bare.get("p50"), 2),
                                  ratio(evs.get("p99"), bare.get("p99"), 2)),
                     verdict(bool(ok) and not rows["events"]["failed"])))
    out.append(
        "Why the lead has a ceiling: both engines start the restart policy's 100 ms timer before "
        "they clean the dead container up, and a start call cannot begin before that clean-up "
        "ends (moby's `handleContainerExit` holds the container's lock through it; "
        "`containerStart` takes the lock). So no healer that learns of the death from `die` can "
        "be more than 100 ms minus the engine's clean-up ahead of the policy.\n")
    return out


def sec8(p, head):
    r = p["result"]
    out = ["## 6b. Heal storm on Docker 29 (part 8)\n", part_header(p)]
    out.append(
        "On %s (tests/engines: its own socket, data root and bridge): %d containers with "
        "trip-receiver's event healing (default 4 engine workers) and %d with Docker's "
        "`--restart always` (no network, 16 MiB, FROM-scratch sleepers; created in %s s). Three "
        "storms on the same containers, each once all of them ran 10.5 s (Docker's back-off is "
        "back at 100 ms): the receiver's %d SIGKILLed from the host in one loop, then the "
        "policy's %d, then all %d interleaved in one loop, as a host-wide crash would. Seconds "
        "from the first kill to each one's next `start` event.\n" % (
            r["engine"], r["storm"], r["storm"], f(r["created_s"], 0), r["storm"], r["storm"],
            2 * r["storm"]))
    out += DIST_HEAD
    labels = {"receiver": "alone", "policy": "alone", "both": "both at once"}
    for run in r["runs"]:
        for who, label in (("receiver", "trip-receiver event heal"),
                           ("policy", "Docker --restart always")):
            if who + "_s" in run:
                miss = run[who + "_missing"]
                out.append(dist_row("%s, %s%s" % (
                    label, labels[run["kind"]],
                    " (%d not restarted within 300 s)" % miss if miss else ""),
                    run[who + "_s"], digits=2))
    out.append("")
    out.append("Kills spread over %s ms. trip-receiver's log over the three storms: die event → "
               "its start call p50 %s ms, max %s ms (its queue: the workers start 4 containers at "
               "a time); the start calls p50 %s ms, max %s ms. Docker starts its policy's "
               "restarts all at once, each on its own goroutine; both share the engine's two "
               "cores. A first run with `--workers 16` was no faster (2026-11-30 05:05 UTC, "
               "storms of both at once: the last heal 118.7 s with 4 workers, 136.2 s with 16). "
               "The host's Docker 20.10 is not stormed: storms of 200 and 100 wedged its libnetwork "
               "(part 6).\n" % (
                   ", ".join(f(run["kill_spread_ms"], 0) for run in r["runs"]),
                   f(r["log_wait_ms"].get("p50"), 0), f(r["log_wait_ms"].get("max"), 0),
                   f(r["log_duration_ms"].get("p50"), 0), f(r["log_duration_ms"].get("max"), 0)))
    runs = {run["kind"]: run for run in r["runs"]}
    a, b, both = runs.get("receiver"), runs.get("policy"), runs.get("both")
    if a and b:
        sr, sp = a["receiver_s"], b["policy_s"]
        missing = sum(run.get("receiver_missing", 0) for run in r["runs"])
        head.append(("heal storm: %d killed at once, time to the last one running (Docker 29)" %
                     r["storm"],
                     "%s s alone (p50 %s)%s%s" % (
                         f(sr.get("max"), 2), f(sr.get("p50"), 2),
                         "; both at once %s s (policy's %s s)" % (
                             f(both["receiver_s"].get("max"), 2),
                             f(both["policy_s"].get("max"), 2)) if both else "",
                         "; %d not restarted" % missing if missing else ""),
                     "Docker --restart always alone %s s (p50 %s)" % (
                         f(sp.get("max"), 2), f(sp.get("p50"), 2)),
                     ratio(sr.get("max"), sp.get("max"), 2),
                     "measured" if not missing else "**misses**"))
    return out


SECTIONS = {1: sec1, 2: sec2, 3: sec3, 4: sec4, 5: sec5, 6: sec6, 7: sec7, 8: sec8}


def write():
    parts = load_parts()
    head = []
    body = []
    for n in (1, 2, 3, 7, 4, 5, 6, 8):  # parts 7 and 8 are sections 3b and 6b
        if n in parts:
            try:
                body += SECTIONS[n](parts[n], head)
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
                body += ["## %d. %s\n" % (n, parts[n]["title"]),
                         "The result file could not be formatted (%s: %s).\n" % (
                             type(e).__name__, e)]
        else:
            body += ["## %d. not run\n" % n, "No bench/out/part-%d.json: run `bench/run %d`.\n"
                     % (n, n)]
    cmd = os.environ.get("TRIP_BENCH_CMD", "bench/run")
    lines = ["# trip-receiver benchmarks: results\n",
             "Generated by `%s` on %s (each part below names the command that measured it). "
             "Do not edit: run the command again. What each part "
             "does and how to run one alone: [README.md](README.md).\n" % (
                 cmd, time.strftime("%Y-%m-%d %H:%M:%S %Z")),
             "The machine is shared with other work and noisy: each part states the load "
             "average before and after it; compare the ratios (same run, same load) rather "
             "than the absolute figures.\n",
             "## Machine\n", "| | |", "|---|---|"]
    for k, v in machine():
        lines.append("| %s | %s |" % (k, v))
    lines.append("")
    table = headline_table(head)
    lines += ["## Headline (targets from the benchmark specification)\n"] + table + [""]
    lines += body
    lines += kept_sections()
    with open(os.path.join(HERE, "results.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    update_readme(table, cmd)


def old_results():
    try:
        with open(os.path.join(HERE, "results.md")) as fh:
            return fh.read()
    except OSError:
        return ""


# Sections written by other bench scripts (bench/services, bench/scaling) between their markers:
# kept as they are, in this order.
KEPT = [("<!-- services:start -->", "<!-- services:end -->"),
        ("<!-- services-slo:start -->", "<!-- services-slo:end -->"),
        ("<!-- scaling:start -->", "<!-- scaling:end -->")]


def kept_sections():
    s, out = old_results(), []
    for a, b in KEPT:
        if a in s and b in s:
            out += ["", s[s.index(a):s.index(b) + len(b)]]
    return out


def kept_headline_rows():
    """Headline rows that another bench script measured: each names it, as (`bench/NAME`)."""
    m = re.search(r"^## Headline[^\n]*\n\n((?:\|[^\n]*\n)+)", old_results(), re.M)
    if not m:
        return []
    return [r for r in m.group(1).splitlines() if re.search(r"\(`bench/(services|scaling)`\)", r)]


def headline_table(head):
    t = ["| target | trip-receiver | peer in the same run | ratio | verdict |",
         "|---|---|---|---:|---|"]
    for row in head:
        t.append("| %s |" % " | ".join(row))
    return t + kept_headline_rows()


def update_readme(table, cmd):
    path = os.path.join(HERE, "README.md")
    if not os.path.exists(path):
        return
    with open(path) as fh:
        text = fh.read()
    start, end = "<!-- headline:start -->", "<!-- headline:end -->"
    if start not in text or end not in text:
        return
    block = "%s\n_From the last `%s`, %s; details and machine in [results.md](results.md)._\n\n" \
            "%s\n%s" % (start, cmd, time.strftime("%Y-%m-%d"), "\n".join(table), end)
    text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    with open(path, "w") as fh:
        fh.write(text)
