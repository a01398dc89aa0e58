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

Images may be given as a path, a PIL image, a numpy array or a tensor; ``deblur``,
``Deblurrer.deblur``, ``restore_faces``, ``moments`` and ``obfuscate`` give results back as the
same kind (``io.kinds``). Importing the package sets torch's CPU threads to
``default_threads()``; ``set_threads(n)`` changes it for the process.
"""

from . import blur
from .blur import KernelBlurSettings, SampleSettings, SynthReport, synthesize
from .errors import FaceDeblurError, InputError, NoFaceError, UsageError
from .io import read_image, write_image
from .models.runtime import default_threads, resolve_device, set_threads
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

# torch's one thread per core collapses on a busy machine (benchmarks/threads.py); this is the
# one place facedeblur's default is applied. OMP_NUM_THREADS or MKL_NUM_THREADS wins over it.
set_threads()

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
    "default_threads",
    "load_model",
    "read_image",
    "resolve_device",
    "restore_faces",
    "set_threads",
    "synthesize",
    "write_image",
    "ObfuscationResult",
    "obfuscate",
    "obfuscate_photo",
    "privacy_audit",
]
