"""`flask race ...` (create a race, run its sale, read its figures) and `flask seed ...` (demo data, load-test runners)."""
import json
import secrets
import time
from datetime import date, timedelta
from pathlib import Path

import click
import yaml
from flask import current_app
from flask.cli import AppGroup
from flask_jwt_extended import create_access_token

from marathon.admission import ballot, journal, offers
from marathon.admission.batches import race_of
from marathon.blueprints.auth import services as accounts
from marathon.blueprints.races import presenters as race_views
from marathon.blueprints.races import services as races
from marathon.core.clock import now
from marathon.core.errors import DomainError

race_cli = AppGroup("race", help="Create races and run their sales.")
seed_cli = AppGroup("seed", help="Demo data and load-test accounts (not in production).")
ACTOR = "cli"
DEMO_SLUG = "demo-marathon"
SEED_BATCH = 2000


class SpecLoader(yaml.SafeLoader):
    """YAML that leaves dates and times as text, as JSON does, so that one schema reads both."""


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_spec(path):
    """The spec in a JSON or YAML file (YAML reads JSON too); raises click.ClickException."""
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SpecLoader)
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"cannot read {path}: {error}") from None
    except yaml.YAMLError as error:
        raise click.ClickException(f"{path} is neither JSON nor YAML: {error}") from None


def domain(call, *args, **kwargs):
    """Run a service; a refusal becomes a non-zero exit with the service's message."""
    try:
        return call(*args, **kwargs)
    except DomainError as error:
        raise click.ClickException(f"{error.message} ({error.reason})") from None


@race_cli.command("create")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
def create(spec_file):
    """Create a race from a spec file (JSON or YAML); prints its id."""
    race = domain(races.create_race, read_spec(spec_file), actor=ACTOR)
    click.echo(race.id)


def _state_command(action):
    @race_cli.command(action, help=f"{action.capitalize()} the sale of RACE (id or slug).")
    @click.argument("race")
    def command(race):
        changed = domain(races.change_sale_state, race, action, actor=ACTOR)
        click.echo(f"{changed.slug}: {changed.sale_state(now())}")

    return command


for _action in races.TRANSITIONS:
    _state_command(_action)


@race_cli.command("stats")
@click.argument("race")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def stats(race, as_json):
    """The figures of each bucket of RACE and their totals."""
    figures = race_views.stats(domain(races.get_race, race))
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    columns = ("line", "corral", "capacity", "confirmed", "held", "remaining", "waiting", "admitted_total",
               "entries", "winners", "offers_open", "paid", "expired", "waitlist")
    rows = [[str(row[name]) for name in columns] for row in figures["buckets"]]
    totals = figures["totals"]
    rows.append(["total", ""] + [str(totals.get(name, sum(row[name] for row in figures["buckets"])))
                                 for name in columns[2:]])
    widths = [max(len(name), *(len(row[index]) for row in rows)) for index, name in enumerate(columns)]
    click.echo(f"{figures['race']} ({figures['sale_state']})")
    click.echo("  ".join(name.ljust(width) for name, width in zip(columns, widths)))
    for row in rows:
        click.echo("  ".join(value.rjust(width) if index > 1 else value.ljust(width)
                             for index, (value, width) in enumerate(zip(row, widths))))


@race_cli.command("draw")
@click.argument("race")
def draw(race):
    """Draw the ballot of RACE now (idempotent: a drawn race keeps its draw) and make the winners' offers."""
    found = domain(races.get_race, race)
    if found.sale_mode != "ballot":
        raise click.ClickException(f"{found.slug} is not a ballot race")
    drew = ballot.draw(found.id)
    made = offers.offer_places(race_of(found.id))
    click.echo(f"{found.slug}: {'drawn' if drew else 'already drawn'}, {made} offers made")


@race_cli.command("export")
@click.argument("race")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="the CSV file to write")
def export(race, out):
    """Write the registrations of RACE as CSV."""
    text = race_views.registrations_csv(domain(races.get_race, race))
    Path(out).write_text(text, encoding="utf-8", newline="")
    click.echo(f"{max(text.count(chr(10)) - 1, 0)} registrations written to {out}")


@race_cli.command("capacity")
@click.argument("race")
@click.argument("course")
@click.argument("pace_group")
@click.argument("capacity", type=int)
def capacity(race, course, pace_group, capacity):
    """Set the capacity of the bucket COURSE/PACE_GROUP (never below its places held or confirmed)."""
    bucket = domain(races.set_capacity, race, course, pace_group, capacity, actor=ACTOR)
    click.echo(f"{bucket.line}: capacity {bucket.capacity} ({bucket.held} held, {bucket.confirmed} confirmed)")


@race_cli.command("reconcile")
@click.argument("race")
def reconcile(race):
    """Rebuild the Redis state of RACE (lines, mirrors) from the database; prints what differed."""
    differences = journal.reconcile(domain(races.get_race, race))
    for difference in differences or []:
        click.echo(difference)
    click.echo(f"{len(differences or [])} differences")


def demo_spec(moment):
    """A race on sale from now on, with every course and a few pace groups each, no proof of work."""
    day = (moment + timedelta(days=60)).date()
    bands = {"5K": [("4", 240, 299, 300), ("5", 300, 359, 500), ("6", 360, 479, 700)],
             "10K": [("4", 240, 299, 400), ("5", 300, 359, 800), ("6", 360, 479, 800)],
             "HALF": [("4", 240, 299, 600), ("5", 300, 359, 900), ("6", 360, 479, 500)],
             "FULL": [("3", 180, 239, 200), ("4", 240, 299, 800), ("5", 300, 419, 600)]}
    names = {"5K": ("5 km", 5, 30000), "10K": ("10 km", 10, 50000), "HALF": ("Half marathon", 21.0975, 70000),
             "FULL": ("Marathon", 42.195, 90000)}
    courses = []
    for code, groups in bands.items():
        name, distance, price = names[code]
        courses.append({"code": code, "name": name, "distance_km": distance, "price": price, "pace_groups": [
            {"code": group, "label": f"{low // 60}:{low % 60:02d}-{high // 60}:{high % 60:02d} /km",
             "min_pace_s": low, "max_pace_s": high, "corral": chr(ord("A") + index), "capacity": size}
            for index, (group, low, high, size) in enumerate(groups)]})
    return {"slug": DEMO_SLUG, "name": "Demo City Marathon", "date": day.isoformat(),
            "sale_opens_at": moment.isoformat(), "sale_closes_at": (moment + timedelta(days=30)).isoformat(),
            "lobby_minutes": 0, "hold_seconds": 600, "pow_difficulty": 0,
            "refund_until": (moment + timedelta(days=45)).isoformat(), "courses": courses}


@seed_cli.command("demo")
def demo():
    """A demo race with every course, open for sale now (run again, it makes sure the sale is open)."""
    moment = now().replace(microsecond=0)
    try:
        race = races.get_race(DEMO_SLUG)
    except DomainError:
        race = domain(races.create_race, demo_spec(moment), actor=ACTOR)
    if race.sale_state(now()) != "open":
        race = races.reopen_demo(race, ACTOR, closes_at=moment + timedelta(days=30))
    click.echo(f"demo race {race.slug} (id {race.id}) is {race.sale_state(now())}")


@seed_cli.command("runners")
@click.option("--count", type=click.IntRange(1, 1_000_000), required=True, help="how many runners")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="JSON lines: email, access_token")
@click.option("--password", default="seed runner password", show_default=True, help="every runner's password")
@click.option("--hours", type=click.IntRange(1, 72), default=6, show_default=True, help="access tokens last this long")
def runners(count, out, password, hours):
    """COUNT runner accounts and a fresh access token for each (refused in production)."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("seed runners is refused in production (MARATHON_ENV=production)")
    started = time.monotonic()
    # Argon2 is slow on purpose: every seeded runner shares one hash of the same password
    password_hash = accounts.password_hasher().hash(password)
    batch = secrets.token_hex(4)
    born = date(1990, 1, 1)
    expires = timedelta(hours=hours)
    with open(out, "w", encoding="utf-8") as sink:
        for first in range(0, count, SEED_BATCH):
            people = [(f"runner-{batch}-{number}@seed.example.com", f"Seed Runner {batch} {number}", born,
                       f"010{number:08d}") for number in range(first, min(first + SEED_BATCH, count))]
            ids = accounts.create_runners(people, password_hash)
            for user_id, email in ids:
                token = create_access_token(identity=str(user_id), additional_claims={"roles": ["runner"]},
                                            expires_delta=expires)
                sink.write(json.dumps({"email": email, "access_token": token}) + "\n")
    click.echo(f"{count} runners written to {out} in {time.monotonic() - started:.1f} s "
               f"(password {password!r}, tokens good for {hours} h)")
