"""What the proof of work costs: a native solver (the altcha package: hashlib.pbkdf2_hmac) against the page's pow.js
in headless Chromium, on challenges made as marathon makes them. Usage:
    .venv/bin/python bench/pow_cost.py [--difficulty 50000] [--runs 15] [--chromium /usr/bin/chromium]
"""
import argparse
import functools
import http.server
import math
import pathlib
import statistics
import threading
import time

import altcha

STATIC = pathlib.Path(__file__).resolve().parent.parent / "marathon" / "blueprints" / "pages" / "static"


def challenges(difficulty, iterations, per_attempt, runs):
    """Challenges with counters spread over the upper half of the range, as proof.issue_challenge picks them."""
    top = max(2, math.ceil(difficulty / per_attempt))
    counters = [top // 2 + round(i * (top - top // 2) / max(1, runs - 1)) for i in range(runs)]
    made = []
    for counter in counters:
        body = altcha.create_challenge("PBKDF2/SHA-256", iterations, counter=counter, data={"race": "1", "user": "1"},
                                       hmac_secret="bench", hmac_key_secret="bench-key").to_dict()
        body["max_counter"] = top
        made.append(body)
    return made


def native(found):
    times = []
    for body in found:
        started = time.perf_counter()
        altcha.solve_challenge(altcha.Challenge.from_dict(body))
        times.append((time.perf_counter() - started) * 1000)
    return times


def browser(found, chromium):
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(STATIC))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            chrome = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = chrome.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/js/pow.js")
            times = []
            for body in found:
                times.append(page.evaluate("""async (challenge) => {
                    const { solve } = await import('/js/pow.js');
                    const started = performance.now();
                    await solve(challenge);
                    return performance.now() - started; }""", body))
            chrome.close()
            return times
    finally:
        server.shutdown()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--difficulty", type=int, default=50_000)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--per-attempt", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    found = challenges(args.difficulty, args.iterations, args.per_attempt, args.runs)
    for name, times in (("native (altcha.solve_challenge)", native(found)),
                        ("headless Chromium (pow.js)", browser(found, args.chromium))):
        print(f"{name}: median {statistics.median(times):.0f} ms, min {min(times):.0f}, max {max(times):.0f} "
              f"over {len(times)} runs")


if __name__ == "__main__":
    main()
