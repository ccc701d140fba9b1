"""`flask fairplay ...`: the bot review of a race, and an organiser's void."""
import getpass
import json

import click
from flask.cli import AppGroup

from marathon.blueprints.fairplay import services
from marathon.core.errors import DomainError

fairplay_cli = AppGroup("fairplay", help="Review a race's runners for bots; void a registration.")


@fairplay_cli.command("suspects")
@click.argument("race")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table")
@click.option("--limit", default=50, show_default=True, help="show at most this many runners (0: all)")
@click.option("--all", "everyone", is_flag=True, help="also runners with a score of 0")
def suspects(race, as_json, limit, everyone):
    """Runners of RACE (id or slug) ranked by bot-risk score, with the reasons. Nothing is voided automatically."""
    try:
        ranked = services.suspects(race)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    if not everyone:
        ranked = [suspect for suspect in ranked if suspect.score > 0]
    if limit:
        ranked = ranked[:limit]
    if as_json:
        click.echo(json.dumps([suspect.as_dict() for suspect in ranked], indent=2, ensure_ascii=False))
        return
    if not ranked:
        click.echo("no runner of this race shows a bot signal")
        return
    click.echo(f"{'score':>5}  {'user':>7}  {'registration':>12}  {'email':<32}  reasons")
    for suspect in ranked:
        registration = f"{suspect.registration_id} {suspect.registration_status}" if suspect.registration_id else "-"
        click.echo(f"{suspect.score:>5}  {suspect.user_id:>7}  {registration:>12}  {suspect.email:<32}  "
                   + "; ".join(suspect.reasons))


@fairplay_cli.command("void")
@click.argument("registration", type=int)
@click.option("--reason", required=True, help="why, in words the runner will read")
@click.option("--by", "actor", default=None, help="who decided (default: the OS user)")
def void(registration, reason, actor):
    """Cancel REGISTRATION with a full refund, free its place for the line, and record who and why."""
    actor = actor or f"os:{getpass.getuser()}"
    try:
        voided, refund = services.void_registration(registration, actor, reason)
    except DomainError as error:
        raise click.ClickException(f"{error.message} ({error.reason})") from None
    click.echo(f"registration {voided.id} (bib {voided.bib}) {voided.status} by {voided.cancelled_by}: "
               f"{voided.cancel_reason}; refund {refund}")
