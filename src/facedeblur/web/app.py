"""The page of ``facedeblur serve``: three tabs (Deblur, Moments, Obfuscate) over ``Handlers``.

Components carry ``elem_id`` values (``deblur-upload``, ``deblur-run``, ``deblur-download``, ...)
so that a browser test can find them.
"""

from __future__ import annotations

import ipaddress
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..errors import UsageError
from ..models.runtime import resolve_device
from ..privacy.obfuscate import ATTRIBUTES, OBFUSCATION_METHODS
from ..restore.moments import MAX_FRAMES
from .handlers import DEFAULT_MOMENTS, MAX_UPLOAD_MB, Handlers

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860

# One job at a time on the server's CPU or GPU, whichever tab it comes from; others queue.
MODELS = "models"

INTRO = (
    "# facedeblur\n"
    "Upload a photo with motion-blurred faces. Everything runs on this machine; "
    "nothing is sent elsewhere."
)


def _upload(prefix: str) -> gr.File:
    return gr.File(
        label="Photo (PNG, JPEG, WebP, TIFF, ...)",
        file_types=["image"],
        type="filepath",
        elem_id=f"{prefix}-upload",
    )


def _flip_checkbox() -> gr.Checkbox:
    """The flip-ensemble switch of the deblur and moments tabs (``--flip-ensemble``)."""
    return gr.Checkbox(
        label="Flip ensemble (also restore the mirror image and average: twice the time)",
        value=False,
    )


def _deblur_tab(handlers: Handlers) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            upload = _upload("deblur")
            whole = gr.Checkbox(label="Whole image (the photo is a face crop)", value=False)
            flip = _flip_checkbox()
            run = gr.Button("Deblur", variant="primary", elem_id="deblur-run")
            summary = gr.Markdown(elem_id="deblur-summary")
        with gr.Column(scale=2):
            slider = gr.ImageSlider(
                label="Before / after (drag the handle)",
                format="png",
                interactive=False,
                elem_id="deblur-slider",
            )
            faces = gr.Gallery(
                label="Faces, before and after",
                format="png",
                columns=4,
                preview=False,
                object_fit="contain",
                elem_id="deblur-faces",
            )
            download = gr.File(
                label="Restored photo, full size", interactive=False, elem_id="deblur-download"
            )
    run.click(
        handlers.deblur,
        [upload, whole, flip],
        [slider, faces, download, summary],
        concurrency_id=MODELS,
        concurrency_limit=1,
    )


def _moments_tab(handlers: Handlers) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            upload = _upload("moments")
            count = gr.Slider(
                3, min(15, MAX_FRAMES), value=DEFAULT_MOMENTS, step=1, label="Moments"
            )
            whole = gr.Checkbox(label="Whole image (the photo is a face crop)", value=False)
            flip = _flip_checkbox()
            run = gr.Button("Restore moments", variant="primary", elem_id="moments-run")
            summary = gr.Markdown(elem_id="moments-summary")
        with gr.Column(scale=2):
            animation = gr.Image(
                label="Moments, animated",
                type="filepath",
                interactive=False,
                buttons=["download", "fullscreen"],
                elem_id="moments-gif",
            )
            frames = gr.Gallery(
                label="Each moment", format="png", columns=4, preview=False, object_fit="contain"
            )
            download = gr.File(
                label="Animation (GIF)", interactive=False, elem_id="moments-download"
            )
    run.click(
        handlers.moments,
        [upload, count, whole, flip],
        [animation, frames, download, summary],
        concurrency_id=MODELS,
        concurrency_limit=1,
    )


def _obfuscate_tab(handlers: Handlers) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            upload = _upload("obfuscate")
            method = gr.Dropdown(
                list(OBFUSCATION_METHODS),
                value=ATTRIBUTES,
                label="Method (attributes: rebuild each face with other attributes)",
            )
            run = gr.Button("Hide faces", variant="primary", elem_id="obfuscate-run")
            summary = gr.Markdown(elem_id="obfuscate-summary")
        with gr.Column(scale=2):
            result = gr.Image(
                label="Faces hidden",
                format="png",
                interactive=False,
                buttons=["download", "fullscreen"],
                elem_id="obfuscate-result",
            )
            sidecar = gr.JSON(label="Sidecar (keep it private: it describes the original faces)")
            download = gr.File(
                label="Result and sidecar",
                file_count="multiple",
                interactive=False,
                elem_id="obfuscate-download",
            )
    run.click(
        handlers.obfuscate,
        [upload, method],
        [result, sidecar, download, summary],
        concurrency_id=MODELS,
        concurrency_limit=1,
    )


def build_app(handlers: Handlers) -> gr.Blocks:
    """The page: Deblur, Moments and Obfuscate tabs wired to ``handlers``."""
    with gr.Blocks(title="facedeblur", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(INTRO)
        with gr.Tab("Deblur", elem_id="tab-deblur"):
            _deblur_tab(handlers)
        with gr.Tab("Moments", elem_id="tab-moments"):
            _moments_tab(handlers)
        with gr.Tab("Obfuscate", elem_id="tab-obfuscate"):
            _obfuscate_tab(handlers)
    return app


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Server:
    """A running page: ``url`` is its address; ``close()`` stops it and removes its files."""

    app: gr.Blocks
    url: str
    workdir: tempfile.TemporaryDirectory

    def close(self) -> None:
        """Stop the server and remove the result files."""
        self.app.close()
        self.workdir.cleanup()


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    model: str | Path | None = None,
    moments_model: str | Path | None = None,
    device: str = "auto",
    max_upload_mb: float = MAX_UPLOAD_MB,
    block: bool = True,
) -> Server:
    """Serve the page at http://``host``:``port`` (this machine only by default).

    With ``block`` (the ``facedeblur serve`` command) this returns when the server stops
    (Ctrl+C); without, it returns at once with the running ``Server``. Result files live in a
    temporary folder removed when the server stops.

    ``model`` and ``moments_model`` are weights files (None: the shipped ones); ``device`` is
    ``auto`` (CUDA when available), ``cpu`` or ``cuda``. The networks load on first use.

    Raises:
        UsageError: the port is taken, the host cannot be bound, or CUDA is asked for and absent.
    """
    device = resolve_device(device)
    workdir = tempfile.TemporaryDirectory(prefix="facedeblur-web-")
    handlers = Handlers(
        workdir.name,
        model=model,
        moments_model=moments_model,
        device=device,
        max_upload_mb=max_upload_mb,
    )
    app = build_app(handlers)
    if not _is_loopback(host):
        print(
            f"facedeblur serve: listening on {host}: other machines can reach this page",
            file=sys.stderr,
        )
    try:
        app.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            max_file_size=int(max_upload_mb * 2**20),
            allowed_paths=[workdir.name],
            ssr_mode=False,
            mcp_server=False,
            footer_links=[],
            quiet=True,
        )
    except OSError:
        workdir.cleanup()
        raise UsageError(
            f"cannot serve on {host}:{port}: the port is taken or the address is not one of "
            "this machine's; choose another --port or --host"
        ) from None
    server = Server(app, app.local_url, workdir)
    print(f"facedeblur serve: open {server.url} (Ctrl+C stops)", flush=True)
    if block:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop cleans up too
        try:
            app.block_thread()
        finally:
            server.close()
    return server
