"""The blueprints: auth, ticketing and payment."""
