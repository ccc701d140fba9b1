"""The admin command groups, reachable as `flask ...` and as `marathon ...`."""
from flask.cli import FlaskGroup

from marathon.blueprints.auth.commands import users_cli
from marathon.blueprints.fairplay.commands import fairplay_cli
from marathon.blueprints.payment.commands import payments_cli
from marathon.blueprints.races.commands import race_cli, seed_cli

COMMAND_GROUPS = [users_cli, race_cli, seed_cli, payments_cli, fairplay_cli]


def register_commands(app):
    for group in COMMAND_GROUPS:
        app.cli.add_command(group)


def main():
    """Entry point of the `marathon` command."""
    from marathon import create_app

    FlaskGroup(create_app=create_app, help="marathon admin commands")()
