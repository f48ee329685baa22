"""extract_features on torchvision's vit_b_16 (random weights) against a plain forward pass.

Hooks capture two encoder blocks' class tokens and the head's input; torch.fx captures a
graph node inside a block (the attention residual). Small batches, so it runs on a CPU.

Run: python benchmarks/bench_vit.py [--n 4 --batch 4 --repeat 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import paired_ratio, report  # noqa: E402

from geowidget.engine.batches import iter_batches  # noqa: E402
from geowidget.engine.features import extract_features  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.vit_b_16(weights=None, num_classes=10).eval()
    x = torch.randn(args.n, 3, 224, 224)

    def plain() -> None:
        with torch.no_grad():
            for xb, _ in iter_batches(x, args.batch, "cpu"):
                model(xb)

    blocks = ["encoder.layers.encoder_layer_5", "encoder.layers.encoder_layer_11"]
    hooks = [*blocks, "heads.head:input"]  # module names: forward hooks
    fx = ["encoder.layers.encoder_layer_5.add", "heads.head:input"]  # a graph node: torch.fx

    def run(layers: list[str]) -> None:
        extract_features(model, x, layers, tokens={layers[0]: "cls"} | (
            {blocks[1]: "mean"} if blocks[1] in layers else {}),
            batch_size=args.batch, progress=False, device="cpu")

    print(f"ViT benchmark: vit_b_16, N={args.n}, 224x224, batch {args.batch}, "
          f"{torch.get_num_threads()} threads; median of {args.repeat} interleaved pairs")
    r_hook, t_hook, t_plain = paired_ratio(lambda: run(hooks), plain, args.repeat)
    r_fx, t_fx, _ = paired_ratio(lambda: run(fx), plain, args.repeat)
    report("plain forward over the same batches (s, best)", t_plain)
    report("extract_features, 2 blocks (cls, mean) + head input (s)", t_hook)
    report("extract_features, a graph node (torch.fx) + head input (s)", t_fx)
    report("ratio hooks / plain forward", r_hook, "<= 1.15")
    report("ratio fx / plain forward", r_fx, "<= 1.15")

if __name__ == "__main__":
    main()
