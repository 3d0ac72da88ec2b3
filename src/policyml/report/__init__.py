"""The report stage: the report's helpers, rendering (Quarto or the fallback), the browser check."""
