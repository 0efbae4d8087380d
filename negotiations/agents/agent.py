"""WHAT: an agent plays one turn for one side: its strategy's move, proposed by the LLM (mode `llm`, as JSON
     where the server constrains output), voiced by it (mode `narrate`) or said from the phrase bank (mode
     `rule`), every guardrail run on the result. It returns a `TurnPlan`; it never writes to the database.
WHY: keeping the turn a pure-ish async function of (settings, state, visible events, provider) is what
     makes turns replayable: an interrupted turn is simply played again from the log.
HOW: text streams through `provider.stream()`, each delta to `on_delta` (published live, never logged); each
     call is bounded by `llm_timeout` (a failure: a phrase, an `llm_unavailable` finding). Up to
     NARRATE_CANDIDATES drafts meet `check_text` and `check_wording`: the first that passes, else a phrase.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from llm.protocol import Provider
from llm.types import ChatMessage, ChatRequest
from negotiations.agents.guardrails import Finding, PublicDraftGate, TextPolicy, check_proposal, check_text
from negotiations.agents.phrases import item_name, phrase_for
from negotiations.agents.prompts import PromptContext, llm_messages, narrate_messages, proposal_response_format
from negotiations.agents.proposals import parse_proposal
from negotiations.agents.strategy import PRICED_ACTIONS, ConcessionStrategy, Decision
from negotiations.agents.text import clean_text, strip_control_chars
from negotiations.agents.wording import check_wording
from negotiations.events import MarketView, NegotiationState, other_role, price_str
from negotiations.exceptions import LLMUnavailableError
from negotiations.models import AgentMode, Event

logger = logging.getLogger(__name__)

ProviderResolver = Callable[[str | None], Awaitable[Provider]]
# (turn, attempt, text, visibility) for each piece of a message being written; `attempt` numbers the
# drafts of one turn with that visibility (1, 2 after a regeneration).
DeltaSink = Callable[[int, int, str, str], None]

NARRATE_MAX_TOKENS = 40
LLM_MAX_TOKENS = 120
RAW_PROPOSAL_CHARS = 400
# Drafts the model may write for one message before a phrase of the bank is said, and the temperature
# of each (when the side sets none): the first close to the examples, the later ones freer.
NARRATE_CANDIDATES = 3
NARRATE_TEMPERATURES = (0.2, 0.7, 1.0)


@dataclass(frozen=True)
class AgentSettings:
    """One side's configuration, copied from its Participant row (its own private data included)."""

    role: str
    limit: Decimal
    target: Decimal | None
    strategy: str
    mode: str
    persona: str = ""
    provider: str = ""
    model: str = ""
    temperature: float | None = None


@dataclass(frozen=True)
class ListingFacts:
    title: str
    list_price: Decimal
    currency: str
    category: str = ""


@dataclass
class TurnPlan:
    """Everything one turn will log: the move, its public words, the private thought and the findings."""

    turn: int
    actor: str
    decision: Decision
    text: str
    thought: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)


class Agent:
    def __init__(
        self,
        *,
        settings: AgentSettings,
        listing: ListingFacts,
        max_rounds: int,
        seed: int,
        provider_resolver: ProviderResolver,
        llm_timeout: float,
        on_delta: DeltaSink | None = None,
    ) -> None:
        self.settings = settings
        self.listing = listing
        self.seed = seed
        self.strategy = ConcessionStrategy(
            role=settings.role,  # type: ignore[arg-type]
            limit=settings.limit,
            target=settings.target,
            tactic=settings.strategy,
            list_price=listing.list_price,
            max_rounds=max_rounds,
            seed=seed,
        )
        self._resolve = provider_resolver
        self._llm_timeout = llm_timeout
        self._on_delta = on_delta
        self._attempt = 0  # LLM calls in the current turn (seeds each call)
        # Drafts of live deltas, numbered per visibility: a public draft numbered 2 must not tell the
        # other side that a private proposal came first.
        self._drafts = {"public": 0, "private": 0}
        self._market = MarketView()
        self._earlier: list[str] = []  # this side's earlier public messages (not to be said again)

    # --- the turn -----------------------------------------------------------------------------------
    async def play(
        self, *, state: NegotiationState, visible_events: Sequence[Any], market: MarketView | None = None
    ) -> TurnPlan:
        """Play the next turn. `visible_events` must already be filtered for this side; `market` is what
        this side knows of the market around it (other negotiations; its outside offer is private)."""
        role = self.settings.role
        turn = state.next_turn
        standing = state.standing_offer(other_role(role))
        self._market = market or MarketView()
        plan = self.strategy.decide(
            own_turn=state.round_of(turn),
            final_turn=turn == state.final_turn,
            standing_offer=standing,
            outside_offer=self._market.outside_offer,
            own_last_offer=state.standing_offer(role),
        )
        thought: dict[str, Any] = {
            "reasoning": plan.reasoning,
            "strategy": self.settings.strategy,
            "planned_price": price_str(plan.planned_price),
            "limit_price": price_str(self.settings.limit),
            "target_price": price_str(self.settings.target),
            "standing_offer": price_str(standing),
        }
        if market is not None:
            thought["market"] = {
                "open_negotiations": market.open_negotiations,
                "outside_offer": price_str(market.outside_offer),
            }
        result = TurnPlan(turn=turn, actor=role, decision=plan.decision, text="", thought=thought)
        context = self._prompt_context(visible_events)
        self._earlier = [text for actor, text in context.transcript if actor == role]
        self._attempt = 0
        self._drafts = {"public": 0, "private": 0}

        if self.settings.mode == AgentMode.RULE:
            result.text = self._phrase(result.decision, turn, context, self._policy(state, result.decision))
            return result

        candidate: str | None = None
        if self.settings.mode == AgentMode.LLM:
            candidate = await self._propose(result, state, context, standing, plan.planned_price)
            if candidate is None and result.findings and result.findings[-1].kind == "llm_unavailable":
                result.text = self._phrase(result.decision, turn, context, self._policy(state, result.decision))
                return result
        result.text = await self._final_text(result, state, context, candidate)
        return result

    async def _propose(
        self,
        result: TurnPlan,
        state: NegotiationState,
        context: PromptContext,
        standing: Decimal | None,
        suggestion: Decimal,
    ) -> str | None:
        """Mode `llm`: adopt the model's move if it passes the checks; return its message, if usable. A
        server that constrains output to a JSON schema is asked for one (the provider says which can)."""
        constrained = "json_schema" in await self._response_formats()
        messages = llm_messages(
            context, limit=self.settings.limit, standing_offer=standing, suggestion=suggestion, as_json=constrained
        )
        try:
            raw = await self._generate(
                messages,
                turn=result.turn,
                gate=None,
                max_tokens=LLM_MAX_TOKENS,
                response_format=proposal_response_format() if constrained else None,
            )
        except LLMUnavailableError as exc:
            result.findings.append(self._llm_failure(exc))
            return None
        proposal = parse_proposal(raw)
        result.thought["proposal"] = {
            "action": proposal.action,
            "price": price_str(proposal.price),
            "raw": raw[:RAW_PROPOSAL_CHARS],
            "constrained": constrained,
        }
        if proposal.action is None or (proposal.action == "offer" and proposal.price is None):
            result.findings.append(
                Finding(
                    "invalid_proposal",
                    "The model's move could not be read; the strategy's move was used.",
                    {"raw_action": proposal.raw_action, "raw_price": proposal.raw_price},
                )
            )
            return None
        price = proposal.price if proposal.action in PRICED_ACTIONS else None
        if proposal.action == "accept" and price is None:
            price = standing  # "accept" without a price means the standing offer
        proposed = Decision(proposal.action, price)  # type: ignore[arg-type]
        problems = check_proposal(
            proposed,
            role=self.settings.role,
            limit=self.settings.limit,
            standing_offer=standing,
            private_prices=self._private_prices(),
        )
        if problems:
            first = problems[0]
            result.findings.append(
                Finding(
                    first.kind,
                    first.detail + " The strategy's move was used.",
                    {**first.data, "proposed_action": proposal.action},
                )
            )
            return None
        result.decision = proposed
        return proposal.message

    async def _final_text(
        self, result: TurnPlan, state: NegotiationState, context: PromptContext, candidate: str | None
    ) -> str:
        """The first draft that passes every text check (`candidate`, the `llm` proposal's message, is the
        first draft); up to NARRATE_CANDIDATES drafts, then a phrase of the bank."""
        decision = result.decision
        policy = self._policy(state, decision)
        retry_reason = ""
        for attempt in range(NARRATE_CANDIDATES):
            if candidate is None:
                try:
                    candidate = await self._write(context, decision, policy, result.turn, retry_reason, attempt)
                except LLMUnavailableError as exc:
                    result.findings.append(self._llm_failure(exc))
                    return self._phrase(decision, result.turn, context, policy)
            problems = self._text_problems(candidate, decision, policy)
            if not problems:
                return candidate
            last = attempt == NARRATE_CANDIDATES - 1
            remedy = "phrase" if last else "regenerated"
            result.findings.append(
                Finding(
                    problems[0].kind,
                    f"{problems[0].detail} The text was {'replaced by a phrase' if last else 'regenerated'}.",
                    {"rejected_text": candidate, "problems": [p.kind for p in problems], "remedy": remedy},
                )
            )
            retry_reason = _retry_reason(problems[0].kind)
            candidate = None
        return self._phrase(decision, result.turn, context, policy)

    def _policy(self, state: NegotiationState, decision: Decision) -> TextPolicy:
        return TextPolicy.build(
            public_prices=state.public_prices() | {self.listing.list_price},
            current_price=decision.price,
            private_prices=set(self._private_prices()),
        )

    def _text_problems(self, text: str, decision: Decision, policy: TextPolicy) -> list[Finding]:
        """Every check on a public text: prices and privacy (`check_text`), then the words (`check_wording`)."""
        problems = check_text(text, action=decision.action, price=decision.price, policy=policy)
        return problems + check_wording(
            text, role=self.settings.role, action=decision.action, price=decision.price, earlier=self._earlier
        )

    # --- LLM plumbing -------------------------------------------------------------------------------
    async def _write(
        self, context: PromptContext, decision: Decision, policy: TextPolicy, turn: int, retry_reason: str, attempt: int
    ) -> str:
        messages = narrate_messages(context, decision, retry_reason=retry_reason)
        temperature = self.settings.temperature
        if temperature is None:
            temperature = NARRATE_TEMPERATURES[min(attempt, len(NARRATE_TEMPERATURES) - 1)]
        raw = await self._generate(
            messages,
            turn=turn,
            gate=PublicDraftGate(policy=policy),
            max_tokens=NARRATE_MAX_TOKENS,
            temperature=temperature,
        )
        return clean_text(raw)

    async def _response_formats(self) -> frozenset[str]:
        """The `response_format` types this side's provider passes on (none when it cannot be resolved:
        the call that follows reports that failure)."""
        try:
            async with asyncio.timeout(self._llm_timeout):
                provider = await self._resolve(self.settings.provider or None)
        except Exception:  # resolution failures are reported by the call itself
            return frozenset()
        return frozenset(provider.response_formats)

    async def _generate(
        self,
        messages: tuple[ChatMessage, ...],
        *,
        turn: int,
        gate: PublicDraftGate | None,
        max_tokens: int,
        temperature: float | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> str:
        self._attempt += 1
        attempt = self._attempt
        kind = "private" if gate is None else "public"
        self._drafts[kind] += 1
        draft = self._drafts[kind]
        request = ChatRequest(
            messages=messages,
            model=self.settings.model or None,
            temperature=self.settings.temperature if temperature is None else temperature,
            max_tokens=max_tokens,
            extra={"seed": random.Random(f"{self.seed}:{turn}:{attempt}").getrandbits(31)},
            response_format=response_format,
        )
        parts: list[str] = []
        try:
            async with asyncio.timeout(self._llm_timeout):
                provider = await self._resolve(self.settings.provider or None)
                stream = provider.stream(request)
                try:
                    async for chunk in stream:
                        delta = strip_control_chars(chunk.delta or "")
                        if delta:
                            parts.append(delta)
                            self._emit(turn, draft, delta, gate)
                finally:
                    aclose = getattr(stream, "aclose", None)
                    if aclose is not None:
                        await aclose()
        except TimeoutError:
            raise LLMUnavailableError("LLM_TIMEOUT") from None
        except Exception as exc:  # any provider failure (typed or not) must not fail the negotiation
            logger.warning("LLM call failed for %s turn %s: %s", self.settings.role, turn, exc.__class__.__name__)
            raise LLMUnavailableError(getattr(exc, "code", "LLM_ERROR")) from exc
        return "".join(parts)

    def _emit(self, turn: int, draft: int, delta: str, gate: PublicDraftGate | None) -> None:
        if self._on_delta is None:
            return
        if gate is None:
            # A raw tagged proposal is a private draft: only this side may watch it being written.
            self._on_delta(turn, draft, delta, self.settings.role)
            return
        piece = gate.feed(delta)
        if piece:
            self._on_delta(turn, draft, piece, Event.Visibility.PUBLIC)

    # --- helpers ------------------------------------------------------------------------------------
    def _private_prices(self) -> frozenset[Decimal]:
        """This side's limit and target, except a value that is public anyway (the list price), and the
        outside offer: a number from another negotiation."""
        own = {p for p in (self.settings.limit, self.settings.target) if p is not None}
        outside = {self._market.outside_offer} if self._market.outside_offer is not None else set()
        return frozenset(own - {self.listing.list_price}) | outside

    def _phrase(self, decision: Decision, turn: int, context: PromptContext, policy: TextPolicy | None = None) -> str:
        """A phrase of the bank for the move, unused in a row; naming the category's noun instead of the
        item's name should that name trip a check (a title word such as "message")."""
        own = [text for actor, text in context.transcript if actor == self.settings.role]
        previous = context.transcript[-1][1] if context.transcript else ""
        text = ""
        for item in (context.item, item_name("", self.listing.category)):
            text = phrase_for(
                role=self.settings.role,
                action=decision.action,
                price=decision.price,
                item=item,
                currency=self.listing.currency,
                seed=self.seed,
                turn=turn,
                own_texts=own,
                previous_text=previous,
            )
            if policy is None or not self._text_problems(text, decision, policy):
                break
        return text

    @staticmethod
    def _llm_failure(exc: LLMUnavailableError) -> Finding:
        return Finding(
            "llm_unavailable",
            "The language model failed or timed out; templated words were used.",
            {"error_code": exc.code},
        )

    def _prompt_context(self, visible_events: Sequence[Any]) -> PromptContext:
        messages = [e for e in visible_events if e.type == Event.Type.MESSAGE]
        transcript = [(e.actor, e.data.get("text", "")) for e in messages]
        theirs = [e for e in messages if e.actor != self.settings.role and e.data.get("action") == "offer"]
        their_offer = theirs[-1].data.get("price") if theirs else None
        return PromptContext(
            role=self.settings.role,
            title=self.listing.title,
            list_price=self.listing.list_price,
            currency=self.listing.currency,
            persona=self.settings.persona,
            transcript=transcript,
            item=item_name(self.listing.title, self.listing.category),
            category=self.listing.category,
            their_offer=None if their_offer in (None, "") else Decimal(str(their_offer)),
        )


def _retry_reason(kind: str) -> str:
    # Deliberately generic: the reason goes back into a prompt and must not repeat the rejected price.
    if kind == "contradicting_text":
        return "it did not match the move"
    if kind == "empty_text":
        return "it was empty"
    return "it named a price you may not mention"
