"""Shared foundations of every layer: fit configuration, the law registry, helpers over posterior
draws, safe file writing and terminal tables. Imports nothing else of bayescale but its errors."""
