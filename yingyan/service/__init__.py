"""The incident service: storage, alert push, the closed-loop workflow, API and access control.

``yingyan.service.runtime.ServiceRuntime`` (``yingyan serve``) puts it together and
``yingyan.service.api.create_app`` is its HTTP API; this package itself only names the
configuration (the site file's ``service`` section), so that the site model can use it.
"""

from yingyan.service.config import ServiceConfig

__all__ = ["ServiceConfig"]
