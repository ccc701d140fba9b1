"""The blueprints: auth, ticketing (its parts: races, lines, registrations), payment, fairplay and pages."""
