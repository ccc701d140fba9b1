"""The admin CLI: `flask race ...` and `flask seed ...`, through Flask's test CLI runner."""
import csv
import json
import time

import yaml

from marathon.blueprints.races.models import Race, SaleEvent
from marathon.extensions import db
from tests.race_specs import race_spec


def write_yaml(tmp_path, spec):
    path = tmp_path / "race.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_create_from_yaml_prints_the_id_and_runs_the_sale(app, runner, clock, tmp_path):
    result = runner.invoke(args=["race", "create", str(write_yaml(tmp_path, race_spec(clock)))])
    assert result.exit_code == 0, result.output
    race_id = int(result.output.strip())
    for action, expected in (("open", "open"), ("pause", "paused"), ("close", "closed")):
        result = runner.invoke(args=["race", action, str(race_id)])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"spring-10k: {expected}"
    with app.app_context():
        assert db.session.get(Race, race_id).slug == "spring-10k"
        actors = {event.actor for event in db.session.query(SaleEvent).filter_by(race_id=race_id)}
    assert actors == {"cli"}


def test_create_from_json_with_a_numeric_pace_group_code(app, runner, clock, tmp_path):
    spec = race_spec(clock)
    spec["courses"][0]["pace_groups"][0]["code"] = 4  # as YAML reads `code: 4`
    path = tmp_path / "race.json"
    path.write_text(json.dumps(spec))
    result = runner.invoke(args=["race", "create", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        race = db.session.get(Race, int(result.output))
        assert race.courses[0].pace_groups[0].code == "4"


def test_refusals_exit_non_zero_with_the_message(runner, clock, tmp_path):
    result = runner.invoke(args=["race", "create", str(write_yaml(tmp_path, race_spec(clock, colour="red")))])
    assert result.exit_code != 0 and "colour: Unknown field." in result.output
    (tmp_path / "broken.yaml").write_text("slug: [unclosed")
    result = runner.invoke(args=["race", "create", str(tmp_path / "broken.yaml")])
    assert result.exit_code != 0 and "neither JSON nor YAML" in result.output
    result = runner.invoke(args=["race", "open", "nowhere"])
    assert result.exit_code != 0 and "race_not_found" in result.output


def test_illegal_transition_exits_non_zero(runner, clock, tmp_path):
    runner.invoke(args=["race", "create", str(write_yaml(tmp_path, race_spec(clock)))])
    result = runner.invoke(args=["race", "pause", "spring-10k"])
    assert result.exit_code != 0 and "illegal_transition" in result.output


def test_stats_table_json_capacity_and_export(runner, clock, tmp_path):
    runner.invoke(args=["race", "create", str(write_yaml(tmp_path, race_spec(clock)))])
    table = runner.invoke(args=["race", "stats", "spring-10k"])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0] == "spring-10k (scheduled)" and lines[1].split()[0] == "line"
    assert lines[-1].split()[:2] == ["total", "12"]
    result = runner.invoke(args=["race", "capacity", "spring-10k", "10K", "5", "7"])
    assert result.exit_code == 0, result.output
    figures = json.loads(runner.invoke(args=["race", "stats", "spring-10k", "--json"]).output)
    assert figures["totals"]["capacity"] == 16 and figures["buckets"][1]["line"] == "10K/5"
    assert runner.invoke(args=["race", "capacity", "spring-10k", "10K", "9", "7"]).exit_code != 0
    out = tmp_path / "regs.csv"
    result = runner.invoke(args=["race", "export", "spring-10k", "--out", str(out)])
    assert result.exit_code == 0 and "0 registrations" in result.output
    assert next(csv.reader(out.open())) == ["bib", "corral", "name", "course", "pace_group", "status", "amount_paid",
                                          "source"]


def test_seed_demo_is_open_with_every_course_and_idempotent(app, runner, client, clock):
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    detail = client.get("/api/v1/races/demo-marathon").get_json()
    assert detail["sale_state"] == "open"
    assert [course["code"] for course in detail["courses"]] == ["5K", "10K", "HALF", "FULL"]
    assert all(len(course["pace_groups"]) >= 3 for course in detail["courses"])
    assert runner.invoke(args=["race", "close", "demo-marathon"]).exit_code == 0
    again = runner.invoke(args=["seed", "demo"])
    assert again.exit_code == 0 and "is open" in again.output
    clock.advance(days=40)  # past the calendar's close as well
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    clock.advance(seconds=2)
    assert client.get("/api/v1/races/demo-marathon").get_json()["sale_state"] == "open"
    with app.app_context():
        assert db.session.query(Race).count() == 1


def test_seed_runners_tokens_are_accepted(app, runner, client, tmp_path):
    out = tmp_path / "runners.jsonl"
    result = runner.invoke(args=["seed", "runners", "--count", "25", "--out", str(out)])
    assert result.exit_code == 0, result.output
    seeded = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(seeded) == 25 and len({runner_["email"] for runner_ in seeded}) == 25
    for one in (seeded[0], seeded[-1]):
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {one['access_token']}"})
        assert me.status_code == 200 and me.get_json()["email"] == one["email"]
        assert me.get_json()["roles"] == ["runner"]
    login = client.post("/api/v1/auth/login", json={"email": seeded[3]["email"], "password": "seed runner password"})
    assert login.status_code == 200
    again = runner.invoke(args=["seed", "runners", "--count", "5", "--out", str(tmp_path / "more.jsonl")])
    assert again.exit_code == 0, again.output


def test_seed_runners_tokens_last_an_hour(app, runner, tmp_path):
    from flask_jwt_extended import decode_token

    out = tmp_path / "runners.jsonl"
    runner.invoke(args=["seed", "runners", "--count", "1", "--out", str(out)])
    with app.app_context():
        claims = decode_token(json.loads(out.read_text())["access_token"])
    assert claims["exp"] - time.time() >= 3600


def test_seed_runners_is_refused_in_production(app, runner, tmp_path):
    app.config["ENV_NAME"] = "production"
    result = runner.invoke(args=["seed", "runners", "--count", "1", "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code != 0 and "production" in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_reconcile_rebuilds_a_race_that_redis_lost(app, runner, clock, tmp_path):
    from marathon.blueprints.lines.keys import RaceKeys
    from marathon.extensions import redis_store

    race_id = int(runner.invoke(args=["race", "create", str(write_yaml(tmp_path, race_spec(clock)))]).output)
    with app.app_context():
        redis_store.client.flushall()
    result = runner.invoke(args=["race", "reconcile", "spring-10k"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert redis_store.client.exists(RaceKeys(race_id).sale)
