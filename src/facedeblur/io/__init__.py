"""The bottom layer: image and video files, contact sheets, and the geometric image helpers.

Everything outside this package sees float32 RGB images in [0, 1] (HWC numpy arrays or
CHW/NCHW tensors); uint8 and OpenCV's BGR order exist only here.
"""

from .images import (
    IMAGE_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    VIDEO_EXTENSIONS,
    ImageConversionWarning,
    ImageData,
    atomic_output,
    atomic_write_bytes,
    atomic_write_text,
    decode_image,
    decode_image_data,
    encode_png,
    image_to_tensor,
    is_image_file,
    is_video_file,
    list_images,
    read_image,
    read_image_data,
    save_array,
    tensor_to_image,
    to_float32,
    to_uint8,
    write_image,
)
from .video import playback_order, read_video_frames, video_info, write_gif, write_mp4

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "VIDEO_EXTENSIONS",
    "ImageConversionWarning",
    "ImageData",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "decode_image",
    "decode_image_data",
    "encode_png",
    "image_to_tensor",
    "is_image_file",
    "is_video_file",
    "list_images",
    "playback_order",
    "read_image",
    "read_image_data",
    "read_video_frames",
    "save_array",
    "tensor_to_image",
    "to_float32",
    "to_uint8",
    "video_info",
    "write_gif",
    "write_image",
    "write_mp4",
]
