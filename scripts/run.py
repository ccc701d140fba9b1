"""`make run`: an embedded Redis when REDIS_URL is unset, the schema, a demo race, then web and worker via honcho."""
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marathon.tooling.redis_server import RedisServer  # noqa: E402

BIN = Path(sys.executable).parent


def flask(*args, env):
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True)


def main():
    env = dict(os.environ)
    env.setdefault("PORT", "8000")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    instance = ROOT / "instance"
    instance.mkdir(exist_ok=True)
    redis_server = None
    url_file = instance / "redis-url"
    if not env.get("REDIS_URL"):
        redis_server = RedisServer(instance / "redis", appendonly=True).start()
        env["REDIS_URL"] = redis_server.url
        url_file.write_text(redis_server.url)
        print(f"marathon: started a private Redis at {redis_server.url}", flush=True)
    try:
        flask("db", "upgrade", env=env)
        flask("seed", "demo", env=env)
        port = env["PORT"]
        print(
            f"\nmarathon is starting on http://127.0.0.1:{port}/\n"
            f"  runner's page  http://127.0.0.1:{port}/\n"
            f"  admin board    http://127.0.0.1:{port}/admin\n"
            f"  API docs       http://127.0.0.1:{port}/api/docs\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        honcho = subprocess.Popen([str(BIN / "honcho"), "start", "-f", "Procfile", "web", "worker"], cwd=ROOT, env=env)
        try:
            honcho.wait()
        except KeyboardInterrupt:
            honcho.send_signal(signal.SIGINT)
            honcho.wait()
    finally:
        if redis_server:
            redis_server.stop()
            url_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
