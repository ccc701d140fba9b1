"""`flask users ...`: account administration."""
import click
from flask.cli import AppGroup

from marathon.blueprints.auth import services

users_cli = AppGroup("users", help="Manage accounts.")


@users_cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", required=True, help="at least 10 characters")
def create_admin(email, password):
    """Create an admin, or promote an existing account to admin."""
    if len(password) < 10:
        raise click.BadParameter("must be at least 10 characters", param_hint="--password")
    user = services.make_admin(email, password)
    click.echo(f"admin {user.email} (id {user.id})")
