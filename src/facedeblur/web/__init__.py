"""The web page, ``facedeblur serve``: deblur, moments and obfuscation of uploaded photos.

Needs the ``web`` extra (Gradio): ``pip install 'facedeblur[web]'``. Only ``cli`` imports this
package, so the rest of facedeblur works without Gradio.
"""

try:
    import gradio  # noqa: F401
except ImportError as exc:
    from ..errors import UsageError

    raise UsageError(
        "the web page needs Gradio, which is not installed: pip install 'facedeblur[web]'"
    ) from exc

from .app import DEFAULT_HOST, DEFAULT_PORT, Server, build_app, serve
from .handlers import MAX_PIXELS, MAX_UPLOAD_MB, Handlers

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_PIXELS",
    "MAX_UPLOAD_MB",
    "Handlers",
    "Server",
    "build_app",
    "serve",
]
