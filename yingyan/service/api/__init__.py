"""The service's HTTP and WebSocket API."""

from yingyan.service.api.app import create_app

__all__ = ["create_app"]
