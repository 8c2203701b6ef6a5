"""Shared contracts and helpers for the Moodstream services.

This package never runs on its own: it holds the records that travel on topics,
topic names, settings, the Faust app factory and tracing helpers.
"""
