"""WHAT: the turn engine: plays a running negotiation turn by turn until an acceptance, a walk-away or
     the round limit, writing each turn's events in one transaction.
WHY: the event log is the only state. The engine rebuilds its state from the log, so a negotiation
     interrupted anywhere (between turns, or mid-turn before the commit) resumes with nothing lost or
     written twice and, with the same seed and a deterministic LLM, reaches the same final state.
HOW: `await NegotiationEngine(...).run(negotiation_id)`: per turn the acting side's Agent plays on the events
     it may see, `guardrails.assert_move_allowed` gates the move, `log.negotiation_turn_commit` writes it (one
     thread-sensitive DB thread). Unexpected errors mark the negotiation `failed`; LLM failures never do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from llm.protocol import Provider
from llm.registry import aget_provider
from negotiations import log, market
from negotiations.agents.agent import Agent, AgentSettings, ListingFacts, ProviderResolver, TurnPlan
from negotiations.agents.guardrails import assert_move_allowed
from negotiations.events import (
    EventDraft,
    MarketView,
    NegotiationState,
    message_draft,
    other_role,
    outcome_draft,
    private_draft,
    state_from_events,
    status_draft,
)
from negotiations.exceptions import MarketClosedError, NegotiationNotRunningError, TurnConflictError
from negotiations.live.broadcast import Broadcaster, TokenDelta, get_broadcaster
from negotiations.log import TurnOutcome
from negotiations.models import Event, Negotiation
from negotiations.selectors import NegotiationSetup, market_view_get, negotiation_setup_get
from negotiations.visibility import Viewer, filter_visible

logger = logging.getLogger(__name__)


async def default_provider_resolver(name: str | None) -> Provider:
    """The provider layer's registry (tests inject a fake resolver instead)."""
    return await aget_provider(name)


def _commit_and_look(
    negotiation: Negotiation, *, turn: int, drafts: list[EventDraft], outcome: TurnOutcome | None, next_role: str
) -> tuple[list[Event], MarketView | None]:
    """Commit a turn, then read the market for the next side's turn in the same thread hop (a turn's
    one database round trip from the event loop; the view is as fresh as one read before the turn)."""
    written = log.negotiation_turn_commit(negotiation_id=negotiation.pk, turn=turn, drafts=drafts, outcome=outcome)
    return written, None if outcome is not None else market_view_get(negotiation=negotiation, role=next_role)


@dataclass(frozen=True)
class RunResult:
    negotiation_id: int
    status: str
    turns_played: int


class NegotiationEngine:
    def __init__(
        self,
        *,
        provider_resolver: ProviderResolver | None = None,
        broadcaster: Broadcaster | None = None,
        llm_timeout: float | None = None,
    ) -> None:
        self.provider_resolver = provider_resolver or default_provider_resolver
        self.broadcaster = broadcaster or get_broadcaster()
        self.llm_timeout = llm_timeout if llm_timeout is not None else settings.NEGOTIATION_LLM_TIMEOUT

    async def run(self, negotiation_id: int, *, max_turns: int | None = None) -> RunResult:
        """Play until the negotiation ends (or `max_turns` turns were written by this call)."""
        try:
            return await self._run(negotiation_id, max_turns=max_turns)
        finally:
            # Nothing recycles the connection of the thread the engine's database calls run in: close it
            # between runs (as a request's is, per CONN_MAX_AGE), or an idle server keeps it open forever.
            await sync_to_async(close_old_connections)()

    async def _run(self, negotiation_id: int, *, max_turns: int | None) -> RunResult:
        played = 0
        try:
            # A background run outlives requests, so nothing else recycles this thread's connection.
            await sync_to_async(close_old_connections)()
            setup = await sync_to_async(negotiation_setup_get)(negotiation_id=negotiation_id)
            if setup.negotiation.status != Negotiation.Status.RUNNING:
                return RunResult(negotiation_id, setup.negotiation.status, 0)
            closed = log.market_closed_reason(setup.negotiation)
            if closed is not None:  # sold or withdrawn while it was not played (a crash, a restart)
                await sync_to_async(log.negotiation_end)(negotiation_id=negotiation_id, end_reason=closed)
                return await self._settled(negotiation_id, played)
            events = list(setup.events)
            state = self._state(setup, events)
            agents = {role: self._agent(setup, role) for role in ("buyer", "seller")}
            view = await sync_to_async(market_view_get)(
                negotiation=setup.negotiation, role=state.actor_of(state.next_turn)
            )
            while not state.finished and (max_turns is None or played < max_turns):
                plan = await self._play(state, events, agents, view)
                drafts, outcome = self._turn_events(plan, state, setup)
                try:
                    written, next_view = await sync_to_async(_commit_and_look)(
                        setup.negotiation,
                        turn=plan.turn,
                        drafts=drafts,
                        outcome=outcome,
                        next_role=other_role(plan.actor),
                    )
                except TurnConflictError:
                    logger.info("negotiation %s: turn %s was written elsewhere; reloading", negotiation_id, plan.turn)
                    setup = await sync_to_async(negotiation_setup_get)(negotiation_id=negotiation_id)
                    events = list(setup.events)
                    state = self._state(setup, events)
                    view = await sync_to_async(market_view_get)(
                        negotiation=setup.negotiation, role=state.actor_of(state.next_turn)
                    )
                    continue
                except NegotiationNotRunningError:
                    break
                except MarketClosedError as exc:  # sold elsewhere, withdrawn, or its mandate bought
                    await sync_to_async(log.negotiation_end)(negotiation_id=negotiation_id, end_reason=exc.end_reason)
                    break
                events.extend(written)
                for event in written:
                    state.apply(event)
                view = next_view or view
                played += 1
        except Exception:
            logger.exception("negotiation %s failed", negotiation_id)
            await sync_to_async(log.negotiation_fail)(negotiation_id=negotiation_id)
            return RunResult(negotiation_id, Negotiation.Status.FAILED, played)
        return await self._settled(negotiation_id, played)

    async def _settled(self, negotiation_id: int, played: int) -> RunResult:
        """The market after this negotiation's run: a sale ends the listing's other negotiations, a
        mandate shops on. Its own status is what the log says now."""
        final = await sync_to_async(market.negotiation_settle)(negotiation_id=negotiation_id)
        return RunResult(negotiation_id, final, played)

    # --- one turn -----------------------------------------------------------------------------------
    async def _play(
        self, state: NegotiationState, events: list[Event], agents: dict[str, Agent], view: MarketView
    ) -> TurnPlan:
        role = state.actor_of(state.next_turn)
        visible = filter_visible(Viewer(role), events)  # type: ignore[arg-type]
        plan = await agents[role].play(state=state, visible_events=visible, market=view)
        agent_settings = agents[role].settings
        assert_move_allowed(
            plan.decision, role=role, limit=agent_settings.limit, standing_offer=state.standing_offer(other_role(role))
        )
        return plan

    def _turn_events(
        self, plan: TurnPlan, state: NegotiationState, setup: NegotiationSetup
    ) -> tuple[list[EventDraft], TurnOutcome | None]:
        turn, actor, decision = plan.turn, plan.actor, plan.decision
        drafts = [private_draft(type=Event.Type.THOUGHT, actor=actor, turn=turn, data=plan.thought)]
        drafts += [
            private_draft(
                type=Event.Type.GUARDRAIL, actor=actor, turn=turn, data={"kind": f.kind, "detail": f.detail, **f.data}
            )
            for f in plan.findings
        ]
        drafts.append(
            message_draft(actor=actor, turn=turn, action=decision.action, price=decision.price, text=plan.text)
        )
        rounds = state.round_of(turn)
        if decision.action == "accept":
            outcome = TurnOutcome(Negotiation.Status.AGREED, Negotiation.EndReason.ACCEPTED, decision.price, rounds)
        elif decision.action == "walk_away":
            outcome = TurnOutcome(Negotiation.Status.NO_DEAL, Negotiation.EndReason.WALK_AWAY, None, rounds)
        elif turn >= state.final_turn:
            outcome = TurnOutcome(Negotiation.Status.NO_DEAL, Negotiation.EndReason.MAX_ROUNDS, None, rounds)
        else:
            return drafts, None
        drafts.append(status_draft(outcome.status))
        result = "agreed" if outcome.status == Negotiation.Status.AGREED else "no_deal"
        drafts.append(
            outcome_draft(
                result=result, end_reason=outcome.end_reason, agreed_price=outcome.agreed_price, rounds_used=rounds
            )
        )
        return drafts, outcome

    # --- setup --------------------------------------------------------------------------------------
    @staticmethod
    def _state(setup: NegotiationSetup, events: list[Event]) -> NegotiationState:
        return state_from_events(events, opens=setup.negotiation.opens, max_rounds=setup.negotiation.max_rounds)

    def _agent(self, setup: NegotiationSetup, role: str) -> Agent:
        participant = setup.participants[role]
        negotiation_id = setup.negotiation.pk

        def on_delta(turn: int, attempt: int, text: str, visibility: str) -> None:
            self.broadcaster.publish_delta(TokenDelta(negotiation_id, role, visibility, turn, attempt, text))

        return Agent(
            settings=AgentSettings(
                role=role,
                limit=participant.limit_price,
                target=participant.target_price,
                strategy=participant.strategy,
                mode=participant.mode,
                persona=participant.persona,
                provider=participant.provider,
                model=participant.model,
                temperature=participant.temperature,
            ),
            listing=ListingFacts(
                setup.listing.title, setup.listing.list_price, setup.listing.currency, setup.listing.category
            ),
            max_rounds=setup.negotiation.max_rounds,
            seed=setup.negotiation.seed,
            provider_resolver=self.provider_resolver,
            llm_timeout=self.llm_timeout,
            on_delta=on_delta,
        )
