"""The swarm for other agent frameworks: LangChain/LangGraph tools and an MCP server over one toolkit.

Heavy imports (langchain_core, mcp) happen in the submodules, so importing this package costs nothing.
"""
