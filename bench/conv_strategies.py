"""The three conv strategies side by side (issue 16): what the hardware model of each one's
generated code costs, per conv layer, at several reuse factors.

    python bench/conv_strategies.py [--reuse 1 2 4 8] [--write docs/BENCHMARKS.md]

Layers: the two convs of the shipped IKR LeNet-5 (examples/models/lenet5_ikr.h5) and a
CIFAR-size conv (32x32x32 -> 32 channels, 3x3, padding same, IKR keep 4 of 9 with a library
of 8 patterns, random weights), all in ap_fixed<16,6>, io_stream. Every figure is the
report's (ikr_hls/hardware.py and the kinds' cost, checked against the generated code by
tests/test_hardware.py); LUT/FF/DSP/BRAM are its resource estimates from open-source
synthesis of the PE (ikr_hls/fpga_estimate.py), products on DSPs. No C++ is compiled.
"""
import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ikr_hls  # noqa: E402
from ikr_hls.config import STRATEGIES  # noqa: E402
from ikr_hls.modelfile import load_keras_model  # noqa: E402
from ikr_hls.pruning import prune_once  # noqa: E402

SECTION = "## Conv strategies (issue 16)"
PRECISION = "ap_fixed<16,6>"


def cifar_conv(seed: int = 0) -> keras.Model:
    """One 3x3 conv, 32 -> 32 channels on a 32x32 image, IKR-pruned to keep 4 of a library of 8."""
    model = keras.Sequential([keras.Input((32, 32, 32)), keras.layers.Conv2D(32, 3, padding="same", name="conv")])
    rng = np.random.default_rng(seed)
    conv = model.layers[0]
    conv.kernel.assign(rng.normal(0, 0.2, conv.kernel.shape).astype(np.float32))
    conv.bias.assign(rng.normal(0, 0.1, conv.bias.shape).astype(np.float32))
    prune_once(model, keep=4, library_size=8)
    return model


def rows(model, label: str, reuses: list) -> list:
    out = []
    for reuse in reuses:
        for strategy in STRATEGIES:
            hls = ikr_hls.convert(model, output_dir=tempfile.mkdtemp(), precision=PRECISION, strategy=strategy,
                                  reuse_factor=reuse, io_type="io_stream")
            for layer in hls.report()["layers"]:
                if layer["kind"] != "conv2d":
                    continue
                estimate = layer["resources_estimate"]          # the products where the code binds them
                muxes = sum(m["count"] * m["width"] * (m["ways"] - 1) for m in layer["muxes"])
                out.append([f"{label}/{layer['name']}", str(reuse), strategy, f"{layer['multipliers']:,}",
                            f"{layer['ii']}x{layer['iterations']:,}", f"{layer['rom_bits']:,}", f"{muxes:,}",
                            f"{estimate['lut']:,}", f"{estimate['ff']:,}", f"{estimate['dsp']:,}",
                            f"{estimate['bram_18k']:,}"])
    return out


def table(body: list) -> str:
    head = ["layer", "R", "strategy", "multipliers", "II x steps", "ROM bits", "mux bit-inputs",
            "LUT est.", "FF est.", "DSP est.", "BRAM_18K est."]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reuse", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--write", metavar="MD", help=f"write the section '{SECTION}' into this Markdown file")
    args = p.parse_args(argv)
    lenet = load_keras_model(ROOT / "examples" / "models" / "lenet5_ikr.h5")
    body = rows(lenet, "lenet5_ikr", args.reuse) + rows(cifar_conv(), "cifar", args.reuse)
    command = "python bench/conv_strategies.py" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    text = "\n".join([
        SECTION, "",
        f"`{command}` (no compilation: the report of each generated project, {PRECISION}, io_stream).",
        "Per conv layer and reuse factor R: multipliers, the pipelined loop, ROM bits, the operand",
        "choices (sum over multiplexers of width x (ways - 1) bit-inputs), and the report's resource",
        "estimates with products on DSPs (open-source synthesis of the PE, not Vitis).", "",
        table(body), ""])
    print(text)
    if args.write:
        sys.path.insert(0, str(ROOT / "bench"))
        from compression import write_section  # the benchmarks' section writer
        write_section(Path(args.write), text, SECTION)
        print(f"wrote {SECTION!r} into {args.write}")


if __name__ == "__main__":
    main()
