"""The audit stage: fairness by group, mitigation, explanations and policy scenarios."""
