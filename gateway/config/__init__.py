"""The site configuration: one YAML file per city (see ``examples/madiun.yaml``)."""

from gateway.config.loader import load_config, parse_config
from gateway.config.models import GatewaySettings, OpdConfig, SiteConfig

__all__ = ["GatewaySettings", "OpdConfig", "SiteConfig", "load_config", "parse_config"]
