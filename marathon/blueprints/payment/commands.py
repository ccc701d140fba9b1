"""`flask payments ...`: finish refunds the provider could not make at the time."""
import click
from flask.cli import AppGroup

from marathon.blueprints.payment import refunds

payments_cli = AppGroup("payments", help="Payments and refunds.")


@payments_cli.command("retry-refunds")
def retry_refunds():
    """Ask the provider again for every refund still pending."""
    click.echo(f"{refunds.retry_refunds()} refund(s) done")
