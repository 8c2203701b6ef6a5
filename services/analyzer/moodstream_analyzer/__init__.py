"""Analyzer service: sentiment scoring with flair, hashtags and mentions."""
