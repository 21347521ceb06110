"""defai-swarm core: intents, planner, graph runtime, model backend, audit log."""
