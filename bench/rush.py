"""`make bench`: the rush of ../shared/RUSH.md on this machine, ending with one JSON summary line.

Starts the stack as in production (its own redis-server with AOF, gunicorn from the Procfile's `web` line, WORKERS
`python worker.py` processes, PostgreSQL when DATABASE_URL names one, else SQLite), seeds the runners, creates the
race of bench/race.yaml, runs CLIENTS load-generator processes (bench/client.py), then measures join and /healthz
throughput with wrk (bench/join.lua) on a second race, reads the outcome from the database, and stops everything.
"""
import argparse
import base64
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marathon.config import database_url  # noqa: E402
from marathon.tooling.redis_server import RedisServer, free_port  # noqa: E402

BIN = Path(sys.executable).parent
BENCH = ROOT / "bench"
LOBBY_SHARE, WALKER_SHARE = 0.10, 0.10


def log(message):
    print(f"[rush {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def options():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--runners", type=int, default=int(env("RUNNERS") or 15000))
    parser.add_argument("--web-procs", type=int, default=int(env("WEB_PROCS") or 1),
                        help="separate gunicorn instances (each on its own port)")
    parser.add_argument("--web-concurrency", type=int, default=int(env("WEB_CONCURRENCY") or 2),
                        help="gunicorn worker processes per instance")
    parser.add_argument("--workers", type=int, default=int(env("WORKERS") or 2),
                        help="`python worker.py` processes (two, as production scales)")
    parser.add_argument("--clients", type=int, default=int(env("CLIENTS") or 2), help="load-generator processes")
    parser.add_argument("--time-limit", type=float, default=float(env("TIME_LIMIT") or 300),
                        help="seconds after the opening when runners without an outcome give up")
    parser.add_argument("--wrk-connections", type=int, default=int(env("WRK_CONNECTIONS") or 200))
    parser.add_argument("--spec", default=str(BENCH / "race.yaml"))
    parser.add_argument("--seed", type=int, default=int(env("BENCH_SEED") or 7))
    parser.add_argument("--profile", default=env("PROFILE") or "",
                        help="py-spy record the web workers during the rush into the run folder ('web')")
    return parser.parse_args()


class Stack:
    """Every process the run starts, so that all of them are stopped whatever happens."""

    def __init__(self, run_dir, env):
        self.run_dir, self.env = run_dir, env
        self.processes = {}  # name -> Popen
        self.redis = None

    def start(self, name, command, **extra):
        env = dict(self.env, **{key: str(value) for key, value in extra.items()})
        sink = open(self.run_dir / f"{name}.log", "wb")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def stop_all(self):
        for name, process in self.processes.items():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.redis:
            self.redis.stop()


def procfile(name):
    for row in (ROOT / "Procfile").read_text().splitlines():
        if row.startswith(f"{name}:"):
            command = row.split(":", 1)[1].split()
            if command[0] == "python":
                command[0] = sys.executable
            elif (BIN / command[0]).exists():
                command[0] = str(BIN / command[0])
            return command
    raise KeyError(name)


def flask(env, *args, check=True):
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=check)


def has_command(env, *words):
    return flask(env, *words, "--help", check=False).returncode == 0


def http_get(url, timeout=5, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as answer:
        return answer.status, answer.read()


def wait_http(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


# --- processes' memory and CPU, sampled from /proc ---------------------------------------------------------------

def descendants(pid):
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            for task in Path(f"/proc/{parent}/task").iterdir():
                children = (task / "children").read_text().split()
                found += [int(child) for child in children]
                frontier += [int(child) for child in children]
        except OSError:
            pass
    return found


def rss_mb(pid):
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


class Monitor(threading.Thread):
    """Peak RSS of the largest process of each role, and each role's CPU use per second."""

    def __init__(self, roles):
        super().__init__(daemon=True)
        self.roles = roles  # role -> callable giving root pids
        self.peak_rss = {role: 0.0 for role in roles}
        self.timeline = []
        self.stopped = threading.Event()

    def pids(self, role):
        return [pid for root in self.roles[role]() for pid in descendants(root)]

    def run(self):
        last = {}
        last_at = time.time()
        while not self.stopped.wait(1.0):
            moment = time.time()
            sample = {"t": round(moment, 1)}
            for role in self.roles:
                pids = self.pids(role)
                self.peak_rss[role] = max([self.peak_rss[role]] + [rss_mb(pid) for pid in pids])
                used = sum(cpu_seconds(pid) for pid in pids)
                if role in last:
                    sample[f"{role}_cpu_pct"] = round(100 * (used - last[role]) / (moment - last_at), 1)
                last[role] = used
            last_at = moment
            self.timeline.append(sample)

    def stop(self):
        self.stopped.set()
        self.join(3)


# --- the scenario's data ------------------------------------------------------------------------------------------

def spread(demand, total):
    """Runners per bucket: the demand of 15,000 scaled to `total` (largest remainders)."""
    whole = sum(demand.values())
    exact = {line: count * total / whole for line, count in demand.items()}
    counts = {line: int(value) for line, value in exact.items()}
    for line in sorted(exact, key=lambda name: exact[name] - counts[name], reverse=True)[: total - sum(counts.values())]:
        counts[line] += 1
    return counts


def user_of(token):
    payload = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def make_plan(tokens, demand, ports, rng):
    lines = [line for line, count in spread(demand, len(tokens)).items() for _ in range(count)]
    rng.shuffle(lines)
    lobby = set(rng.sample(range(len(tokens)), round(LOBBY_SHARE * len(tokens))))
    walkers = set(rng.sample(range(len(tokens)), round(WALKER_SHARE * len(tokens))))
    plan = []
    for index, (token, line) in enumerate(zip(tokens, lines)):
        course, group = line.split("/")
        plan.append({"index": index, "user": user_of(token), "token": token, "course": course, "pace_group": group,
                     "lobby": index in lobby, "walker": index in walkers, "port": ports[index % len(ports)]})
    return plan


def race_spec(template, slug, opens_at):
    spec = dict(template, slug=slug)
    spec["sale_opens_at"] = opens_at.isoformat()
    spec["sale_closes_at"] = (opens_at + timedelta(days=1)).isoformat()
    spec["date"] = (opens_at + timedelta(days=60)).date().isoformat()
    spec["refund_until"] = (opens_at + timedelta(days=30)).isoformat()
    return spec


# the spec validator's least hold (10 s); RUSH.md's scenario wants 20 s holds so that abandoned places come back
MIN_HOLD_S = 10


def create_race(env, run_dir, spec, use_cli, engine):
    """Create the race with `flask race create` (bench/fallback.py before it existed); returns its id.
    A hold shorter than the validator allows is created at its least and then set in the database (the workers
    read hold_seconds from the race's row at every admission)."""
    path = run_dir / f"{spec['slug']}.json"
    hold_seconds = spec["hold_seconds"]
    path.write_text(json.dumps(dict(spec, hold_seconds=max(hold_seconds, MIN_HOLD_S)), indent=1))
    if use_cli:
        done = flask(env, "race", "create", str(path), check=False)
        if done.returncode:
            raise RuntimeError(f"flask race create refused {path}: {done.stdout} {done.stderr}")
    else:
        done = subprocess.run([sys.executable, str(BENCH / "fallback.py"), "race", str(path)], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
    race_id = int(done.stdout.strip().splitlines()[-1])
    if hold_seconds < MIN_HOLD_S:
        with engine.begin() as conn:
            conn.execute(text("UPDATE races SET hold_seconds = :s WHERE id = :r"), {"s": hold_seconds, "r": race_id})
        log(f"race {race_id}: hold_seconds set to {hold_seconds} in the database (the spec validator's least is "
            f"{MIN_HOLD_S})")
    return race_id


# --- measuring -----------------------------------------------------------------------------------------------------

def percentile(values, share):
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))], 1)


def inversions(sequence):
    """Pairs (i < j) with sequence[i] > sequence[j], by merge sort."""
    if len(sequence) < 2:
        return sequence, 0
    middle = len(sequence) // 2
    left, a = inversions(sequence[:middle])
    right, b = inversions(sequence[middle:])
    merged, count, i, j = [], a + b, 0, 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            count += len(left) - i
            j += 1
    return merged + left[i:] + right[j:], count


def histogram_quantile(metrics_text, route_suffix, method, share):
    """The `share` quantile (ms) of marathon_http_request_seconds for routes ending with route_suffix."""
    buckets = {}
    pattern = re.compile(r'^marathon_http_request_seconds_bucket\{(.*)\} ([0-9.e+]+)$')
    for row in metrics_text.splitlines():
        found = pattern.match(row)
        if not found:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
        if labels.get("method") != method or not labels.get("route", "").endswith(route_suffix):
            continue
        bound = math.inf if labels["le"] == "+Inf" else float(labels["le"])
        buckets[bound] = buckets.get(bound, 0) + float(found.group(2))
    if not buckets or not buckets.get(math.inf):
        return None
    total, previous_bound, previous_count = buckets[math.inf], 0.0, 0.0
    for bound in sorted(buckets):
        if buckets[bound] >= share * total:
            if bound == math.inf:
                return round(previous_bound * 1000, 1)
            width = buckets[bound] - previous_count
            fraction = (share * total - previous_count) / width if width else 1
            return round((previous_bound + (bound - previous_bound) * fraction) * 1000, 1)
        previous_bound, previous_count = bound, buckets[bound]
    return None


def from_database(engine, race_id, records, plan, opens_at):
    """The invariants and timings the database shows (joined with what the clients saw)."""
    figures = {}
    with engine.connect() as conn:
        buckets = {row.id: row for row in conn.execute(text(
            "SELECT p.id, p.capacity, c.code || '/' || p.code AS line FROM pace_groups p JOIN courses c "
            "ON c.id = p.course_id WHERE p.race_id = :r"), {"r": race_id})}
        confirmed = dict(conn.execute(text(
            "SELECT bucket_id, count(*) FROM registrations WHERE race_id = :r AND status = 'confirmed' "
            "GROUP BY bucket_id"), {"r": race_id}).all())
        figures["confirmed"] = sum(confirmed.values())
        figures["capacity"] = sum(row.capacity for row in buckets.values())
        figures["oversold"] = sum(max(0, confirmed.get(bucket_id, 0) - row.capacity) for bucket_id, row in buckets.items())
        doubled = set(conn.execute(text(
            "SELECT user_id FROM registrations WHERE race_id = :r AND status = 'confirmed' GROUP BY user_id "
            "HAVING count(*) > 1"), {"r": race_id}).scalars())
        doubled |= set(conn.execute(text(
            "SELECT user_id FROM holds WHERE race_id = :r AND status IN ('active', 'confirmed') GROUP BY user_id "
            "HAVING count(*) > 1"), {"r": race_id}).scalars())
        figures["duplicates"] = len(doubled)
        lobby_users = {runner["user"] for runner in plan if runner["lobby"]}
        holds = conn.execute(text(
            "SELECT h.bucket_id, h.user_id, h.arrival, le.lobby FROM holds h LEFT JOIN line_entries le "
            "ON le.bucket_id = h.bucket_id AND le.arrival = h.arrival WHERE h.race_id = :r ORDER BY h.id"),
            {"r": race_id}).all()
        per_bucket = {}
        for bucket_id, user_id, arrival, in_lobby in holds:
            if in_lobby or (in_lobby is None and user_id in lobby_users):
                continue
            per_bucket.setdefault(bucket_id, []).append(arrival)
        figures["fifo_inversions"] = sum(inversions(arrivals)[1] for arrivals in per_bucket.values())
        journaled = set(conn.execute(text("SELECT user_id FROM line_entries WHERE race_id = :r"),
                                     {"r": race_id}).scalars())
        registered = set(conn.execute(text(
            "SELECT user_id FROM registrations WHERE race_id = :r AND status = 'confirmed'"), {"r": race_id}).scalars())
        times = sorted(conn.execute(text(
            "SELECT created_at FROM registrations WHERE race_id = :r AND status = 'confirmed'"),
            {"r": race_id}).scalars())
        figures["buckets"] = {row.line: {"capacity": row.capacity, "confirmed": confirmed.get(bucket_id, 0)}
                              for bucket_id, row in sorted(buckets.items())}
    user_of_index = {runner["index"]: runner["user"] for runner in plan}
    acked = [record for record in records if record["acked"]]
    no_outcome = {user_of_index[r["index"]] for r in acked if r["outcome"] in (None, "not_in_line")}
    unjournaled = {user_of_index[r["index"]] for r in acked} - journaled
    unrecorded = {user_of_index[r["index"]] for r in records if r["outcome"] == "confirmed"} - registered
    figures["lost"] = len(no_outcome | unjournaled | unrecorded)
    figures["lost_detail"] = {"no_outcome": len(no_outcome), "not_journaled": len(unjournaled),
                              "paid_without_registration": len(unrecorded)}

    def seconds(moment):
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return round((moment - opens_at).total_seconds(), 2)

    figures["confirmed_80_s"] = seconds(times[math.ceil(0.8 * len(times)) - 1]) if times else None
    figures["sold_out_s"] = seconds(times[-1]) if times else None
    return figures


def joined_span(engine, race_id, expected, timeout=30):
    """Joins per second as the server stamped them (line_entries.joined_at, once the workers have journaled them):
    wrk's own clock runs for its whole -d, however early its threads ran out of tokens."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            stamps = conn.execute(text("SELECT joined_at FROM line_entries WHERE race_id = :r"),
                                  {"r": race_id}).scalars().all()
        if len(stamps) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    stamps = sorted(datetime.fromisoformat(s) if isinstance(s, str) else s for s in stamps)
    span = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else 0
    return {"journaled": len(stamps), "span_s": round(span, 3),
            "join_rps": round(len(stamps) / span, 1) if span > 0 else None}


def run_wrk(args, ports, script_env, path, duration=None):
    """One wrk per web port at once; returns the summed WRK lines."""
    threads = 1 if len(ports) > 1 else 2
    runs = []
    for port in ports:
        command = ["wrk", "-t", str(threads), "-c", str(max(threads, args.wrk_connections // len(ports))),
                   "-d", f"{duration or 60}s", "--timeout", "10s", "-s", str(BENCH / "join.lua"),
                   f"http://127.0.0.1:{port}{path}"]
        env = dict(os.environ, WRK_THREADS=str(threads), **script_env.get(port, {}))
        runs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    results = []
    for process in runs:
        output = process.communicate(timeout=(duration or 60) + 30)[0]
        found = [row for row in output.splitlines() if row.startswith("WRK ")]
        if not found:
            raise RuntimeError(f"wrk printed no result: {output[-2000:]}")
        results.append(json.loads(found[-1][4:]))
    total = {key: sum(result[key] for result in results) for key in ("ok", "refused", "failed", "requests",
                                                                      "socket_errors")}
    total["seconds"] = max(result["seconds"] for result in results)
    total["ok_rps"] = round(sum(result["ok_rps"] for result in results), 1)
    total["p50_ms"] = max(result["p50_ms"] for result in results)
    total["p99_ms"] = max(result["p99_ms"] for result in results)
    return total


def main():
    args = options()
    load_before = [round(x, 2) for x in os.getloadavg()]  # the machine may be shared: say how busy it was
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = BENCH / "out" / f"run-{stamp}"
    run_dir.mkdir(parents=True)
    metrics_dir = run_dir / "prometheus"
    metrics_dir.mkdir()
    template = yaml.safe_load(Path(args.spec).read_text())
    spec_template, demand = template["spec"], template["demand"]

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{run_dir / 'marathon.db'}"
    sqlalchemy_url = database_url(url)
    engine = create_engine(sqlalchemy_url)
    database = engine.dialect.name
    if database == "postgresql":
        with engine.begin() as conn:  # a clean schema for the run, as the test suite does
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    env = dict(os.environ)
    env.update(MARATHON_ENV="production", SECRET_KEY=secrets.token_hex(16), JWT_SECRET_KEY=secrets.token_hex(32),
               DATABASE_URL=url, RATE_LIMIT_BY_IP="off", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", WEB_LOG_LEVEL="warning", WORKER_LOG_LEVEL="WARNING",
               PAYMENT_PROVIDER="fake",
               # production refuses fake payments unless told so by name, and wants its own webhook and metrics secrets
               ALLOW_FAKE_PAYMENTS="on", PAYMENT_WEBHOOK_SECRET=secrets.token_urlsafe(48),
               METRICS_TOKEN=secrets.token_urlsafe(32))
    stack = Stack(run_dir, env)
    monitor = None
    summary = {}
    try:
        stack.redis = RedisServer(run_dir / "redis", appendonly=True).start()
        env["REDIS_URL"] = stack.redis.url
        log(f"redis {stack.redis.url}, database {database}; migrating")
        flask(env, "db", "upgrade")
        ports = [free_port() for _ in range(args.web_procs)]
        for index, port in enumerate(ports):
            stack.start(f"web{index}", procfile("web"), PORT=port, WEB_CONCURRENCY=args.web_concurrency)
        for index in range(args.workers):
            stack.start(f"worker{index}", procfile("worker"))
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/healthz")
        openapi = json.loads(http_get(f"http://127.0.0.1:{ports[0]}/api/openapi.json")[1])
        paying = any(path.startswith("/api/v1/payments/") and path.endswith("/confirm") for path in openapi["paths"])

        seed_env = dict(env, MARATHON_ENV="development")
        tokens_file = run_dir / "runners.jsonl"
        started = time.monotonic()
        if has_command(seed_env, "seed", "runners"):
            flask(seed_env, "seed", "runners", "--count", str(args.runners), "--out", str(tokens_file))
            seeded_by = "flask seed runners"
        else:
            subprocess.run([sys.executable, str(BENCH / "fallback.py"), "seed", str(args.runners), str(tokens_file)],
                           cwd=ROOT, env=seed_env, check=True)
            seeded_by = "bench/fallback.py"
        tokens = [json.loads(row)["access_token"] for row in tokens_file.read_text().splitlines()]
        log(f"{len(tokens)} runners seeded by {seeded_by} in {time.monotonic() - started:.1f} s")
        use_cli = has_command(env, "race", "create")

        rng = random.Random(args.seed)
        plan = make_plan(tokens, demand, ports, rng)
        open_delay = math.ceil(10 + args.runners / 1500)
        opens_at = (datetime.now(timezone.utc) + timedelta(seconds=open_delay)).replace(microsecond=0)
        race_id = create_race(env, run_dir, race_spec(spec_template, "rush-bench", opens_at), use_cli, engine)
        open_epoch = opens_at.timestamp()
        lobby_epoch = open_epoch - 4
        deadline = open_epoch + args.time_limit
        log(f"race {race_id} opens at {opens_at.isoformat()} (in {open_epoch - time.time():.1f} s); "
            f"payments {'on' if paying else 'not merged: admitted runners are counted as would_pay'}")

        clients = []
        for index in range(args.clients):
            plan_file = run_dir / f"plan{index}.jsonl"
            plan_file.write_text("".join(json.dumps(runner) + "\n" for runner in plan[index::args.clients]))
            command = [sys.executable, str(BENCH / "client.py"), str(plan_file), str(run_dir / f"client{index}.json"),
                       "--race", str(race_id), "--lobby-at", str(lobby_epoch), "--open-at", str(open_epoch),
                       "--deadline", str(deadline)] + (["--pay"] if paying else [])
            clients.append(stack.start(f"client{index}", command))
        webs = [stack.processes[f"web{i}"] for i in range(args.web_procs)]
        workers = [stack.processes[f"worker{i}"] for i in range(args.workers)]
        monitor = Monitor({"web": lambda: [p.pid for p in webs], "worker": lambda: [p.pid for p in workers],
                           "client": lambda: [p.pid for p in clients],
                           "redis": lambda: [stack.redis.process.pid]})
        monitor.start()
        web_cpu = lambda: sum(cpu_seconds(pid) for pid in monitor.pids("web"))  # noqa: E731
        scenario_cpu_before = web_cpu()
        profiler = None
        py_spy = shutil.which("py-spy") or (str(BIN / "py-spy") if (BIN / "py-spy").exists() else None)
        if args.profile == "web" and py_spy:
            time.sleep(max(0.0, open_epoch - time.time() - 1))
            children = [pid for pid in descendants(webs[0].pid) if pid != webs[0].pid]
            profiler = subprocess.Popen(
                [py_spy, "record", "-o", str(run_dir / "web-profile.txt"), "-f", "raw", "-d", "20", "-r", "200",
                 "--gil", "-p", str(children[0])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for client in clients:
            client.wait(timeout=args.time_limit + open_delay + 60)
        if profiler:
            profiler.wait(30)
        finished = time.time()
        scenario_web_cpu = web_cpu() - scenario_cpu_before
        log(f"scenario done {finished - open_epoch:.1f} s after the opening")
        metrics_text = http_get(f"http://127.0.0.1:{ports[0]}/metrics", timeout=30,
                                headers={"Authorization": f"Bearer {env['METRICS_TOKEN']}"})[1].decode()
        (run_dir / "metrics.txt").write_text(metrics_text)

        results = [json.loads((run_dir / f"client{i}.json").read_text()) for i in range(args.clients)]
        records = [record for result in results for record in result["records"]]
        latency = {kind: [value for result in results for value in result["latency"][kind]]
                   for kind in results[0]["latency"]}
        http = {}
        for result in results:
            for key, count in result["http"].items():
                http[key] = http.get(key, 0) + count
        status_of = [(int(key.split()[1]), count) for key, count in http.items()]
        outcomes = {}
        for record in records:
            outcomes[str(record["outcome"])] = outcomes.get(str(record["outcome"]), 0) + 1
        burst = [record for record in records if record["acked"] and not plan[record["index"]]["lobby"]]
        last_ack = max((record["join_acked"] for record in burst), default=open_epoch)
        client_join_rps = round(len(burst) / max(last_ack - open_epoch, 1e-3), 1) if burst else None
        db_figures = from_database(engine, race_id, records, plan, opens_at)

        # throughput with wrk, after the scenario, on a second race of the same shape: one join per runner
        wrk_opens = (datetime.now(timezone.utc) + timedelta(seconds=3)).replace(microsecond=0)
        wrk_race = create_race(env, run_dir, race_spec(dict(spec_template, lobby_minutes=0), "rush-bench-wrk",
                                                       wrk_opens), use_cli, engine)
        token_files = {}
        for port in ports:
            path = run_dir / f"wrk-tokens-{port}.txt"
            path.write_text("".join(f"{r['token']} {r['course']} {r['pace_group']}\n" for r in plan
                                    if r["port"] == port))
            token_files[port] = {"JOIN_TOKENS": str(path), "JOIN_RACE": str(wrk_race)}
        cpu_before = web_cpu()
        baseline = run_wrk(args, ports, {}, "/healthz", duration=5)
        baseline_cpu = web_cpu() - cpu_before
        time.sleep(max(0.0, wrk_opens.timestamp() - time.time() + 0.5))
        cpu_before = web_cpu()
        wrk_join = run_wrk(args, ports, token_files, "/healthz", duration=max(5, math.ceil(args.runners / 1000)))
        join_cpu = web_cpu() - cpu_before
        with engine.begin() as conn:  # no admissions in the throughput race once its joins are counted
            conn.execute(text("UPDATE races SET manual_state = 'paused' WHERE id = :r"), {"r": wrk_race})
        wrk_join.update(joined_span(engine, wrk_race, wrk_join["ok"]))
        log(f"wrk joins {wrk_join}; wrk healthz {baseline}")

        summary = {
            "runners": args.runners, "capacity": db_figures["capacity"], "database": database,
            "confirmed": db_figures["confirmed"] if paying else None,
            "oversold": db_figures["oversold"], "duplicates": db_figures["duplicates"],
            "fifo_inversions": db_figures["fifo_inversions"], "lost": db_figures["lost"],
            "http_5xx": sum(count for status, count in status_of if status >= 500),
            "http_other_errors": sum(count for status, count in status_of if 400 <= status < 500 and status != 429),
            "http_429": sum(count for status, count in status_of if status == 429),
            "join_rps": wrk_join["join_rps"],
            "join_p50_ms": percentile(latency["join"], 0.50), "join_p99_ms": percentile(latency["join"], 0.99),
            "status_p99_ms": percentile(latency["status"], 0.99),
            "confirm_p99_ms": percentile(latency["confirm"], 0.99) if paying else None,
            "confirmed_80_s": db_figures["confirmed_80_s"] if paying else None,
            "sold_out_s": db_figures["sold_out_s"] if paying else None,
            "baseline_rps": baseline["ok_rps"],
            "join_to_baseline": round(wrk_join["join_rps"] / baseline["ok_rps"], 3) if baseline["ok_rps"] else None,
            "web_rss_mb": round(monitor.peak_rss["web"], 1), "worker_rss_mb": round(monitor.peak_rss["worker"], 1),
            # context beyond RUSH.md's keys
            "web_procs": args.web_procs, "web_concurrency": args.web_concurrency, "workers": args.workers,
            "clients": args.clients, "payments": paying, "seeded_by": seeded_by,
            "outcomes": outcomes, "lost_detail": db_figures["lost_detail"],
            "client_join_rps": client_join_rps, "wrk_join_refused": wrk_join["refused"] + wrk_join["failed"],
            "server_join_p99_ms": histogram_quantile(metrics_text, "/queue", "POST", 0.99),
            "server_status_p99_ms": histogram_quantile(metrics_text, "/queue/me", "GET", 0.99),
            "server_confirm_p99_ms": histogram_quantile(metrics_text, "/confirm", "POST", 0.99),
            "client_cpu_s": round(sum(result["cpu_s"] for result in results), 1),
            # web CPU per request: the whole scenario (joins, polls, orders, confirms), wrk's joins, wrk's /healthz
            "web_cpu_s": round(scenario_web_cpu, 1),
            "web_cpu_us_per_request": round(1e6 * scenario_web_cpu / max(1, sum(http.values()))),
            "web_cpu_us_per_join": round(1e6 * join_cpu / max(1, wrk_join["ok"] + wrk_join["refused"])),
            "web_cpu_us_per_healthz": round(1e6 * baseline_cpu / max(1, baseline["requests"])),
            "client_peak_cpu_pct": max((sample.get("client_cpu_pct", 0) for sample in monitor.timeline), default=0),
            "reconnects": sum(result["stats"]["reconnects"] for result in results),
            "transport_errors": sum(result["stats"]["transport_errors"] for result in results),
            "load_avg_before": load_before, "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            "run_dir": str(run_dir.relative_to(ROOT)),
        }
        (run_dir / "http.json").write_text(json.dumps(http, indent=1, sort_keys=True))
        (run_dir / "buckets.json").write_text(json.dumps(db_figures["buckets"], indent=1))
    finally:
        if monitor:
            monitor.stop()
            (run_dir / "timeline.json").write_text(json.dumps(monitor.timeline))
        stack.stop_all()
        engine.dispose()
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
