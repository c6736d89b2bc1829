"""How long reuse_factor="auto" (with strategy="auto") takes: the search alone
(auto.choose_settings, every auto layer's candidates derived and priced) and the whole
conversion around it, on MobileNetV2-0.35 at 32x32 (random weights, seed 0, io_stream) and
on the shipped IKR LeNet-5, at ap_fixed<16,6> on the default part.

    python bench/auto_speed.py [--repeat 3] [--profile OUT.prof] [--lenet-only]

The search is timed on the graph as passes.finish hands it over (types and stream widths
chosen, no plan); `plan` is ikr_hls.hls_model.plan_model (frontend, passes, search, plan:
no rendering) and `convert` is ikr_hls.convert (the files rendered in memory, none written).
The best of --repeat runs of each is printed (wall clock; the search's CPU time too, as the
machine may be shared), with the candidates one search prices.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "examples" / "models" / "lenet5_ikr.h5"
PRECISION = "ap_fixed<16,6>"
OPTIONS = dict(precision=PRECISION, strategy="auto", reuse_factor="auto", io_type="io_stream")


def mobilenet():
    import keras

    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10)


def search_input(model):
    """(graph, config) as passes.finish gives them to auto.choose_settings."""
    from ikr_hls.config import make_config
    from ikr_hls.passes import plan_streams, settings_of
    from ikr_hls.pipeline import structural_graph
    from ikr_hls.precision_inference import assign_types

    config = make_config(**OPTIONS)
    graph, _ = structural_graph(model, config)
    config = settings_of(graph, config, warn=False)
    return plan_streams(assign_types(graph, config), config), config


def timed_search(model, profile: str | None = None) -> tuple:
    """(seconds, CPU seconds, candidates priced, chosen settings) of one search."""
    from ikr_hls import auto

    graph, config = search_input(model)
    counts = {"candidates": 0}
    evaluate = auto._evaluate

    def counting(*args, **kwargs):
        counts["candidates"] += 1
        return evaluate(*args, **kwargs)

    auto._evaluate = counting
    try:
        prof = cProfile.Profile() if profile else None
        start, cpu = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        auto.choose_settings(graph, config.part, config.fit_limit)
        if prof:
            prof.disable()
            prof.dump_stats(profile)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        auto._evaluate = evaluate
    chosen = {l.name: (l.settings.strategy, l.settings.reuse_factor) for l in graph.layers
              if l.settled.auto_reuse or l.settled.auto_strategy}
    return seconds, cpu, counts["candidates"], chosen


def best_of(repeat: int, run) -> float:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        out.append(time.perf_counter() - start)
    return min(out)


def main() -> None:
    import ikr_hls
    from ikr_hls.hls_model import plan_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of one MobileNetV2 search here")
    parser.add_argument("--lenet-only", action="store_true")
    args = parser.parse_args()
    models = [("LeNet-5 IKR", str(LENET))] + ([] if args.lenet_only else [("MobileNetV2-0.35 32x32", mobilenet())])
    print("| model | auto layers | candidates priced | search (s) | search CPU (s) | plan (s) | convert (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, model in models:
        searches = [timed_search(model) for _ in range(args.repeat)]
        seconds, cpu = min(s[0] for s in searches), min(s[1] for s in searches)
        _, _, candidates, chosen = searches[0]
        plan = best_of(args.repeat, lambda m=model: plan_model(m, **OPTIONS))
        convert = best_of(args.repeat, lambda m=model: ikr_hls.convert(m, output_dir="unused", **OPTIONS))
        print(f"| {name} | {len(chosen)} | {candidates:,} | {seconds:.2f} | {cpu:.2f} | {plan:.1f} | {convert:.1f} |",
              flush=True)
    if args.profile and not args.lenet_only:
        timed_search(models[-1][1], args.profile)
        print(f"profile of one search: {args.profile}")


if __name__ == "__main__":
    main()
