"""The CDK app: one hub stack and one spoke stack per hospital for each environment (DESIGN.md section 2)."""
