"""The data stage: Census files fetched and checked, the household table, summaries, published tables, PUMA shapes."""
