"""facedeblur: motion-blurred faces, from realistic blur synthesis to deblurring and evaluation.

Public API (float32 RGB in [0, 1]; tensors are NCHW or CHW)::

    from facedeblur import blur, synthesize, SampleSettings
    kernel, record = blur.camera_shake_kernel(numpy_rng, output_size=128)
    blurred = blur.blur_image(sharp_chw, kernel)
    report = synthesize("faces/", "out/", SampleSettings(size=128), count=200, seed=3)
"""

from . import blur
from .blur import KernelBlurSettings, SampleSettings, SynthReport, synthesize
from .errors import FaceDeblurError, InputError, NoFaceError, UsageError
from .inference import Deblurrer, load_model
from .io import read_image, write_image

__version__ = "0.1.0"

__all__ = [
    "Deblurrer", "FaceDeblurError", "InputError", "KernelBlurSettings", "NoFaceError", "SampleSettings", "SynthReport",
    "UsageError", "__version__", "blur", "load_model", "read_image", "synthesize", "write_image",
]
