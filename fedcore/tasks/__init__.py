"""Tasks: what a run trains and how its rounds release (DESIGN.md sections 1 and 3)."""
