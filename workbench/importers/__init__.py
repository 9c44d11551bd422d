"""Importers: traces written by other tools, converted once onto the run clock."""
