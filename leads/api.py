"""Thin DRF views and serializers of this app; rules live in services and selectors."""

from __future__ import annotations

from django.urls import path  # noqa: F401

urlpatterns: list = []
