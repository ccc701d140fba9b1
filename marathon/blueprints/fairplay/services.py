"""The bot review of a race's runners (a score with reasons) and the organiser's void. Nothing here acts by itself:
the score ranks runners for a person to look at, and only `void` takes a place away."""
import ipaddress
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app

from marathon.admission import journal
from marathon.blueprints.auth import services as accounts
from marathon.blueprints.fairplay.proof import max_counter
from marathon.blueprints.lines import engine as line
from marathon.blueprints.payment import refunds
from marathon.blueprints.races import services as races
from marathon.blueprints.registrations import services as registrations
from marathon.core.errors import DomainError

# Measured (README, "Fair play", bench/pow_cost.py): the page's pow.js in headless Chromium on this project's kind of
# machine takes about 0.25 ms an attempt (one PBKDF2/SHA-256 of POW_ITERATIONS = 1000, four in flight); an honest solve
# tries at least half of the counter's range (proof.issue_challenge picks the counter in its upper half).
BROWSER_MS_PER_ATTEMPT = 0.25
# a browser on a fast desktop may be this many times quicker than that
FASTEST_BROWSER_FACTOR = 4
SIGNUP_WINDOW = timedelta(hours=1)
# weight, and the threshold of each signal
YOUNG_ACCOUNT = (3, timedelta(hours=1))
NEW_ACCOUNT = (1, timedelta(hours=24))
SAME_IP_SIGNUPS = (2, 5)       # signups from one address within SIGNUP_WINDOW of this one
SAME_NET_SIGNUPS = (1, 20)     # from one /24 (IPv4) or /64 (IPv6)
ACCOUNTS_PER_IP = (1, 20)      # accounts that joined this race from one address (carriers share addresses: low)
OPENING_CLICK = (2, 100)       # joined within this many ms after the opening
FAST_POW = (3, 50)             # challenge to join under max(this many ms, the fastest browser's least time)
SCRIPT_CADENCE = (2, 10, 0.8)  # at least 10 polls, 80% of them right at retry_after_s
EARLY_POLLS = (1, 5)           # asked for status too soon this many times


@dataclass
class Suspect:
    user_id: int
    email: str
    name: str
    registration_id: int | None
    registration_status: str | None
    score: int = 0
    reasons: list = field(default_factory=list)

    def flag(self, weight, reason):
        self.score += weight
        self.reasons.append(reason)

    def as_dict(self):
        return {"user_id": self.user_id, "email": self.email, "name": self.name, "score": self.score,
                "reasons": self.reasons, "registration_id": self.registration_id,
                "registration_status": self.registration_status}


def fast_pow_ms(difficulty):
    """Below this time (ms) from challenge to join, a proof of work at this difficulty was faster than any browser:
    the counter lies in the upper half of its range, so even a browser FASTEST_BROWSER_FACTOR times quicker than the
    measured one needs this long (one signal among several, never a verdict)."""
    least = max_counter(difficulty, current_app.config["POW_DIFFICULTY_PER_ATTEMPT"]) // 2 * BROWSER_MS_PER_ATTEMPT
    return max(FAST_POW[1], int(least / FASTEST_BROWSER_FACTOR))


def browser_ms(difficulty):
    """The measured browser's average solve time at this difficulty (ms): 3/4 of the counter's range."""
    return 0.75 * max_counter(difficulty, current_app.config["POW_DIFFICULTY_PER_ATTEMPT"]) * BROWSER_MS_PER_ATTEMPT


def network_of(ip):
    """The address's /24 (IPv4) or /64 (IPv6), or None for what is not an address."""
    try:
        address = ipaddress.ip_address(ip)
    except (TypeError, ValueError):
        return None
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def suspects(race_ref):
    """Every runner who joined a line of the race, with a bot-risk score and its reasons, highest first.
    Raises NotFound (race_not_found)."""
    race = races.get_race(race_ref)
    joins = journal.race_joins(race.id)
    registered = registrations.race_registrations(race.id)
    cadence = line.status_cadence(race.id)
    users = {row.id: row for row in accounts.signup_records()}
    by_ip, by_net = _signup_times(users.values())
    joiners_per_ip = defaultdict(set)
    for entry in joins:
        if entry["ip"]:
            joiners_per_ip[entry["ip"]].add(entry["user_id"])

    ranked = {}
    for entry in joins:
        user = users.get(entry["user_id"])
        if user is None:
            continue
        registration_id, status = registered.get(user.id, (None, None))
        suspect = ranked.get(user.id)
        if suspect is None:
            suspect = ranked[user.id] = Suspect(user.id, user.email, user.name, registration_id, status)
            _account_signals(suspect, user, entry, by_ip, by_net)
            _cadence_signals(suspect, cadence.get(user.id))
        _join_signals(suspect, entry, race, joiners_per_ip)
    return sorted(ranked.values(), key=lambda s: (-s.score, s.user_id))


def _signup_times(users):
    by_ip, by_net = defaultdict(list), defaultdict(list)
    for user in users:
        if user.signup_ip:
            by_ip[user.signup_ip].append(user.created_at)
            network = network_of(user.signup_ip)
            if network:
                by_net[network].append(user.created_at)
    for times in (*by_ip.values(), *by_net.values()):
        times.sort()
    return by_ip, by_net


def _within(times, moment):
    return bisect_right(times, moment + SIGNUP_WINDOW) - bisect_left(times, moment - SIGNUP_WINDOW)


def _account_signals(suspect, user, first_join, by_ip, by_net):
    age = first_join["joined_at"] - user.created_at
    if age < YOUNG_ACCOUNT[1]:
        suspect.flag(YOUNG_ACCOUNT[0], f"account created {_duration(age)} before joining")
    elif age < NEW_ACCOUNT[1]:
        suspect.flag(NEW_ACCOUNT[0], f"account created {_duration(age)} before joining")
    if not user.signup_ip:
        return
    same_ip = _within(by_ip[user.signup_ip], user.created_at)
    if same_ip >= SAME_IP_SIGNUPS[1]:
        suspect.flag(SAME_IP_SIGNUPS[0], f"{same_ip} signups from {user.signup_ip} within an hour")
        return
    network = network_of(user.signup_ip)
    same_net = _within(by_net[network], user.created_at) if network else 0
    if same_net >= SAME_NET_SIGNUPS[1]:
        suspect.flag(SAME_NET_SIGNUPS[0], f"{same_net} signups from {network} within an hour")


def _join_signals(suspect, entry, race, joiners_per_ip):
    sharing = len(joiners_per_ip.get(entry["ip"], ()))
    reason = f"{sharing} accounts joined from {entry['ip']}"
    if sharing >= ACCOUNTS_PER_IP[1] and reason not in suspect.reasons:
        suspect.flag(ACCOUNTS_PER_IP[0], reason)
    after_opening_ms = (entry["joined_at"] - race.sale_opens_at) / timedelta(milliseconds=1)
    if not entry["lobby"] and 0 <= after_opening_ms < OPENING_CLICK[1]:
        suspect.flag(OPENING_CLICK[0], f"joined {after_opening_ms:.0f} ms after the opening")
    if entry["pow_ms"] is not None and race.pow_difficulty and entry["pow_ms"] < fast_pow_ms(race.pow_difficulty):
        suspect.flag(FAST_POW[0], f"proof of work solved and sent in {entry['pow_ms']} ms (a browser needs about "
                                  f"{browser_ms(race.pow_difficulty):.0f} ms)")


def _cadence_signals(suspect, counts):
    if not counts:
        return
    polls, regular, early = counts
    if polls >= SCRIPT_CADENCE[1] and regular >= SCRIPT_CADENCE[2] * polls:
        suspect.flag(SCRIPT_CADENCE[0], f"polled status right at retry_after_s {regular} times out of {polls}")
    if early >= EARLY_POLLS[1]:
        suspect.flag(EARLY_POLLS[0], f"asked for status too soon {early} times")


def _duration(delta):
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def void_registration(registration_id, actor, reason):
    """An organiser's void: full refund, the place freed for the line, who and why recorded on the registration.
    Raises NotFound (registration_not_found), DomainError 409 not_voidable."""
    if not reason or not reason.strip():
        raise DomainError("a void needs a reason", "reason_required", status=422)
    registration = registrations.get_registration(registration_id)
    if registration.status != "confirmed":
        raise DomainError(f"registration {registration.id} is {registration.status}, not confirmed", "not_voidable")
    refunded = refunds.refund_registration(registration.id, actor, reason)
    registration = registrations.get_registration(registration.id)
    if registration.status == "confirmed":
        registration = registrations.cancel_registration(registration.id, actor, reason=reason, enforce_window=False,
                                                     status="voided")
    return registration, refunded
