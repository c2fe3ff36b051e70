"""A TLS server that enforces API Gateway TLS security policies per SNI hostname."""

from .config import Endpoint, ServerConfig, ServerSettings, default_config, load_config, parse_config
from .server import ReferenceServer

__all__ = ["Endpoint", "ReferenceServer", "ServerConfig", "ServerSettings", "default_config", "load_config",
           "parse_config"]
