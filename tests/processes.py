"""Real processes for tests: the Procfile's commands, started with the tests' Redis and database."""
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def procfile_command(name):
    """The command line the Procfile gives the process `name`."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return shlex.split(line.split(":", 1)[1].strip())
    raise KeyError(name)


def process_env(settings, **extra):
    env = dict(os.environ)
    env.update(
        MARATHON_ENV="development",
        REDIS_URL=settings["REDIS_URL"],
        DATABASE_URL=settings["SQLALCHEMY_DATABASE_URI"],
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def start(name, settings, log_path, **extra):
    """Start the Procfile's process `name` (with `python` meaning this interpreter)."""
    command = procfile_command(name)
    if command[0] == "python":
        command[0] = sys.executable
    log = open(log_path, "wb")
    return subprocess.Popen(command, cwd=ROOT, env=process_env(settings, **extra), stdout=log, stderr=subprocess.STDOUT)


def http(method, url, body=None, headers=None, timeout=10):
    """A plain HTTP call; returns (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_until(predicate, timeout=30, what="condition"):
    """Poll `predicate` until it is true; a readiness wait with a deadline, not a timing assumption."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(process, timeout=20):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
