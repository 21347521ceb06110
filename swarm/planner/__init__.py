"""The Graph-of-Thought planner: a plain-language intent -> a validated TaskGraph, or a refusal."""
from defai_swarm.intent import Intent, IntentSlots, PriceCondition
from defai_swarm.planner.build import PlanBuildError, build_task_graph
from defai_swarm.planner.got import NO_MODEL_NOTE, PlanResult, Planner
from defai_swarm.planner.operations import (
    Aggregate,
    Generate,
    GraphOfOperations,
    Improve,
    KeepBestN,
    KeepValid,
    OperationRun,
    Score,
    Thought,
    Veto,
)
from defai_swarm.planner.parser import ParseFailure, parse_intent
from defai_swarm.planner.validators import Assessment, PlanningContext, assess

__all__ = [
    "Aggregate", "Assessment", "Generate", "GraphOfOperations", "Improve", "Intent", "IntentSlots", "KeepBestN",
    "KeepValid", "NO_MODEL_NOTE", "OperationRun", "ParseFailure", "PlanBuildError", "PlanResult", "Planner",
    "PlanningContext", "PriceCondition", "Score", "Thought", "Veto", "assess", "build_task_graph", "parse_intent",
]
