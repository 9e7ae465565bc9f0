#!/usr/bin/python3
# Reads the CSV of scripts/soak and either draws it or checks it. Python 3 standard library only: the
# SVG is written by hand, so it needs no plotting package on the machine.
#
#   /usr/bin/python3 scripts/lib/soak_chart.py soak.csv soak.svg
#       the chart: small multiples against elapsed minutes (RSS, heap, fds, CPU, catalogue and WAL, queue
#       depth, workload rate), with the broker restart and the aggregator kill marked; with more than 4
#       hubs, the hubs are drawn as their maximum and median
#   python3 scripts/lib/soak_chart.py --check --rate R soak.csv
#       the resource checks: prints the rules, then one PASS/FAIL line per check; exits 1 if any failed
#
# The CSV (see scripts/soak): elapsed_s,changes,kind,name,pid,rss_kib,rss_anon_kib,fds,cpu_s,
# catalogue_bytes,wal_bytes,queue_depth; kind is daemon (one row per process per sample), national (the
# catalogue, its WAL and the national queue per sample; queue_depth empty while the broker is down) or
# event.
#
# Rules of --check (printed with the results):
# - Growth, per daemon, over the life of the process alive at the end (hubs start with the run; the
#   aggregator, restarted at 60%, is measured from its restart): baseline = its sample nearest to 5 minutes
#   after it started; last = its last sample, taken after convergence. RSS (VmRSS) passes when last <=
#   baseline + 5%; open fds when last <= max(baseline + 5%, baseline + 2), because one reconnect in flight
#   changes a small count by one or two.
#   A load shorter than 10 minutes uses the sample nearest to 25% of the load instead of 5 minutes. Both
#   assume stores seeded before the load (scripts/soak --seed): a hub's heap grows with its first
#   ~20,000 records (SQLite page caches filling), which is warm-up, not a leak. A process with no sample
#   after its baseline is not judged.
# - Queue depth, with bound B = 10 s of traffic (10 x R messages): passes when the depth at the end of the
#   load (the last sample at or before load-end) is at most B, and the largest depth of the last quarter
#   of the load is at most max(B, the largest depth before it), so the queue drains after the faults
#   (which land at 50% and 60%) and does not keep growing.
import argparse
import csv
import html
import math
import statistics
import sys
from collections import defaultdict, namedtuple

Proc = namedtuple("Proc", "t pid rss_kib anon_kib fds cpu_s")
National = namedtuple("National", "t changes catalogue wal depth")


class Run:
    def __init__(self, path):
        self.daemons = defaultdict(list)  # name -> [Proc], in time order
        self.national = []
        self.events = []  # (t, name)
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                t = float(row["elapsed_s"])
                if row["kind"] == "daemon":
                    self.daemons[row["name"]].append(Proc(
                        t, row["pid"], int(row["rss_kib"] or 0), int(row.get("rss_anon_kib") or 0),
                        int(row["fds"] or 0), float(row["cpu_s"] or 0)))
                elif row["kind"] == "national":
                    depth = int(row["queue_depth"]) if row["queue_depth"] else None
                    self.national.append(National(t, int(row["changes"]), int(row["catalogue_bytes"] or 0),
                                                  int(row["wal_bytes"] or 0), depth))
                elif row["kind"] == "event":
                    self.events.append((t, row["name"]))
        for samples in self.daemons.values():
            samples.sort(key=lambda s: s.t)
        self.national.sort(key=lambda n: n.t)
        self.events.sort()
        last = max([n.t for n in self.national] + [t for t, _ in self.events] + [0.0])
        self.load_end = self.event("load-end", last)

    def event(self, name, default=None):
        return next((t for t, n in self.events if n == name), default)

    def names(self):
        """The aggregator first, then the hubs in province order."""
        return sorted(self.daemons, key=lambda n: (n != "aggregator", n))

    def hubs(self):
        return [n for n in self.names() if n.startswith("hub-")]

    def cpu_percent(self, name):
        """CPU % of one core between consecutive samples of the same process."""
        out, samples = [], self.daemons[name]
        for a, b in zip(samples, samples[1:]):
            if a.pid == b.pid and b.t > a.t:
                out.append((b.t, b.pid, 100.0 * (b.cpu_s - a.cpu_s) / (b.t - a.t)))
        return out


# --- checks ---------------------------------------------------------------------------------------
def mib(kib):
    return f"{kib / 1024:.1f}"


def percent(a, b):
    return 100.0 * (b - a) / max(a, 1)


def growth_checks(run):
    short = run.load_end < 600
    window = 0.25 * run.load_end if short else 300.0
    print(f"growth rule: baseline = each process's sample nearest {window:.0f}s into its life "
          f"({'25% of the load, for a run under 10 min' if short else '5 min'}), last = its last sample; "
          "RSS within +5%, fds within max(+5%, +2)")
    ok = True
    for name in run.names():
        samples = run.daemons[name]
        life = [s for s in samples if s.pid == samples[-1].pid]  # the aggregator: since its restart
        base = min(life, key=lambda s: abs(s.t - (life[0].t + window)))
        last = life[-1]
        if base is last:
            print(f"SKIP growth {name:<11} pid {last.pid} has no sample after its baseline")
            continue
        rss_ok = last.rss_kib <= base.rss_kib * 1.05
        fds_ok = last.fds <= max(base.fds * 1.05, base.fds + 2)
        ok &= rss_ok and fds_ok
        print(f"{'PASS' if rss_ok and fds_ok else 'FAIL'} growth {name:<11} "
              f"rss {mib(base.rss_kib)} -> {mib(last.rss_kib)} MiB "
              f"({percent(base.rss_kib, last.rss_kib):+.1f}%{'' if rss_ok else ' > 5%'}), "
              f"heap {mib(base.anon_kib)} -> {mib(last.anon_kib)} MiB; "
              f"fds {base.fds} -> {last.fds}{'' if fds_ok else ' (over)'}; t={base.t:.0f}s -> {last.t:.0f}s")
    return ok


def queue_check(run, rate):
    bound = 10 * rate
    print(f"queue rule: B = 10 s of traffic = {bound} messages; the depth at load end <= B, and the last "
          "quarter of the load reaches no new high above max(B, the high before it)")
    load = [n for n in run.national if n.depth is not None and n.t <= run.load_end + 0.5]
    if not load:
        print("FAIL queue-depth no queue depth sampled during the load")
        return False
    top = max(load, key=lambda n: n.depth)
    end = load[-1]
    quarter = 0.75 * run.load_end
    early = max([n.depth for n in load if n.t <= quarter] or [0])
    late = max([n.depth for n in load if n.t > quarter] or [0])
    ok = end.depth <= bound and late <= max(bound, early)
    print(f"{'PASS' if ok else 'FAIL'} queue-depth at load end {end.depth} (t={end.t:.0f}s); max {top.depth} "
          f"at t={top.t:.0f}s; last quarter max {late}, before it {early}")
    return ok


def cpu_summary(run):
    means = {}
    for name in run.names():
        during = [p for t, _, p in run.cpu_percent(name) if t <= run.load_end + 0.5]
        if during:
            means[name] = statistics.fmean(during)
    hubs = [v for n, v in means.items() if n.startswith("hub-")]
    text = f"cpu during the load (% of one core, mean): aggregator {means.get('aggregator', 0):.0f}%"
    if hubs:
        text += f", hubs median {statistics.median(hubs):.0f}% max {max(hubs):.0f}%"
    print(text)


def check(run, rate):
    ok = growth_checks(run)
    ok = queue_check(run, rate) and ok
    cpu_summary(run)
    return ok


# --- chart ----------------------------------------------------------------------------------------
SERIES_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#8c564b", "#e377c2", "#bcbd22"]
EVENT_STYLE = {  # name: (colour, label)
    "broker-restart": ("#9467bd", "broker restart"),
    "aggregator-kill": ("#ff7f0e", "aggregator SIGKILL"),
    "load-end": ("#7f7f7f", "load end"),
    "converged": ("#17becf", "converged"),
}


def nice_ticks(high, count=5):
    """Ticks from 0 to at least `high` on a 1-2-2.5-5 step."""
    high = high if high > 0 else 1.0
    step = 10 ** math.floor(math.log10(high / count))
    for m in (1, 2, 2.5, 5, 10):
        if high / (step * m) <= count:
            step *= m
            break
    ticks = [0.0]
    while ticks[-1] < high - 1e-9 * step:
        ticks.append(ticks[-1] + step)
    return ticks


def label(v):
    if v >= 10000:
        return f"{v / 1000:g}k"
    return f"{round(v, 6):g}"


def segments(points):
    """[(t, pid, v)] -> polylines split where the process changes, so a restart shows as a gap."""
    out, current, pid = [], [], None
    for t, p, v in points:
        if p != pid and current:
            out.append(current)
            current = []
        current.append((t, v))
        pid = p
    if current:
        out.append(current)
    return out


def daemon_series(run, value):
    """The aggregator, then each hub (up to 4 hubs) or the hubs' max and median per sample."""
    series = [("aggregator", segments(value("aggregator")))] if "aggregator" in run.daemons else []
    hubs = run.hubs()
    if len(hubs) <= 4:
        series += [(h, segments(value(h))) for h in hubs]
    else:
        by_time = defaultdict(list)
        for h in hubs:
            for t, _, v in value(h):
                by_time[round(t)].append(v)
        times = sorted(by_time)
        series.append((f"hubs max ({len(hubs)})", [[(t, max(by_time[t])) for t in times]]))
        series.append(("hubs median", [[(t, statistics.median(by_time[t])) for t in times]]))
    return series


def panels(run):
    rss = lambda n: [(s.t, s.pid, s.rss_kib / 1024) for s in run.daemons[n]]
    heap = lambda n: [(s.t, s.pid, s.anon_kib / 1024) for s in run.daemons[n]]
    fds = lambda n: [(s.t, s.pid, s.fds) for s in run.daemons[n]]
    depth = [[(n.t, n.depth) for n in run.national if n.depth is not None]]
    load = [n for n in run.national if n.t <= run.load_end + 0.5]  # not the idle sample after convergence
    rate = [(b.t, (b.changes - a.changes) / (b.t - a.t)) for a, b in zip(load, load[1:]) if b.t > a.t]
    return [
        ("Resident memory (VmRSS)", "MiB", daemon_series(run, rss)),
        ("Heap (RssAnon: where a leak shows)", "MiB", daemon_series(run, heap)),
        ("Open file descriptors", "fds", daemon_series(run, fds)),
        ("CPU", "% of one core", daemon_series(run, run.cpu_percent)),
        ("Catalogue on disk", "MiB", [
            ("catalogue", [[(n.t, n.catalogue / 1048576) for n in run.national]]),
            ("WAL", [[(n.t, n.wal / 1048576) for n in run.national]])]),
        ("National queue depth", "messages", [("jippnas.national", depth)]),
        ("Workload", "changes/s", [("made", [rate])]),
    ]


class Svg:
    def __init__(self, width, height):
        self.width, self.height = width, height
        self.parts = []

    def add(self, text):
        self.parts.append(text)

    def text(self, x, y, s, size=11, anchor="start", color="#222", extra=""):
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{color}" {extra}>'
                 f'{html.escape(s)}</text>')

    def line(self, x1, y1, x2, y2, color="#222", width=1, dash=""):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                 f'stroke-width="{width}"{d}/>')

    def render(self):
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
                f'viewBox="0 0 {self.width} {self.height}" font-family="DejaVu Sans, Arial, sans-serif">\n'
                f'<rect width="100%" height="100%" fill="white"/>\n')
        return head + "\n".join(self.parts) + "\n</svg>\n"


def draw_panel(svg, run, x0, y0, w, h, title, unit, series, xmax):
    left, right, top, bottom = 62, 12, 42, 38
    px, py, pw, ph = x0 + left, y0 + top, w - left - right, h - top - bottom
    ymax = max([v for _, segs in series for seg in segs for _, v in seg] + [0])
    yticks = nice_ticks(ymax * 1.05)
    xtop = xmax * 1.02  # the axis ends with the data: no empty last tick interval
    xticks = [m for m in nice_ticks(xmax / 60) if m * 60 <= xtop]
    ytop = yticks[-1]
    X = lambda t: px + pw * t / xtop
    Y = lambda v: py + ph - ph * v / ytop
    svg.text(x0 + left, y0 + 16, title, size=13, extra='font-weight="bold"')
    for v in yticks:
        svg.line(px, Y(v), px + pw, Y(v), color="#e6e6e6")
        svg.text(px - 6, Y(v) + 4, label(v), size=10, anchor="end")
    for m in xticks:
        svg.line(X(m * 60), py + ph, X(m * 60), py + ph + 4)
        svg.text(X(m * 60), py + ph + 16, label(m), size=10, anchor="middle")
    svg.text(px + pw / 2, py + ph + 32, "elapsed (min)", size=10, anchor="middle")
    svg.text(x0 + 14, py + ph / 2, unit, size=10, anchor="middle",
             extra=f'transform="rotate(-90 {x0 + 14} {py + ph / 2:.1f})"')
    draw_events(svg, run, X, py, ph)
    svg.line(px, py, px, py + ph)
    svg.line(px, py + ph, px + pw, py + ph)
    legend_x = px
    for i, (name, segs) in enumerate(series):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        for seg in segs:
            pts = " ".join(f"{X(t):.1f},{Y(v):.1f}" for t, v in seg)
            svg.add(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.6"/>')
            if len(seg) == 1:
                svg.add(f'<circle cx="{X(seg[0][0]):.1f}" cy="{Y(seg[0][1]):.1f}" r="2" fill="{color}"/>')
        svg.line(legend_x, y0 + 29, legend_x + 16, y0 + 29, color=color, width=2)  # under the title
        svg.text(legend_x + 20, y0 + 33, name, size=10)
        legend_x += 34 + 6 * len(name)


def draw_events(svg, run, X, py, ph):
    restart, up = run.event("broker-restart"), run.event("broker-up")
    if restart is not None:  # the broker's absence as a band
        end = up if up is not None else restart
        svg.add(f'<rect x="{X(restart):.1f}" y="{py:.1f}" width="{max(X(end) - X(restart), 1):.1f}" '
                f'height="{ph:.1f}" fill="#9467bd" fill-opacity="0.15"/>')
    for t, name in run.events:
        if name in EVENT_STYLE:
            svg.line(X(t), py, X(t), py + ph, color=EVENT_STYLE[name][0], width=1.2, dash="5,3")


def chart(run, path):
    cols, pw, ph = 2, 560, 265
    all_panels = panels(run)
    rows = math.ceil(len(all_panels) / cols)
    header = 62
    svg = Svg(cols * pw + 20, header + rows * ph + 10)
    hubs = run.hubs()
    made = run.national[-1].changes if run.national else 0
    svg.text(20, 24, f"jippnas soak: {len(hubs)} hubs + aggregator, {made} changes, load "
             f"{run.load_end / 60:.1f} min", size=15, extra='font-weight="bold"')
    x = 20
    for name, (color, text) in EVENT_STYLE.items():
        t = run.event(name)
        if t is None:
            continue
        if name == "broker-restart":  # drawn as a band, until broker-up
            svg.add(f'<rect x="{x}" y="38" width="18" height="12" fill="{color}" fill-opacity="0.15"/>')
            up = run.event("broker-up")
            text += f" {t / 60:.1f}-{up / 60:.1f} min" if up is not None else f" {t / 60:.1f} min"
        else:
            text += f" {t / 60:.1f} min"
        svg.line(x, 44, x + 18, 44, color=color, width=1.5, dash="5,3")
        svg.text(x + 22, 48, text, size=11)
        x += 40 + 6.5 * len(text)
    xmax = max([n.t for n in run.national] + [t for t, _ in run.events] + [1.0])
    for i, (title, unit, series) in enumerate(all_panels):
        draw_panel(svg, run, 10 + (i % cols) * pw, header + (i // cols) * ph, pw, ph, title, unit, series, xmax)
    with open(path, "w") as f:
        f.write(svg.render())


def main(argv):
    parser = argparse.ArgumentParser(prog="soak_chart.py", description="Chart or check a scripts/soak CSV.")
    parser.add_argument("--check", action="store_true", help="print the resource checks instead of drawing")
    parser.add_argument("--rate", type=int, default=1000, help="requested changes/s (for the queue bound)")
    parser.add_argument("csv")
    parser.add_argument("svg", nargs="?")
    options = parser.parse_args(argv)
    run = Run(options.csv)
    if options.check:
        return 0 if check(run, options.rate) else 1
    if not options.svg:
        parser.error("give the SVG file to write, or --check")
    chart(run, options.svg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
