"""`flask users ...`: account administration."""
import click
from flask.cli import AppGroup

from marathon.blueprints.auth import services
from marathon.core.errors import DomainError

users_cli = AppGroup("users", help="Manage accounts.")


@users_cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", required=True, help="at least 10 characters")
@click.option("--promote", is_flag=True,
              help="make an existing runner account the admin (its password is replaced and its sessions end)")
def create_admin(email, password, promote):
    """Create an admin; an existing account that is not an admin is promoted only with --promote."""
    if len(password) < 10:
        raise click.BadParameter("must be at least 10 characters", param_hint="--password")
    try:
        user = services.make_admin(email, password, promote=promote)
    except DomainError as error:
        raise click.ClickException(f"{error.message}: add --promote to make it the admin, ending its sessions") \
            from None
    click.echo(f"admin {user.email} (id {user.id})")
