"""`flask payments ...`: finish refunds the provider could not make at the time, and orders stuck half-way."""
import click
from flask.cli import AppGroup

from marathon.blueprints.payment import refunds, sweeper

payments_cli = AppGroup("payments", help="Payments and refunds.")


@payments_cli.command("retry-refunds")
def retry_refunds():
    """Ask the provider again for every refund still pending."""
    click.echo(f"{refunds.retry_refunds()} refund(s) done")


@payments_cli.command("sweep")
@click.option("--older-than", type=int, default=None,
              help="seconds since an order was claimed (default PAYMENT_CLAIM_STALE_SECONDS)")
def sweep(older_than):
    """Finish orders stuck in confirming or charged (their process died): register, refund or release them."""
    counts = sweeper.sweep_stuck_orders(older_than)
    click.echo(", ".join(f"{count} {outcome}" for outcome, count in counts.items()))
