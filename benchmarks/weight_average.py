"""Average two single-image deblurrers of one architecture weight by weight.

    python benchmarks/weight_average.py default-v1 default 0.3 runs/soup/soup3.safetensors

writes ``0.3 * first + 0.7 * second`` (every floating-point tensor; the second file's header,
with the mix noted) as a weights file that ``facedeblur evaluate --method model:PATH`` and
``facedeblur deblur --model`` read. It makes sense for a model and its own fine-tune (default
version 2 was fine-tuned from version 1), whose weights lie in one basin; docs/training-log.md
has what the averages of versions 1 and 2 scored.
"""

from __future__ import annotations

import argparse

import torch

from facedeblur.models.weights import deblurrer_path, load_network, read_weights, save_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="weights file, or a shipped name (default, default-v1)")
    parser.add_argument("second", help="weights file of the same architecture and arguments")
    parser.add_argument("share", type=float, help="share of the first, in [0, 1]")
    parser.add_argument("out", help="the averaged weights file to write")
    args = parser.parse_args()
    if not 0.0 <= args.share <= 1.0:
        parser.error(f"share must lie in [0, 1], got {args.share}")
    first, second = deblurrer_path(args.first), deblurrer_path(args.second)
    head_a, tensors_a = read_weights(first)
    model, header = load_network(second, role="deblurrer")
    if (head_a["architecture"], head_a["args"]) != (header["architecture"], header["args"]):
        parser.error(f"{first} and {second} are different networks")
    state = model.state_dict()
    with torch.no_grad():
        for name, tensor in state.items():
            if tensor.is_floating_point():
                mixed = args.share * tensors_a[name].float() + (1 - args.share) * tensor.float()
                tensor.copy_(mixed.to(tensor.dtype))
    info = {k: v for k, v in header.items() if k not in ("architecture", "args")}
    info["weight_average"] = f"{args.share:g} x {first.name} + {1 - args.share:g} x {second.name}"
    save_weights(args.out, model, header["architecture"], header["args"], **info)
    print(f"wrote {args.out}: {info['weight_average']}")


if __name__ == "__main__":
    main()
