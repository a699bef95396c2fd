"""The one accessor for what every request needs: the app's Redis client and settings."""

from __future__ import annotations

from flask import Flask, current_app
from redis import Redis

from core.settings import Settings

REDIS_KEY = "REDIS"
SETTINGS_KEY = "SETTINGS"


def redis(app: Flask | None = None) -> Redis:
    """The Redis client of `app` (default: the app handling this request)."""
    return (app or current_app).config[REDIS_KEY]


def settings(app: Flask | None = None) -> Settings:
    """The settings of `app` (default: the app handling this request)."""
    return (app or current_app).config[SETTINGS_KEY]
