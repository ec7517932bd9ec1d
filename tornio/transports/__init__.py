"""Tornado adapters: the only modules that touch request handlers and streams."""
