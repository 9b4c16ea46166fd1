"""TechniService simulator (split by job in the next commit)."""
