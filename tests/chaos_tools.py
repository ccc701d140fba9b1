"""Tools of the chaos tests: a TCP proxy to cut the database, a rush of runners that records every answer, and the
checks that no acknowledged place was lost and no place was sold twice."""
import hashlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from flask_jwt_extended import create_access_token
from sqlalchemy import func, insert, select

from marathon.blueprints.auth.models import User
from marathon.blueprints.lines.keys import RaceKeys
from marathon.blueprints.races.models import PaceGroup
from marathon.blueprints.registrations.models import Hold
from marathon.extensions import db, redis_store
from marathon.tooling.redis_server import free_port


class TcpProxy:
    """127.0.0.1:port -> target. stop() cuts every open connection and refuses new ones; start() serves again on the
    same port. Stands for a database that goes away and comes back without touching the real server."""

    def __init__(self, target_host, target_port, port=None):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.listener = None
        self.connections = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        listener.settimeout(0.1)
        self.stopping = threading.Event()
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener, self.stopping), daemon=True).start()
        return self

    def _accept(self, listener, stopping):
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self.lock:
                self.connections.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
            with self.lock:
                self.connections.discard(source)
                self.connections.discard(sink)

    def stop(self):
        self.stopping.set()
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        with self.lock:
            open_ones, self.connections = list(self.connections), set()
        for sock in open_ones:
            _close(sock)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def make_runners(count, prefix, roles="runner"):
    """`count` accounts inserted in one statement (no Argon2: they never log in), each with a 1-hour access token.
    Returns [(user_id, token)]. Call inside an app context."""
    rows = [{"email": f"{prefix}{i}@example.com", "password_hash": "unused", "name": f"{prefix} {i}",
             "birth_date": date(1990, 1, 1), "phone": f"0107{i:07d}", "identity_hash": hashlib.sha256(f"{prefix}-{i}".encode()).hexdigest(),
             "roles": roles} for i in range(count)]
    db.session.execute(insert(User), rows)
    db.session.commit()
    ids = db.session.execute(select(User.id).where(User.email.like(f"{prefix}%@example.com")).order_by(User.id)) \
        .scalars().all()
    return [(user_id, create_access_token(identity=str(user_id), additional_claims={"roles": roles.split(",")},
                                          expires_delta=timedelta(hours=1))) for user_id in ids]


class Answer:
    __slots__ = ("status", "body", "headers")

    def __init__(self, status, body, headers):
        self.status, self.body, self.headers = status, body, headers

    @property
    def reason(self):
        return self.body.get("reason") if isinstance(self.body, dict) else None


class Rush:
    """Runners joining and polling a race through the real web process; records every answer it gets."""

    ALLOWED = {
        "join": {202, 409, 429, 503},
        "status": {200, 429, 503},
        "me": {200, 503},
        "readyz": {200, 503},
        "leave": {204, 503},
        "lost": {404},  # the status of a join Redis lost before it was journaled (the documented window)
    }

    def __init__(self, base_url, race_ref, threads=16, timeout=20):
        self.base_url, self.race_ref, self.timeout = base_url, race_ref, timeout
        self.pool = ThreadPoolExecutor(max_workers=threads)
        self.lock = threading.Lock()
        self.codes = {name: Counter() for name in self.ALLOWED}
        self.problems = []  # answers that break the promise: 5xx other than 503, 503 without Retry-After, ...
        self.acknowledged = {}  # user id -> line, for every join the server accepted (202, or 409 already_in_line)
        self.line_of = {}
        self.token_of = {}
        self.next_ok = {}
        self.stopping = threading.Event()
        self.pollers = []

    # -- one request ---------------------------------------------------------------------------------------------
    def call(self, name, method, path, token=None, body=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), dict(error.headers)
        except OSError as error:  # a request the server never answered counts against it too
            status, raw, got = 0, str(error).encode(), {}
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        answer = Answer(status, parsed, got)
        with self.lock:
            self.codes[name][status] += 1
            if status not in self.ALLOWED[name]:
                self.problems.append((name, status, parsed))
            elif status in (429, 503) and not got.get("Retry-After"):
                self.problems.append((name, status, "no Retry-After"))
        return answer

    # -- joining ---------------------------------------------------------------------------------------------------
    def join(self, user_id, token, course, pace_group, deadline):
        """Join, coming back after Retry-After while the service says 503, until the deadline."""
        self.token_of[user_id] = token
        while time.monotonic() < deadline:
            answer = self.call("join", "POST", f"/api/v1/races/{self.race_ref}/queue", token,
                               {"course": course, "pace_group": pace_group})
            if answer.status == 202 or (answer.status == 409 and answer.reason == "already_in_line"):
                with self.lock:
                    self.acknowledged[user_id] = f"{course}/{pace_group}"
                    told = answer.body.get("retry_after_s") if answer.status == 202 else None
                    self.next_ok[user_id] = time.monotonic() + float(told or 1)
                return answer
            if answer.status in (429, 503):
                self.stopping.wait(min(float(answer.headers.get("Retry-After") or 1), 2))
                continue
            with self.lock:
                self.problems.append(("join", answer.status, answer.body))
            return answer
        with self.lock:
            self.problems.append(("join", "gave up", user_id))
        return None

    def join_all(self, runners, lines, wait=True, within=60):
        """Every runner joins (the i-th the line lines[i % len(lines)]); returns the futures, or waits for them."""
        deadline = time.monotonic() + within
        futures = [self.pool.submit(self.join, user_id, token, *lines[index % len(lines)], deadline)
                   for index, (user_id, token) in enumerate(runners)]
        if wait:
            for future in futures:
                future.result()
        return futures

    # -- the background traffic while a fault is on ------------------------------------------------------------------
    def start_polling(self, me_token, threads=3):
        """Status requests of acknowledged runners (at the pace they were told), /auth/me and /readyz, until stopped."""
        self.stopping.clear()
        for index in range(threads):
            thread = threading.Thread(target=self._poll, args=(me_token, index, threads), daemon=True)
            thread.start()
            self.pollers.append(thread)

    def _poll(self, me_token, index, threads):
        turn = 0
        while not self.stopping.is_set():
            turn += 1
            with self.lock:
                due = [user for user, at in self.next_ok.items() if at <= time.monotonic() and user % threads == index]
            for user in due[:20]:
                answer = self.call("status", "GET", f"/api/v1/races/{self.race_ref}/queue/me", self.token_of[user])
                if answer.status == 404:
                    with self.lock:
                        self.problems.append(("status", 404, f"acknowledged runner {user} not in line"))
                wait = answer.body.get("retry_after_s") if answer.status == 200 and isinstance(answer.body, dict) \
                    else answer.headers.get("Retry-After")
                with self.lock:
                    self.next_ok[user] = time.monotonic() + float(wait or 1)
            if turn % 3 == 0:
                self.call("me", "GET", "/api/v1/auth/me", me_token)
                self.call("readyz", "GET", "/readyz")
            self.stopping.wait(0.05)

    def stop_polling(self):
        self.stopping.set()
        for thread in self.pollers:
            thread.join(30)
        self.pollers = []
        self.stopping.clear()

    def close(self):
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def summary(self):
        total = sum(sum(counter.values()) for counter in self.codes.values())
        parts = ", ".join(f"{name} {dict(sorted(counter.items()))}" for name, counter in self.codes.items() if counter)
        return f"{total} requests: {parts}; {len(self.acknowledged)} joins acknowledged"


def places(race_id):
    """The race's places as the database and Redis see them (call inside the chaos app's context)."""
    db.session.rollback()
    keys = RaceKeys(race_id)
    client = redis_store.client
    holds = db.session.execute(
        select(Hold.user_id, Hold.bucket_id, Hold.status, Hold.id)
        .where(Hold.race_id == race_id, Hold.status.in_(("active", "confirmed")))
    ).all()
    buckets = db.session.execute(select(PaceGroup).filter_by(race_id=race_id)).scalars().all()
    who = {int(user): value.decode() for user, value in client.hgetall(keys.who).items()}
    in_line, pending = set(), set()
    for bucket in buckets:
        in_line.update(int(user) for user in client.zrange(keys.line(bucket.id), 0, -1))
        in_line.update(int(user) for user in client.zrange(keys.lobby(bucket.id), 0, -1))
        pending.update(int(user) for user in client.hkeys(keys.pending(bucket.id)))
    counts = dict(db.session.execute(
        select(Hold.bucket_id, func.count()).where(Hold.race_id == race_id, Hold.status.in_(("active", "confirmed")))
        .group_by(Hold.bucket_id)
    ).all())
    db.session.rollback()
    return {"holds": holds, "buckets": buckets, "who": who, "in_line": in_line, "pending": pending, "counts": counts}


def settled(race_id, acknowledged):
    """True once every bucket holds min(capacity, its acknowledged joins, its admission window) and no batch is
    pending. The window is the pacing's (marathon.admission.pacing): it grows only with payments, and the rush pays
    nobody, so it stays near its opening value."""
    seen = places(race_id)
    wanted = Counter(acknowledged.values())
    client = redis_store.client
    for bucket in seen["buckets"]:
        window = int(client.hget(RaceKeys(race_id).bucket(bucket.id), "window") or bucket.capacity)
        if bucket.held < min(bucket.capacity, wanted.get(bucket.line, 0), window):
            return False
    return not seen["pending"]


def assert_promise_kept(race_id, acknowledged):
    """No place sold twice, counters true to the holds, and every acknowledged join in line or holding a place."""
    seen = places(race_id)
    users = [user for user, *_ in seen["holds"]]
    assert len(users) == len(set(users)), "a runner holds two places"
    for bucket in seen["buckets"]:
        live = seen["counts"].get(bucket.id, 0)
        assert bucket.held + bucket.confirmed == live, f"{bucket.line}: counters {bucket.held}+{bucket.confirmed} != {live}"
        assert live <= bucket.capacity, f"{bucket.line}: {live} places sold of {bucket.capacity}"
    holding = set(users)
    assert not holding & seen["in_line"], "runners both holding a place and waiting in line"
    lost = []
    hold_of = {user: (status, hold_id) for user, _bucket, status, hold_id in seen["holds"]}
    for user in acknowledged:
        if user in holding:
            status, hold_id = hold_of[user]
            mirror = seen["who"].get(user, "")
            if status == "active" and not (mirror.startswith("H|") and mirror.split("|")[3] == str(hold_id)):
                lost.append((user, f"hold {hold_id} not mirrored in Redis", mirror))
            if status == "confirmed" and not mirror.startswith("R|"):
                lost.append((user, "registration not mirrored in Redis", mirror))
        elif not (seen["who"].get(user, "").startswith("L|") and (user in seen["in_line"] or user in seen["pending"])):
            lost.append((user, seen["who"].get(user)))
    assert not lost, f"{len(lost)} acknowledged joins lost, e.g. {lost[:5]}"
    return seen
