"""WHAT: the evaluation of negotiating agents on scenario sets (`manage.py evaluate`): `metrics` computes
     every number from negotiation logs (pure), `metering` counts LLM calls and tokens, `database`
     provides the throwaway SQLite database, `runner` plays one configuration ("arm") over the
     scenarios, and `report` shapes the JSON report and the summary table.
WHY: one module per idea, so the metric definitions can be read and tested without a database or LLM.
HOW: the `evaluate` command wires them together; see its docstring and docs/evaluation.md.
"""
