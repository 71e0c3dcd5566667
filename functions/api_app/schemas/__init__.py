"""Request and response bodies of the research API, one module per area."""
