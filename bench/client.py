"""The rush's load generator: one asyncio process holding a slice of the runners, one keep-alive connection each.

Lean on purpose (raw asyncio streams, hand-written HTTP/1.1, uvloop when installed): one Python process spends its
core on HTTP, so bench/rush.py starts several and watches their CPU. Every runner: connects before the opening,
joins its bucket's line (in the lobby or at the opening), asks for its status no sooner than retry_after_s, and pays
at once when admitted (create + confirm), except the walkers, who let their hold expire.

python bench/client.py PLAN.jsonl OUT.json --race ID --lobby-at EPOCH --open-at EPOCH --deadline EPOCH [--pay]
"""
import argparse
import asyncio
import json
import os
import random
import time

try:
    import uvloop
except ImportError:  # the plain loop works, a little slower
    uvloop = None

HOST = "127.0.0.1"
CONNECT_CHUNK = 500
JOIN_TRIES = 5
RESEND_TRIES = 6


class Answer:
    __slots__ = ("status", "body", "retry_after")

    def __init__(self, status, body, retry_after):
        self.status, self.body, self.retry_after = status, body, retry_after

    def json(self):
        try:
            return json.loads(self.body) if self.body else {}
        except ValueError:
            return {}


class Connection:
    """One runner's keep-alive HTTP/1.1 connection; reopens (and counts it) when the server closed it."""

    def __init__(self, port, stats):
        self.port, self.stats = port, stats
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method, path, token, body=None):
        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Length: {len(payload)}\r\n")
        if body is not None:
            head += "Content-Type: application/json\r\n"
        message = head.encode() + b"\r\n" + payload
        for attempt in range(RESEND_TRIES):
            try:
                if self.writer is None:
                    self.stats["reconnects"] += 1
                    await self.open()
                self.writer.write(message)
                raw = await self.reader.readuntil(b"\r\n\r\n")
                status = int(raw[9:12])
                lower = raw.lower()
                length, retry_after, closing = 0, None, False
                at = lower.find(b"\r\ncontent-length:")
                if at >= 0:
                    length = int(lower[at + 17: lower.index(b"\r\n", at + 2)])
                at = lower.find(b"\r\nretry-after:")
                if at >= 0:
                    retry_after = float(lower[at + 14: lower.index(b"\r\n", at + 2)])
                if b"\r\nconnection: close" in lower:
                    closing = True
                data = await self.reader.readexactly(length) if length else b""
                if closing:
                    self.close()
                return Answer(status, data, retry_after)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                # the server closed or lost the connection: a browser reconnects and asks again
                self.close()
                if attempt == RESEND_TRIES - 1:
                    raise
                self.stats["resent"] += 1
                if attempt:
                    self.stats["transport_errors"] += 1
                    await asyncio.sleep(1)
        raise AssertionError("unreachable")


class Client:
    def __init__(self, args, plan):
        self.args, self.plan = args, plan
        self.stats = {"reconnects": 0, "resent": 0, "transport_errors": 0}
        self.http = {}
        self.latency = {"join": [], "lobby_join": [], "status": [], "pay_create": [], "confirm": []}
        self.base = f"/api/v1/races/{args.race}"

    def count(self, answer, what):
        key = f"{what} {answer.status}"
        if answer.status >= 400:
            key += f" {answer.json().get('reason', '')}"
        self.http[key] = self.http.get(key, 0) + 1

    async def timed(self, conn, kind, method, path, token, body=None):
        started = time.perf_counter()
        answer = await conn.request(method, path, token, body)
        self.latency[kind].append(round((time.perf_counter() - started) * 1000, 2))
        self.count(answer, kind)
        return answer

    async def run_runner(self, runner, conn):
        record = runner["record"]
        token = runner["token"]
        await asyncio.sleep(max(0.0, (self.args.lobby_at if runner["lobby"] else self.args.open_at) - time.time()))
        kind = "lobby_join" if runner["lobby"] else "join"
        body = {"course": runner["course"], "pace_group": runner["pace_group"]}
        retry = 1.0
        for _ in range(JOIN_TRIES):
            record["join_sent"] = time.time()
            answer = await self.timed(conn, kind, "POST", f"{self.base}/queue", token, body)
            if answer.status == 202:
                joined = answer.json()
                record.update(acked=True, join_acked=time.time(), arrival=joined["arrival"],
                              lobby_join=joined.get("lobby"))
                retry = joined["retry_after_s"]
                break
            reason = answer.json().get("reason")
            if answer.status == 409 and reason == "already_in_line":  # a resent join that had gone through
                record.update(acked=True, join_acked=time.time())
                break
            if answer.status in (429, 503) or answer.status >= 500:
                await asyncio.sleep(answer.retry_after or 1)
                continue
            record["outcome"] = f"join_refused_{reason or answer.status}"
            return
        else:
            record["outcome"] = "join_failed"
            return
        while time.time() < self.args.deadline:
            await asyncio.sleep(retry)
            answer = await self.timed(conn, "status", "GET", f"{self.base}/queue/me", token)
            if answer.status != 200:
                if answer.status == 404:
                    record["outcome"] = "not_in_line"
                    return
                retry = answer.retry_after or 1
                continue
            place = answer.json()
            state = place["status"]
            record["arrival"] = place.get("arrival", record.get("arrival"))
            if state == "waiting":
                retry = place.get("retry_after_s") or 1
                continue
            if state == "admitted":
                record.setdefault("admitted_at", time.time())
                record["hold_id"] = place["hold"]["id"]
                if runner["walker"]:
                    record["outcome"] = "walked_away"
                    return
                if not self.args.pay:
                    record["outcome"] = "would_pay"
                    return
                outcome = await self.pay(conn, token, place["hold"], record)
                if outcome:
                    record["outcome"] = outcome
                    return
                retry = 1
                continue
            if state in ("confirmed", "sold_out", "expired", "left"):
                record["outcome"] = state
                return
            retry = place.get("retry_after_s") or 1
        record["outcome"] = None  # the time limit came first

    async def pay(self, conn, token, hold, record):
        """Create the order and confirm it with the fake provider; returns the outcome, or None to ask again."""
        answer = await self.timed(conn, "pay_create", "POST", "/api/v1/payments", token, {"hold_id": hold["id"]})
        if answer.status == 410:
            return "expired"
        if answer.status not in (200, 201):
            return None if answer.status >= 500 or answer.status == 429 else f"pay_refused_{answer.status}"
        order = answer.json()
        key = f"fake_{order['order_id']}_{random.getrandbits(32):08x}"
        answer = await self.timed(conn, "confirm", "POST", f"/api/v1/payments/{order['order_id']}/confirm", token,
                                  {"payment_key": key, "amount": order["amount"]})
        if answer.status == 200:
            paid = answer.json()
            record["registration_id"] = (paid.get("registration") or {}).get("id")
            record["confirmed_at"] = time.time()
            return "confirmed"
        if answer.status == 410:
            return "expired"
        return None if answer.status >= 500 or answer.status == 429 else f"confirm_refused_{answer.status}"

    async def one(self, runner, conn):
        try:
            await self.run_runner(runner, conn)
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
            self.stats["transport_errors"] += 1
            runner["record"]["outcome"] = None
            runner["record"]["error"] = type(error).__name__
        finally:
            conn.close()

    async def main(self):
        conns = []
        for first in range(0, len(self.plan), CONNECT_CHUNK):
            chunk = [Connection(runner["port"], self.stats) for runner in self.plan[first:first + CONNECT_CHUNK]]
            await asyncio.gather(*(conn.open() for conn in chunk))
            conns += chunk
        self.stats["connected_at"] = time.time()
        tasks = [asyncio.create_task(self.one(runner, conn)) for runner, conn in zip(self.plan, conns)]
        await asyncio.wait(tasks, timeout=max(1.0, self.args.deadline - time.time() + 15))
        for task in tasks:
            task.cancel()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan")
    parser.add_argument("out")
    parser.add_argument("--race", required=True)
    parser.add_argument("--lobby-at", type=float, required=True)
    parser.add_argument("--open-at", type=float, required=True)
    parser.add_argument("--deadline", type=float, required=True)
    parser.add_argument("--pay", action="store_true")
    args = parser.parse_args()
    with open(args.plan, encoding="utf-8") as source:
        plan = [json.loads(row) for row in source]
    for runner in plan:
        runner["record"] = {"index": runner["index"], "outcome": None, "acked": False}
    client = Client(args, plan)
    cpu_before, wall_before = os.times(), time.time()
    if uvloop is not None:
        uvloop.run(client.main())
    else:
        asyncio.run(client.main())
    cpu_after = os.times()
    result = {
        "records": [runner["record"] for runner in plan], "latency": client.latency, "http": client.http,
        "stats": client.stats, "cpu_s": round((cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system), 2),
        "wall_s": round(time.time() - wall_before, 2), "loop": "uvloop" if uvloop is not None else "asyncio",
    }
    with open(args.out, "w", encoding="utf-8") as sink:
        json.dump(result, sink)


if __name__ == "__main__":
    main()
