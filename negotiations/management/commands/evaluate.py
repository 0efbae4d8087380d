"""WHAT: `manage.py evaluate` — run one negotiation per scenario for an agent configuration (and, on
     request, baseline configurations in the same run), print a summary table beside the human
     reference figures, and write a JSON report. Options and examples: docs/evaluation.md.
WHY: choosing a model, mode or strategy, or judging a change to the agents, needs numbers on real
     scenarios (CraigslistBargain), not anecdotes.
HOW: negotiations.evaluation does the work: `scenarios` (the limits rule), `runner` (real services, engine
     and agents, in the foreground), `metrics` (from the event logs), `database` (by default a throwaway
     SQLite database). Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.errors import RequestValidationError
from negotiations.agents.agent import ProviderResolver
from negotiations.evaluation.database import TEMPORARY, evaluation_database
from negotiations.evaluation.market import BUYER_STEP, mandate_metrics, mandate_run, market_metrics, market_run
from negotiations.evaluation.metrics import negotiation_result, summarize
from negotiations.evaluation.report import ArmReport, report_build, summary_table
from negotiations.evaluation.runner import (
    ArmConfig,
    NegotiationDone,
    ProviderCheck,
    RunSettings,
    arm_run,
    provider_check,
)
from negotiations.evaluation.scenarios import Scenario, ScenarioError, scenario_limits, scenario_load
from negotiations.models import AgentMode, Role, Strategy
from negotiations.validation import MAX_SEED

MAX_MARKET_BUYERS = 20

DEFAULT_OUT = "evaluation-report.json"


class Command(BaseCommand):
    help = "Measure how well the agents negotiate: one negotiation per scenario, metrics, a table and a JSON report."

    # None: the provider registry. Tests set a scripted provider's resolver here.
    provider_resolver: ProviderResolver | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scenarios", required=True, help="JSON file of scenarios (data/craigslist_scenarios.json format)"
        )
        parser.add_argument("--limit", type=int, help="only the first N scenarios")
        parser.add_argument("--concurrency", type=int, default=1, help="negotiations played at once (default 1)")
        agents = parser.add_argument_group("agents")
        agents.add_argument("--mode", choices=AgentMode.values, help="both sides' mode (default narrate)")
        agents.add_argument("--buyer-mode", choices=AgentMode.values)
        agents.add_argument("--seller-mode", choices=AgentMode.values)
        agents.add_argument("--strategy", choices=Strategy.values, default=Strategy.LINEAR.value)
        agents.add_argument("--buyer-strategy", choices=Strategy.values)
        agents.add_argument("--seller-strategy", choices=Strategy.values)
        agents.add_argument("--provider", default="", help="LLM provider name (default: settings.LLM_PROVIDER)")
        agents.add_argument("--model", default="", help="model id (default: the provider's default model)")
        agents.add_argument("--temperature", type=float)
        agents.add_argument(
            "--baseline",
            action="append",
            default=[],
            metavar="MODE[/MODE]",
            help="also run this configuration over the same scenarios (repeatable): rule, narrate, llm, or "
            "BUYER/SELLER such as llm/narrate; same strategies, provider and seeds",
        )
        run = parser.add_argument_group("run")
        run.add_argument("--seed", type=int, help="base seed (default: random, recorded in the report)")
        run.add_argument(
            "--max-rounds", type=int, help=f"rounds per negotiation (default {settings.NEGOTIATION_DEFAULT_MAX_ROUNDS})"
        )
        run.add_argument("--opens", choices=Role.values, default=Role.SELLER.value)
        run.add_argument(
            "--buyers",
            type=int,
            metavar="K",
            help="market mode: K competing buyers per scenario listing (distinct ceilings, docs/evaluation.md); "
            "reports sales, double sales, allocative efficiency, welfare, price and time to sale",
        )
        run.add_argument(
            "--mandates",
            action="store_true",
            help="market mode: every scenario's buyer shops the catalogue of all scenario listings as a mandate "
            "(its category, its ceiling, up to 3 at once); reports purchases, double purchases and sales",
        )
        run.add_argument("--out", default=DEFAULT_OUT, help=f"JSON report path (default {DEFAULT_OUT})")
        run.add_argument(
            "--db",
            default=TEMPORARY,
            metavar="temp|configured|FILE",
            help="where the negotiations live: a throwaway SQLite database (temp, the default), the configured "
            "database, or a SQLite FILE that is kept",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scenarios, scenarios_info = self._scenarios(options)
        arms = self._arms(options)
        run_settings = self._run_settings(options)
        out = self._out_path(options["out"])
        if options["mandates"]:
            self._mandates(options, scenarios, scenarios_info, arms, run_settings, out)
            return
        if options["buyers"] is not None:
            self._market(options, scenarios, scenarios_info, arms, run_settings, out)
            return
        started_at = datetime.now(UTC)
        started = time.monotonic()
        self.stderr.write(
            f"Evaluating {len(arms)} configuration(s) on {len(scenarios)} scenario(s), seed {run_settings.seed}, "
            f"{run_settings.max_rounds} rounds, concurrency {run_settings.concurrency}"
        )
        reports: list[ArmReport] = []

        def write_report(database: str, *, complete: bool) -> None:
            report = report_build(
                scenarios=scenarios_info,
                settings={
                    "seed": run_settings.seed,
                    "max_rounds": run_settings.max_rounds,
                    "opens": run_settings.opens,
                    "concurrency": run_settings.concurrency,
                    "limit": options["limit"],
                    "database": database,
                },
                arms=reports,
                complete=complete,
                timing={
                    "started_at": started_at.isoformat(timespec="seconds"),
                    "wall_seconds": round(time.monotonic() - started, 3),
                },
            )
            out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

        with evaluation_database(options["db"]) as database:
            checks = {arm.name: self._preflight(arm) for arm in arms}
            for arm in arms:
                self.stderr.write(
                    f"{arm.name}: buyer {arm.buyer_mode}/{arm.buyer_strategy} vs "
                    f"seller {arm.seller_mode}/{arm.seller_strategy}"
                )
                try:
                    run = arm_run(
                        arm=arm,
                        scenarios=scenarios,
                        settings=run_settings,
                        provider_resolver=self.provider_resolver,
                        on_done=self._progress(time.monotonic()),
                    )
                except RequestValidationError as exc:
                    raise CommandError(f"{exc} {exc.details or ''}".strip()) from exc
                results = [negotiation_result(log) for log in run.logs]
                check = checks[arm.name]
                reports.append(
                    ArmReport(
                        arm,
                        results,
                        summarize(results, wall_seconds=run.wall_seconds),
                        llm=check.as_dict() if check else None,
                    )
                )
                # Written after every configuration, so an interrupted long run keeps the finished ones.
                write_report(database, complete=len(reports) == len(arms))
        self.stdout.write(summary_table(reports))
        self.stdout.write(f"\nReport: {out}")
        for arm in reports:
            metrics = arm.metrics
            if metrics["deals_outside_limits"] or metrics["leaks"] or metrics["status"].get("failed"):
                self.stderr.write(
                    self.style.ERROR(
                        f"{arm.config.name}: {metrics['deals_outside_limits']} deal(s) outside a limit, {metrics['leaks']} "
                        f"leak(s), {metrics['status'].get('failed', 0)} failed negotiation(s): see the report"
                    )
                )

    def _market(self, options, scenarios, scenarios_info, arms, run_settings, out) -> None:
        """--buyers K: every scenario listing sells once to one of K competing buyers."""
        buyers = options["buyers"]
        if not 1 <= buyers <= MAX_MARKET_BUYERS:
            raise CommandError(f"--buyers must be between 1 and {MAX_MARKET_BUYERS}.")
        started = time.monotonic()
        report: dict[str, Any] = {
            "kind": "market",
            "command": "manage.py evaluate " + " ".join(sys.argv[2:]),
            "scenarios": scenarios_info,
            "settings": {
                "seed": run_settings.seed,
                "max_rounds": run_settings.max_rounds,
                "buyers": buyers,
                "buyer_step": str(BUYER_STEP),
                "opens": run_settings.opens,
            },
            "arms": [],
        }
        with evaluation_database(options["db"]) as database:
            report["settings"]["database"] = database
            for arm in arms:
                self._preflight(arm)
                arm_started = time.monotonic()
                markets = market_run(
                    arm=arm,
                    scenarios=scenarios,
                    settings=run_settings,
                    buyers=buyers,
                    provider_resolver=self.provider_resolver,
                )
                metrics = market_metrics(markets)
                metrics["wall_seconds"] = round(time.monotonic() - arm_started, 3)
                report["arms"].append(
                    {
                        "config": arm.as_dict(),
                        "metrics": metrics,
                        "listings": [
                            {
                                "scenario": m.scenario,
                                "floor": str(m.floor),
                                "ceilings": [str(c) for c in m.ceilings],
                                "winner": m.winner,
                                "price": None if m.price is None else str(m.price),
                                "messages_to_sale": m.messages_to_sale,
                                "end_reasons": list(m.end_reasons),
                            }
                            for m in markets
                        ],
                    }
                )
                self.stdout.write(
                    f"{arm.name}: " + json.dumps({k: v for k, v in metrics.items() if k != "end_reasons"})
                )
        report["wall_seconds"] = round(time.monotonic() - started, 3)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        self.stdout.write(f"Report: {out}")
        if any(arm["metrics"]["double_sales"] for arm in report["arms"]):
            raise CommandError("A listing sold more than once: see the report.")

    def _mandates(self, options, scenarios, scenarios_info, arms, run_settings, out) -> None:
        """--mandates: the scenarios' buyers shop one catalogue as mandates and buy at most once each."""
        started = time.monotonic()
        report: dict[str, Any] = {
            "kind": "mandates",
            "command": "manage.py evaluate " + " ".join(sys.argv[2:]),
            "scenarios": scenarios_info,
            "settings": {"seed": run_settings.seed, "max_rounds": run_settings.max_rounds, "max_open": 3},
            "arms": [],
        }
        with evaluation_database(options["db"]) as database:
            report["settings"]["database"] = database
            for arm in arms:
                self._preflight(arm)
                arm_started = time.monotonic()
                outcomes, bidders = mandate_run(
                    arm=arm, scenarios=scenarios, settings=run_settings, provider_resolver=self.provider_resolver
                )
                metrics = mandate_metrics(outcomes, bidders)
                metrics["wall_seconds"] = round(time.monotonic() - arm_started, 3)
                report["arms"].append(
                    {
                        "config": arm.as_dict(),
                        "metrics": metrics,
                        "mandates": [
                            {
                                "scenario": o.scenario,
                                "ceiling": str(o.ceiling),
                                "status": o.status,
                                "tried": o.tried,
                                "price": None if o.price is None else str(o.price),
                                "listing": o.listing,
                            }
                            for o in outcomes
                        ],
                    }
                )
                self.stdout.write(f"{arm.name}: " + json.dumps(metrics))
        report["wall_seconds"] = round(time.monotonic() - started, 3)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        self.stdout.write(f"Report: {out}")
        if any(arm["metrics"]["double_sales"] or arm["metrics"]["double_purchases"] for arm in report["arms"]):
            raise CommandError("A listing sold, or a mandate bought, more than once: see the report.")

    # --- inputs -----------------------------------------------------------------------------------------
    def _scenarios(self, options: dict[str, Any]) -> tuple[list[Scenario], dict[str, Any]]:
        limit = options["limit"]
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        path = Path(options["scenarios"])
        try:
            scenarios = scenario_load(path)
        except ScenarioError as exc:
            raise CommandError(str(exc)) from exc
        if not scenarios:
            raise CommandError(f"{path} holds no scenarios.")
        for scenario in scenarios:
            if scenario.listing_price <= 0 or scenario.buyer_target <= 0:
                raise CommandError(f"scenario {scenario.id}: listing_price and buyer_target must be positive.")
        chosen = scenarios[:limit] if limit else scenarios
        info = {
            "file": str(path),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "in_file": len(scenarios),
            "used": len(chosen),
            "with_zone_of_agreement": sum(1 for s in chosen if scenario_limits(s).has_zone_of_agreement),
        }
        return chosen, info

    def _arms(self, options: dict[str, Any]) -> list[ArmConfig]:
        default_mode = str(options["mode"] or AgentMode.NARRATE.value)
        strategies = (
            str(options["buyer_strategy"] or options["strategy"]),
            str(options["seller_strategy"] or options["strategy"]),
        )
        pairs = [(str(options["buyer_mode"] or default_mode), str(options["seller_mode"] or default_mode))]
        for spec in options["baseline"]:
            pair = _baseline_modes(spec)
            if pair not in pairs:
                pairs.append(pair)
        return [
            ArmConfig(
                name=buyer if buyer == seller else f"{buyer}/{seller}",
                buyer_mode=buyer,
                seller_mode=seller,
                buyer_strategy=strategies[0],
                seller_strategy=strategies[1],
                provider=options["provider"],
                model=options["model"],
                temperature=options["temperature"],
            )
            for buyer, seller in pairs
        ]

    def _run_settings(self, options: dict[str, Any]) -> RunSettings:
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1.")
        cap = settings.NEGOTIATION_MAX_ROUNDS_CAP
        max_rounds = options["max_rounds"] or settings.NEGOTIATION_DEFAULT_MAX_ROUNDS
        if options["max_rounds"] is not None and not 1 <= options["max_rounds"] <= cap:
            raise CommandError(f"--max-rounds must be between 1 and {cap}.")
        seed = options["seed"] if options["seed"] is not None else secrets.randbelow(2**31)
        if not 0 <= seed <= MAX_SEED:
            raise CommandError(f"--seed must be between 0 and {MAX_SEED}.")
        temperature = options["temperature"]
        if temperature is not None and not 0 <= temperature <= 2:
            raise CommandError("--temperature must be between 0 and 2.")
        return RunSettings(seed=seed, concurrency=options["concurrency"], max_rounds=max_rounds, opens=options["opens"])

    @staticmethod
    def _out_path(value: str) -> Path:
        out = Path(value)
        if out.is_dir():
            raise CommandError(f"--out {value} is a directory; give a file name.")
        if not out.parent.is_dir():
            raise CommandError(f"--out: the directory {out.parent} does not exist.")
        return out

    def _preflight(self, arm: ArmConfig) -> ProviderCheck | None:
        """Fail before playing anything if an LLM arm's provider does not answer (every turn would wait
        for its timeouts and fall back to templated words, which measures nothing)."""
        if not arm.uses_llm:
            return None
        check = asyncio.run(provider_check(self.provider_resolver, name=arm.provider, model=arm.model))
        if check.problem:
            name = arm.provider or settings.LLM_PROVIDER
            raise CommandError(
                f"The LLM provider {name!r} is not usable for the {arm.name!r} configuration: {check.problem} "
                "Start a model (docs/configuration.md, Getting a model) or evaluate with --mode rule."
            )
        self.stderr.write(f"{arm.name}: provider {check.provider!r}, model {check.model!r}")
        return check

    # --- progress ---------------------------------------------------------------------------------------
    def _progress(self, started: float):
        def report(done: NegotiationDone) -> None:
            result = f"agreed at {done.agreed_price}" if done.status == "agreed" else done.status
            elapsed = time.monotonic() - started
            left = elapsed / done.done * (done.total - done.done)
            self.stderr.write(
                f"[{done.arm} {done.done:>{len(str(done.total))}}/{done.total}] scenario {done.scenario.id}: {result}, "
                f"{done.rounds} round(s), {done.wall_seconds:.1f} s, {done.llm_calls} LLM call(s); "
                f"elapsed {elapsed:.0f} s, about {left:.0f} s left"
            )

        return report


def _baseline_modes(spec: str) -> tuple[str, str]:
    parts = spec.split("/")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or any(p not in AgentMode.values for p in parts):
        raise CommandError(
            f"--baseline {spec!r}: give a mode ({', '.join(AgentMode.values)}) or BUYER/SELLER modes such as llm/narrate."
        )
    return parts[0], parts[1]
