"""The WebSocket bridge (``realtalk api``): serves live agents to browsers and phones.

Needs the ``server`` extra (starlette, uvicorn, websockets, pyjwt); ``import realtalk``
never imports this package.
"""

from .app import Bridge, create_app
from .config import BridgeConfig, ConfigError, load_config

__all__ = ["Bridge", "BridgeConfig", "ConfigError", "create_app", "load_config"]
