"""The admin command groups, reachable as `flask ...` and as `marathon ...`."""
from flask.cli import FlaskGroup, ScriptInfo

from marathon.blueprints.auth.commands import users_cli
from marathon.blueprints.fairplay.commands import fairplay_cli
from marathon.blueprints.payment.commands import payments_cli
from marathon.blueprints.races.commands import race_cli, seed_cli

COMMAND_GROUPS = [users_cli, race_cli, seed_cli, payments_cli, fairplay_cli]


def register_commands(app):
    for group in COMMAND_GROUPS:
        app.cli.add_command(group)


def main():
    """Entry point of the `marathon` command: `flask --app marathon:create_app`, whatever FLASK_APP says."""
    FlaskGroup(help="marathon admin commands").main(obj=ScriptInfo(app_import_path="marathon:create_app"))
