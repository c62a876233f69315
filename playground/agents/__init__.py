"""Tool calling and ReAct: shipped tools that are safe by construction, parsing a model's tool call,
and the loop that runs the tools and feeds their results back (for local and endpoint models)."""
