"""facedeblur: motion-blurred faces, from realistic blur synthesis to deblurring and evaluation.

Public API (float32 RGB in [0, 1]; tensors are NCHW or CHW)::

    from facedeblur import blur, synthesize, SampleSettings
    kernel, record = blur.camera_shake_kernel(numpy_rng, output_size=128)
    blurred = blur.blur_image(sharp_chw, kernel)
    report = synthesize("faces/", "out/", SampleSettings(size=128), count=200, seed=3)
    restored = deblur(read_image("face.png"), "generator.safetensors")  # the whole image
    restored = deblur(read_image("photo.jpg"), "generator.safetensors", faces=True)  # each face
    result = restore_faces(photo, load_model("generator.safetensors"))  # faces + per-face records
    frames = moments(read_image("blurry_face.png"), n=7)  # 7 sharp moments (CFMD-GAN)
    # every face rebuilt, identity hidden
    hidden = obfuscate(read_image("photo.jpg"), attributes=["smiling", "young"])
    hidden = obfuscate(read_image("photo.jpg"), method="pixelate")  # or a classical obfuscation
    result = obfuscate_photo(photo, method="blur")  # + face masks, flipped attributes
    # identification rates, attacked
    report = privacy_audit("gallery/", "probes/", ["blur", "pixelate"], "audit/")
"""

from . import blur
from .blur import KernelBlurSettings, SampleSettings, SynthReport, synthesize
from .errors import FaceDeblurError, InputError, NoFaceError, UsageError
from .io import read_image, write_image
from .privacy import ObfuscationResult, obfuscate, obfuscate_photo, privacy_audit
from .restore import (
    Deblurrer,
    FaceRestoreResult,
    MomentRestorer,
    deblur,
    load_model,
    load_moments_model,
    moments,
    restore_faces,
)

__version__ = "0.1.0"

__all__ = [
    "Deblurrer",
    "FaceDeblurError",
    "MomentRestorer",
    "load_moments_model",
    "moments",
    "FaceRestoreResult",
    "InputError",
    "KernelBlurSettings",
    "NoFaceError",
    "SampleSettings",
    "SynthReport",
    "UsageError",
    "__version__",
    "blur",
    "deblur",
    "load_model",
    "read_image",
    "restore_faces",
    "synthesize",
    "write_image",
    "ObfuscationResult",
    "obfuscate",
    "obfuscate_photo",
    "privacy_audit",
]
