"""What every stage shares: errors, configuration, survey estimates, atomic outputs, states, the catalogue."""
