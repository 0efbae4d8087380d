"""WHAT: `manage.py negotiate` — run one negotiation in the foreground and print its transcript live
     (options and examples: docs/negotiations.md).
WHY: the quickest way to watch the engine (and a model) negotiate, without the HTTP API; `--as`
     shows exactly what one side (or an observer, or staff) is allowed to see.
HOW: creates the listing and negotiation through the services (from options, or from a CraigslistBargain
     scenario via negotiations.evaluation.scenarios), subscribes to the broadcaster, runs the engine in this
     process's event loop, and prints what the chosen viewer may see as it commits, followed exactly
     as the SSE stream follows it (negotiations/live/follower.py).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.errors import RequestValidationError
from negotiations.engine.engine import NegotiationEngine
from negotiations.evaluation.scenarios import ScenarioError, scenario_limits, scenario_load, scenario_select
from negotiations.live.broadcast import TokenDelta, get_broadcaster
from negotiations.live.follower import LogFollower
from negotiations.models import AgentMode, Event, Negotiation, Strategy
from negotiations.prices import format_price
from negotiations.services import listing_create, negotiation_create, negotiation_start
from negotiations.visibility import Viewer, can_view_visibility

POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Run one buyer/seller negotiation in the foreground and print its transcript as it happens."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_argument_group("listing and limits (or a scenario)")
        source.add_argument("--scenarios", help="JSON file of CraigslistBargain scenarios")
        source.add_argument("--scenario", help="scenario id or 0-based index in --scenarios")
        source.add_argument("--title", default="Used road bike")
        source.add_argument("--description", default="")
        source.add_argument("--category", default="")
        source.add_argument("--currency", default="USD")
        source.add_argument("--list-price")
        source.add_argument("--buyer-limit", help="the most the buyer will pay (private)")
        source.add_argument("--seller-limit", help="the least the seller will take (private)")
        source.add_argument("--buyer-target")
        source.add_argument("--seller-target")
        agents = parser.add_argument_group("agents")
        agents.add_argument("--mode", choices=AgentMode.values, default=AgentMode.NARRATE)
        agents.add_argument("--buyer-mode", choices=AgentMode.values)
        agents.add_argument("--seller-mode", choices=AgentMode.values)
        agents.add_argument("--strategy", choices=Strategy.values, default=Strategy.LINEAR)
        agents.add_argument("--buyer-strategy", choices=Strategy.values)
        agents.add_argument("--seller-strategy", choices=Strategy.values)
        agents.add_argument("--provider", default="", help="LLM provider name (default: settings.LLM_PROVIDER)")
        agents.add_argument("--model", default="")
        agents.add_argument("--temperature", type=float)
        run = parser.add_argument_group("run")
        run.add_argument("--max-rounds", type=int, default=None)
        run.add_argument("--opens", choices=["seller", "buyer"], default="seller")
        run.add_argument("--seed", type=int, default=None)
        run.add_argument(
            "--as",
            dest="viewer",
            choices=["observer", "buyer", "seller", "staff"],
            default="observer",
            help="whose view to print (default: the public transcript)",
        )
        run.add_argument("--live", action="store_true", help="also print message text as it streams")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            listing_fields, buyer, seller = self._inputs(options)
            listing = listing_create(**listing_fields)
            negotiation, _tokens = negotiation_create(
                listing=listing,
                buyer=buyer,
                seller=seller,
                max_rounds=options["max_rounds"],
                opens=options["opens"],
                seed=options["seed"],
            )
            negotiation_start(negotiation=negotiation, launch=False)
        except (RequestValidationError, ScenarioError) as exc:
            details = getattr(exc, "details", None)
            raise CommandError(f"{exc}{' ' + str(details['fields']) if details else ''}") from exc
        viewer = Viewer(options["viewer"])
        self._header(negotiation, listing, buyer, seller, viewer)
        asyncio.run(self._run(negotiation.pk, viewer, live=options["live"]))
        negotiation.refresh_from_db()
        self._footer(negotiation, listing.currency)

    # --- inputs -----------------------------------------------------------------------------------------
    def _inputs(self, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        listing: dict[str, Any] = {
            "title": options["title"],
            "description": options["description"],
            "category": options["category"],
            "currency": options["currency"],
            "list_price": options["list_price"],
        }
        buyer = {"limit_price": options["buyer_limit"], "target_price": options["buyer_target"]}
        seller = {"limit_price": options["seller_limit"], "target_price": options["seller_target"]}
        if options["scenarios"]:
            if not options["scenario"]:
                raise CommandError("--scenarios needs --scenario ID|INDEX")
            scenario = scenario_select(scenario_load(options["scenarios"]), options["scenario"])
            limits = scenario_limits(scenario)
            listing.update(
                title=scenario.title[:200],
                description=scenario.description,
                category=scenario.category,
                list_price=str(scenario.listing_price),
            )
            buyer = {
                "limit_price": options["buyer_limit"] or str(limits.buyer_ceiling),
                "target_price": options["buyer_target"] or str(limits.buyer_target),
            }
            seller = {
                "limit_price": options["seller_limit"] or str(limits.seller_floor),
                "target_price": options["seller_target"] or str(limits.seller_target),
            }
        elif not (options["list_price"] and options["buyer_limit"] and options["seller_limit"]):
            raise CommandError("give --list-price, --buyer-limit and --seller-limit, or --scenarios FILE --scenario ID")
        for role, side in (("buyer", buyer), ("seller", seller)):
            side["mode"] = options[f"{role}_mode"] or options["mode"]
            side["strategy"] = options[f"{role}_strategy"] or options["strategy"]
            if options["provider"]:
                side["provider"] = options["provider"]
            if options["model"]:
                side["model"] = options["model"]
            if options["temperature"] is not None:
                side["temperature"] = options["temperature"]
            if side["target_price"] is None:
                del side["target_price"]
        return listing, buyer, seller

    # --- running and printing -----------------------------------------------------------------------
    async def _run(self, negotiation_id: int, viewer: Viewer, *, live: bool) -> None:
        # The stream's follower: exactly once each, in seq order, whatever arrives live or not.
        follower = LogFollower(negotiation_id, viewer, after=0)
        drafting: tuple[int, int] | None = None  # (turn, attempt) of the draft being printed
        async with get_broadcaster().subscribe(negotiation_id) as subscription:
            self._print_events(await follower.catch_up())  # subscribe first, then replay the log
            task = asyncio.create_task(NegotiationEngine().run(negotiation_id))
            while follower.ended_as is None:
                item = await subscription.get(timeout=POLL_SECONDS)
                if item is None:
                    if task.done():
                        break
                    continue
                for owed in await follower.take(item):
                    if isinstance(owed, TokenDelta):
                        if live:
                            if drafting is not None and drafting != (owed.turn, owed.attempt):
                                self.stdout.write("")  # a regenerated draft starts on a line of its own
                            self.stdout.write(owed.text, ending="")
                            self.stdout.flush()
                            drafting = (owed.turn, owed.attempt)
                        continue
                    if drafting is not None:
                        self.stdout.write("")
                        drafting = None
                    self._print_event(owed)
            await task
        self._print_events(await follower.catch_up())  # the log is the truth: print anything missed

    def _print_events(self, events: list[Event]) -> None:
        for event in events:
            self._print_event(event)

    def _print_event(self, event: Event) -> None:
        data = event.data
        prefix = f"[{event.seq:>3}] {event.actor:<6}"
        if event.type == Event.Type.MESSAGE:
            price = f" {data['price']}" if data.get("price") else ""
            line = f"{prefix} {data['action']}{price:<10}  {data['text']}"
        elif event.type == Event.Type.THOUGHT:
            line = self.style.HTTP_INFO(f"{prefix} (private thought) {data['reasoning']}")
        elif event.type == Event.Type.GUARDRAIL:
            line = self.style.WARNING(f"{prefix} (guardrail: {data['kind']}) {data['detail']}")
        elif event.type == Event.Type.STATUS:
            line = f"{prefix} status: {data['status']}"
        else:
            line = self.style.SUCCESS(f"{prefix} outcome: {data['result']} ({data['end_reason']})")
        self.stdout.write(line)

    def _header(self, negotiation: Negotiation, listing: Any, buyer: dict, seller: dict, viewer: Viewer) -> None:
        money = lambda value: format_price(Decimal(str(value)), listing.currency)  # noqa: E731
        self.stdout.write(
            f'Negotiation #{negotiation.pk} over "{listing.title}", listed at {money(listing.list_price)}'
        )
        self.stdout.write(
            f"{negotiation.max_rounds} rounds max, {negotiation.opens} opens, seed {negotiation.seed}; "
            f"buyer {buyer['mode']}/{buyer['strategy']}, seller {seller['mode']}/{seller['strategy']}; "
            f"viewing as {viewer.role}"
        )
        if can_view_visibility(viewer, "buyer"):
            self.stdout.write(f"  buyer's private limit: {money(buyer['limit_price'])}")
        if can_view_visibility(viewer, "seller"):
            self.stdout.write(f"  seller's private floor: {money(seller['limit_price'])}")

    def _footer(self, negotiation: Negotiation, currency: str) -> None:
        if negotiation.status == Negotiation.Status.AGREED:
            summary = f"deal at {format_price(negotiation.agreed_price, currency)}"
        else:
            summary = f"{negotiation.status} ({negotiation.end_reason})"
        self.stdout.write(self.style.SUCCESS(f"Result: {summary} after {negotiation.rounds_used} round(s)."))
