"""Placeholder: this family of rules is being written."""
